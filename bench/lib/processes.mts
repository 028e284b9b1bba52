import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { PORT_MAX, PORT_MIN, type ServerKind } from "./options.mjs";

// The processes a benchmark run owns: the built app (`next start`) and the bare node:http
// baseline. Each runs in its own process group so that stopping it reaches anything it forked.

export const repoRoot = path.resolve(import.meta.dirname, "..", "..");
const nextBin = path.join(repoRoot, "node_modules", "next", "dist", "bin", "next");
const OUTPUT_LIMIT = 256 * 1024;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/** A port in 3300-3399 nothing listens on (and not already handed out by this process). */
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

export async function claimPort(port: number): Promise<number> {
  if (!(await portIsFree(port))) throw new Error(`Port ${port} is already in use.`);
  handedOut.add(port);
  return port;
}

export interface OwnedProcess {
  name: string;
  url: string;
  pid: number;
  /** The last OUTPUT_LIMIT characters the process wrote (stdout and stderr). */
  output(): string;
  hasExited(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to its process group; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

function own(name: string, url: string, child: ChildProcess): OwnedProcess {
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
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
    name,
    url,
    pid: child.pid!,
    output: () => output,
    hasExited: () => done,
    exited,
    async stop(graceMs = 15_000) {
      if (!done) signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      signalGroup("SIGKILL"); // anything it left behind in its group
    },
  };
}

export function buildId(): string {
  const file = path.join(repoRoot, ".next", "BUILD_ID");
  if (!existsSync(file)) {
    throw new Error(
      "There is no production build (.next/BUILD_ID is missing). Run `NEXT_TELEMETRY_DISABLED=1 npx next build` first, " +
        "or pass --url to benchmark a server that is already running.",
    );
  }
  return readFileSync(file, "utf8").trim();
}

export interface AppOptions {
  /** production: server.mts as `npm start` runs it; next: `next start`; handlers: bench/lib/handlers-server.mts (no Next). */
  kind: ServerKind;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  /** Directory for `node --cpu-prof` output; undefined: no profile. */
  cpuProfDir?: string;
}

const SERVER_NAMES: Record<ServerKind, string> = {
  production: "production server (server.mts)",
  next: "next start",
  handlers: "handlers server (no Next)",
};

/**
 * The app, from the repo root with a clean environment: the production server as `npm start`
 * runs it (`node --import tsx server.mts`), `node node_modules/next/dist/bin/next start`, or the
 * API handlers alone on node:http.
 */
export function startApp(options: AppOptions): OwnedProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A caller's shell may carry Mailroom settings (or NODE_OPTIONS): none may leak in.
  for (const key of [
    "NODE_ENV", "NODE_OPTIONS", "DATABASE_URL", "DATA_DIR", "PORT", "HOSTNAME", "MCP_TOOLS_PROFILE",
    "AGENT_NAME_ENFORCEMENT_MODE", "MAILROOM_MIGRATE_ON_START", "DB_POOL_MAX", "LOG_LEVEL", "APP_ENVIRONMENT",
  ]) {
    delete env[key];
  }
  for (const key of Object.keys(env)) if (key.startsWith("BENCH_")) delete env[key];
  Object.assign(env, { NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", DATA_DIR: options.dataDir });
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  const nodeFlags = options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const command = {
    production: ["--import", "tsx", path.join(repoRoot, "server.mts")],
    next: [nextBin, "start", "-p", String(options.port), "-H", "127.0.0.1"],
    handlers: ["--import", "tsx", path.join(import.meta.dirname, "handlers-server.mts"), String(options.port)],
  }[options.kind];
  if (options.kind === "production") Object.assign(env, { PORT: String(options.port), HOSTNAME: "127.0.0.1" });
  const child = spawn(process.execPath, [...nodeFlags, ...command], {
    cwd: repoRoot,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return own(SERVER_NAMES[options.kind], `http://127.0.0.1:${options.port}`, child);
}

/** Polls GET /api/ready until 200; fails at once if the process exits. */
export async function waitUntilReady(app: OwnedProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (app.hasExited()) {
      const { code, signal } = await app.exited;
      throw new Error(`${app.name} exited (code ${code}, signal ${signal}) before it was ready.\n--- app output ---\n${app.output()}`);
    }
    try {
      const response = await fetch(`${app.url}/api/ready`, { signal: AbortSignal.timeout(5_000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}: ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`The app was not ready after ${timeoutMs / 1000} s (last: ${last}).\n--- app output ---\n${app.output()}`);
}

/** The bare node:http baseline in a child process of its own; resolves once it listens. */
export async function startBareServer(port: number): Promise<OwnedProcess> {
  const script = path.join(import.meta.dirname, "bare-server.mjs");
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [script, String(port)], { cwd: repoRoot, env, detached: true, stdio: ["ignore", "pipe", "pipe", "ipc"] });
  const owned = own("bare", `http://127.0.0.1:${port}`, child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The bare server did not start within 10 s:\n${owned.output()}`)), 10_000);
    const check = () => {
      if (owned.output().includes(`READY ${port}`)) {
        clearTimeout(timer);
        child.stdout?.off("data", check);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    owned.exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`The bare server exited (code ${code}):\n${owned.output()}`));
    });
  });
  return owned;
}

// CPU accounting from /proc (Linux): where the machine's two cores went during a measurement.

const CLOCK_TICKS = 100; // USER_HZ, 100 on every Linux this runs on

function descendants(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i += 1) {
    const tasks = (() => {
      try {
        return readdirSync(`/proc/${found[i]}/task`);
      } catch {
        return [];
      }
    })();
    for (const task of tasks) {
      try {
        const children = readFileSync(`/proc/${found[i]}/task/${task}/children`, "utf8").trim();
        if (children) found.push(...children.split(/\s+/).map(Number));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return found;
}

/** CPU seconds (user + system) used so far by a process and its descendants; 0 if unknown. */
export function processTreeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const member of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${member}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      // gone, or not Linux
    }
  }
  return ticks / CLOCK_TICKS;
}

/** CPU seconds the whole machine spent busy (all cores, everything but idle and iowait). */
export function machineBusyCpuSeconds(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return (total - idle) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/**
 * Waits (up to maxSeconds) until the processes that are not ours use less than a quarter of a
 * core, measured over one second; returns the seconds waited and the last share seen.
 */
export async function waitForQuiet(maxSeconds: number, ownPids: number[]): Promise<{ waited: number; otherPercent: number }> {
  const start = Date.now();
  let otherPercent = NaN;
  do {
    const ours = () => ownPids.reduce((sum, pid) => sum + processTreeCpuSeconds(pid), 0) + process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
    const machineBefore = machineBusyCpuSeconds();
    const oursBefore = ours();
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    otherPercent = Math.max(0, ((machineBusyCpuSeconds() - machineBefore - (ours() - oursBefore)) / wall) * 100);
    if (otherPercent < 25) break;
  } while ((Date.now() - start) / 1000 < maxSeconds);
  return { waited: Math.round((Date.now() - start) / 100) / 10, otherPercent: Math.round(otherPercent) };
}

/** The process listening on 127.0.0.1:<port> (Linux /proc), so --url targets get CPU figures too. */
export function pidListeningOn(port: number): number | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let lines: string[];
    try {
      lines = readFileSync(table, "utf8").split("\n").slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is field 9.
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A" && fields[9]) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match && inodes.has(match[1]!)) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
