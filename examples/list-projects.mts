// Lists every project with its agents, through the typed tRPC client.
//   npx tsx examples/list-projects.mts http://127.0.0.1:3000
import { createMailroomClient } from "../src/client/index";

const url = process.argv[2] ?? "http://127.0.0.1:3000";
const client = createMailroomClient({ url });
const projects = await client.projects.overview.query();
console.log(JSON.stringify(projects, null, 2));
