import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, type TestContext } from "vitest";

// Starts the BUILT app (the production server) for one test file, each on a fresh DATA_DIR and a fresh
// database, or points at an already-running server when E2E_BASE_URL is set.

export const repoRoot = path.resolve(import.meta.dirname, "..", "..", "..");

/** Ports this suite may use (others use 3000, 3100-3199 and 3300+). */
const PORT_MIN = 3200;
const PORT_MAX = 3299;
const READY_TIMEOUT_MS = 60_000;
const OUTPUT_LIMIT = 256 * 1024;

export function requireBuild(): void {
  if (!existsSync(path.join(repoRoot, ".next", "BUILD_ID"))) {
    throw new Error(
      "The e2e tests run against the production build, and there is none (.next/BUILD_ID is missing). " +
        "Run `npm run build` first (or set E2E_BASE_URL to test a server that is already running).",
    );
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/** A port in 3200-3299 that nothing listens on (and that this process has not handed out yet). */
export async function freePort(): Promise<number> {
  const span = PORT_MAX - PORT_MIN + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i += 1) {
    const port = PORT_MIN + ((start + i) % span);
    if (handedOut.has(port)) continue;
    if (await portIsFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`No free port between ${PORT_MIN} and ${PORT_MAX}.`);
}

export interface ServerProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** SIGTERM to the whole process group, SIGKILL if it is still there after 10 s. */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  dataDir: string;
  /** postgres:// URL; omitted means the embedded PGlite in dataDir. */
  databaseUrl?: string;
  port?: number;
  /**
   * What is run: `node --import tsx server.mts` (the default, as the Docker image runs it),
   * `node scripts/start.mjs`, `npm start` or `mailroom serve` (then `child` is npm or the command,
   * and the server runs below it).
   */
  launcher?: "server" | "start-script" | "npm-start" | "mailroom-serve";
  /** Extra settings for this server (applied last). */
  env?: Record<string, string>;
}

const LAUNCHERS: Record<NonNullable<SpawnOptions["launcher"]>, [string, string[]]> = {
  server: [process.execPath, ["--import", "tsx", path.join(repoRoot, "server.mts")]],
  "start-script": [process.execPath, [path.join(repoRoot, "scripts", "start.mjs")]],
  "npm-start": ["npm", ["start"]],
  "mailroom-serve": [process.execPath, [path.join(repoRoot, "bin", "mailroom.mjs"), "serve"]],
};

/** Runs the production server (server.mts, what `npm start` runs) in its own process group with a clean, explicit environment. */
export async function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Vitest sets NODE_ENV=test and a caller's shell may carry Mailroom settings: neither may leak in,
  // nor may `npm run test:e2e` make the server believe npm started it.
  for (const key of ["NODE_ENV", "DATABASE_URL", "DATA_DIR", "PORT", "HOSTNAME", "MCP_TOOLS_PROFILE", "AGENT_NAME_ENFORCEMENT_MODE", "npm_lifecycle_event", "npm_lifecycle_script"]) {
    delete env[key];
  }
  for (const key of Object.keys(env)) if (key.startsWith("VITEST") || key.startsWith("__VITEST")) delete env[key];
  Object.assign(env, { NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", DATA_DIR: options.dataDir, PORT: String(port), HOSTNAME: "127.0.0.1" });
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  Object.assign(env, options.env);

  const [command, args] = LAUNCHERS[options.launcher ?? "server"];
  const child = spawn(command, args, {
    cwd: repoRoot,
    env,
    detached: true, // its own process group, so kill() reaches any worker it forks
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    if (output.length < OUTPUT_LIMIT) output += chunk.toString("utf8");
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.once("error", (error) => {
      output += `\n[spawn error] ${error.message}\n`;
      done = true;
      resolve({ code: -1, signal: null });
    });
  });

  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is already gone
    }
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    exited,
    hasExited: () => done,
    async kill() {
      if (!done) signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      signalGroup("SIGKILL"); // anything the server left behind in its group
    },
  };
}

/** Polls GET /api/ready until it answers 200; fails early if the process exits. */
export async function waitUntilReady(server: ServerProcess, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (server.hasExited()) {
      const { code, signal } = await server.exited;
      throw new Error(`the server exited (code ${code}, signal ${signal}) before it was ready.\n--- server output ---\n${server.output()}`);
    }
    try {
      const response = await fetch(`${server.url}/api/ready`, { signal: AbortSignal.timeout(5_000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}: ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await server.kill();
  throw new Error(`the server was not ready after ${timeoutMs / 1000} s (last: ${last}).\n--- server output ---\n${server.output()}`);
}

/** A brand-new database on the server named by `serverUrl`; `drop` removes it again. */
export async function createDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `mailroom_e2e_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

export function makeDataDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "mailroom-e2e-"));
}

export interface App {
  /** Base URL, e.g. http://127.0.0.1:3217 */
  url: string;
  /** "external" when E2E_BASE_URL names the server, else the database the started server uses. */
  mode: "external" | "pglite" | "postgres";
  /** The started server (undefined for an external one). */
  server?: ServerProcess;
  dataDir?: string;
  stop(): Promise<void>;
}

/**
 * The app under test: E2E_BASE_URL when set; otherwise the production server on a free port with a fresh
 * temporary DATA_DIR and, when E2E_DATABASE_URL is set, a fresh database on that Postgres server
 * (PGlite in DATA_DIR otherwise), with `env` added to its environment. `stop` kills the server and
 * removes what it created.
 */
export async function startApp(env: Record<string, string> = {}): Promise<App> {
  const external = process.env.E2E_BASE_URL;
  if (external) return { url: external.replace(/\/+$/, ""), mode: "external", stop: async () => {} };

  requireBuild();
  const dataDir = makeDataDir();
  const serverUrl = process.env.E2E_DATABASE_URL;
  const database = serverUrl ? await createDatabase(serverUrl) : undefined;
  const cleanup = async (server?: ServerProcess) => {
    await server?.kill();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };

  // A port can be taken between probing it and next binding it: retry on EADDRINUSE.
  for (let attempt = 1; ; attempt += 1) {
    const server = await spawnServer({ dataDir, databaseUrl: database?.url, env });
    try {
      await waitUntilReady(server);
    } catch (error) {
      if (attempt < 3 && server.output().includes("EADDRINUSE")) continue;
      await cleanup(server); // the error's message carries the server's output
      throw error;
    }
    return {
      url: server.url,
      mode: database ? "postgres" : "pglite",
      server,
      dataDir,
      stop: () => cleanup(server),
    };
  }
}

/**
 * Registers an afterEach hook that prints the started server's output when a test failed, so an
 * INTERNAL_ERROR seen by a client comes with the server log that explains it.
 */
export function printServerLogOnFailure(getApp: () => App | undefined): void {
  afterEach((context: TestContext) => {
    const server = getApp()?.server;
    if (server && context.task.result?.state === "fail") {
      console.error(`--- output of the server on ${server.url} (test "${context.task.name}" failed) ---\n${server.output()}`);
    }
  });
}
