// The server's start and stop (src/server/startup.ts) without Next, for tests/e2e/archive-startup.test.ts:
// openAtStartup() starts the archive worker as `npm start` does, closeAtShutdown() stops it as
// SIGTERM does. Configured by the environment like the server (DATA_DIR, DATABASE_URL, ARCHIVE_*).
//
//   CHILD_MODE=seed   register two agents in CHILD_PROJECT and send CHILD_COUNT messages (run
//                     with ARCHIVE_ENABLED=false, this leaves a backlog for the next run)
//   CHILD_MODE=first  shut down as soon as the worker has made its first commit: in the middle of
//                     the backlog, with the next batch under way
//   CHILD_MODE=drain  wait until the writer holds the lock and the backlog is written, then shut down
//   CHILD_MODE=status report and shut down at once
//
// Prints one JSON line: {"ready": <GET /api/ready body>, "health": <health_check result>}.
import { LOCAL_OPERATOR } from "../../../src/server/auth/actor";
import { getDatabase } from "../../../src/server/db/client";
import { handlers } from "../../../src/server/http/app";
import { invoke } from "../../../src/server/operations/invoke";
import { sendMessageInput } from "../../../src/server/schemas/messages";
import { registerAgent } from "../../../src/server/services/agents/register";
import { configFromEnv } from "../../../src/server/services/context";
import { sendMessage } from "../../../src/server/services/messages/send";
import { ensureProject } from "../../../src/server/services/projects/projects";
import { healthCheck } from "../../../src/server/services/system/health";
import { closeAtShutdown, openAtStartup } from "../../../src/server/startup";

const env = process.env;
if (!(await openAtStartup())) process.exit(1);
const database = await getDatabase();
const ctx = { db: database.prisma, actor: LOCAL_OPERATOR, config: configFromEnv() };
const ready = async () => (await handlers.ready()).json() as Promise<{ archive: { pending_events: number; commits: number; role: string } }>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (env.CHILD_MODE === "seed") {
  const project = env.CHILD_PROJECT!;
  await invoke(ensureProject, ctx, { human_key: project });
  const register = (name: string) =>
    invoke(registerAgent, ctx, { project_key: project, program: "startup-test", model: "test", name, task_description: "", attachments_policy: "auto" });
  const sender = await register("GreenLake");
  await register("BlueDog");
  for (let index = 0; index < Number(env.CHILD_COUNT); index += 1) {
    await invoke(
      sendMessage,
      ctx,
      sendMessageInput.parse({ project_key: project, sender_name: "GreenLake", sender_token: sender.registration_token, to: ["BlueDog"], subject: `S${index}`, body_md: `startup ${index}`, thread_id: "STARTUP" }),
    );
  }
} else if (env.CHILD_MODE === "first") {
  while ((await ready()).archive.commits === 0) await sleep(5);
  // A full first batch is followed at once by the next one: let it begin, so the stop finds it under way.
  await sleep(20);
} else if (env.CHILD_MODE === "drain") {
  // The writer (a thread of its own on Postgres) may not hold the lock yet when the server is up.
  for (let report = await ready(); report.archive.pending_events > 0 || report.archive.role !== "writer"; report = await ready()) await sleep(50);
}
const report = { ready: await ready(), health: await invoke(healthCheck, ctx, {}) };
await closeAtShutdown();
console.log(JSON.stringify(report));
process.exit(0);
