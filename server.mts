// Mailroom's production server. The API (MCP, tRPC, SSE, health) is answered by the app's own
// framework-free handlers straight from node:http; everything else (the dashboard, assets) goes
// to Next. Next's route handlers cost about a millisecond of CPU per request before our code
// runs, which capped /api/health and MCP throughput at ~1,000 req/s per core (docs/benchmarks.md).
// The same handlers stay mounted as Next route files, so `next dev` serves them too.
//
// It binds its port first, so a port in use fails at once, before the database is touched;
// requests arriving while the database opens and Next prepares wait for them. SIGTERM and SIGINT
// stop it gracefully (scripts/start.mjs runs this module in its own process for `npm start`).
import { createServer, type RequestListener, type ServerResponse } from "node:http";
import next from "next";
import { env } from "./src/env";
import { authConfigFromEnv, bindRefusal, modeNotice } from "./src/server/auth/config";
import { getDatabase } from "./src/server/db/client";
import { createSetupLink } from "./src/server/services/users/accounts";
import { handlers } from "./src/server/http/app";
import { createRequestListener } from "./src/server/http/listener";
import { printHostGuardWarning } from "./src/server/http/origin";
import { closeAtShutdown, listenOrExit, openAtStartup } from "./src/server/startup";

/** Past this, a stop that is stuck (a hung database close, say) exits non-zero anyway. */
const STOP_LIMIT_MS = 10_000;
/** How long requests under way when a stop begins may take to finish before their connections are cut. */
const REQUEST_GRACE_MS = 3_000;

let serve: RequestListener | undefined;
let startedWith: (listener: RequestListener) => void = () => {};
const started = new Promise<RequestListener>((resolve) => (startedWith = resolve));
// Event streams never finish by themselves: a stop ends them at once (EventSource reconnects).
const eventStreams = new Set<ServerResponse>();
let stopping = false;
let app: ReturnType<typeof next> | undefined;

const server = createServer((req, res) => {
  if ((req.url ?? "").split("?", 1)[0] === "/api/events") {
    eventStreams.add(res);
    res.once("close", () => eventStreams.delete(res));
  }
  // A keep-alive connection whose request ends during a stop would otherwise stay open until it times out.
  res.once("close", () => {
    if (stopping) server.closeIdleConnections();
  });
  if (serve) serve(req, res);
  else {
    void started.then((listener) => {
      // A client that gave up waiting is not answered: an event stream opened for it would never be closed.
      if (!res.destroyed) listener(req, res);
    });
  }
});
server.keepAliveTimeout = 65_000;

/** Stops accepting connections and resolves once the open ones are gone. */
function closeConnections(): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), REQUEST_GRACE_MS);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
    for (const stream of eventStreams) stream.destroy();
  });
}

async function stop(reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`[mailroom] ${reason}: stopping`);
  setTimeout(() => {
    console.error(`[mailroom] still stopping after ${STOP_LIMIT_MS / 1000} s: exiting anyway`);
    process.exit(1);
  }, STOP_LIMIT_MS);
  await closeConnections();
  try {
    await app?.close();
    await handlers.close();
    await closeAtShutdown();
    console.log("[mailroom] stopped");
  } catch (error) {
    console.error("[mailroom] could not stop cleanly:", error);
    code = 1;
  }
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void stop(signal, 0));

/** On a server that requires sign-ins and has no user yet: the one-time link that creates the first admin. */
async function printSetupLink(): Promise<void> {
  const token = await createSetupLink((await getDatabase()).prisma);
  if (!token) return;
  const base = env.PUBLIC_URL?.replace(/\/$/, "") ?? `http://${env.HOSTNAME.includes(":") ? `[${env.HOSTNAME}]` : env.HOSTNAME}:${env.PORT}`;
  console.log(`[mailroom] no dashboard user yet: create the first admin at ${base}/setup#${token} (works once, for 24 h), or run \`mailroom user create --role admin\``);
}

async function start(): Promise<void> {
  const auth = authConfigFromEnv();
  const refusal = bindRefusal(auth, env.HOSTNAME);
  if (refusal) {
    console.error(`[mailroom] ${refusal}`);
    process.exit(1);
  }
  console.log(`[mailroom] ${modeNotice(auth)}`);
  await listenOrExit(server, env.PORT, env.HOSTNAME);
  if (stopping) return;
  if (!(await openAtStartup())) return stop("startup failed", 1);
  if (stopping) return;
  if (auth.mode === "tokens") await printSetupLink();
  app = next({ dev: false, dir: import.meta.dirname, hostname: env.HOSTNAME, port: env.PORT });
  await app.prepare();
  if (stopping) return;
  serve = createRequestListener(handlers, app.getRequestHandler());
  startedWith(serve);
  printHostGuardWarning();
  console.log(`[mailroom] listening on http://${env.HOSTNAME}:${env.PORT} (MCP at /api/mcp)`);
}

start().catch((error: unknown) => {
  console.error("[mailroom] cannot start:", error);
  return stop("startup failed", 1);
});
