// Mailroom's production server. The API (MCP, tRPC, SSE, health) is answered by the app's own
// framework-free handlers straight from node:http; everything else (the dashboard, assets) goes
// to Next. Next's route handlers cost about a millisecond of CPU per request before our code
// runs, which capped /api/health and MCP throughput at ~1,000 req/s per core (docs/benchmarks.md).
// The same handlers stay mounted as Next route files, so `next dev` serves them too.
import { createServer } from "node:http";
import next from "next";
import { env } from "./src/env";
import { handlers } from "./src/server/http/app";
import { isApiPath, serveApi } from "./src/server/http/node";
import { openAtStartup } from "./src/server/startup";

await openAtStartup();
const app = next({ dev: false, dir: import.meta.dirname, hostname: env.HOSTNAME, port: env.PORT });
const handleNext = app.getRequestHandler();
await app.prepare();

const server = createServer((req, res) => {
  const pathname = (req.url ?? "/").split("?", 1)[0]!;
  if (isApiPath(pathname)) serveApi(handlers, req, res);
  else void handleNext(req, res);
});
server.keepAliveTimeout = 65_000;
server.listen(env.PORT, env.HOSTNAME, () => {
  console.log(`[mailroom] listening on http://${env.HOSTNAME}:${env.PORT} (MCP at /api/mcp)`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    process.exit(0);
  });
}
