// Comparison target (`npm run bench -- --server handlers`): the API handlers served from
// node:http exactly as the production server (server.mts) serves them — same serveApi, same
// database setup (DATA_DIR / DATABASE_URL from the environment) — but with no Next in the
// process at all. Usage: node --import tsx bench/lib/handlers-server.mts <port>
import { createServer } from "node:http";
import { handlers } from "../../src/server/http/app";
import { serveApi } from "../../src/server/http/node";
import { openAtStartup } from "../../src/server/startup";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error("usage: node --import tsx bench/lib/handlers-server.mts <port>");
  process.exit(2);
}

await openAtStartup();
const server = createServer((req, res) => serveApi(handlers, req, res));
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => console.log(`READY ${port}`));
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
