import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { repoRoot, type OwnedProcess } from "../lib/processes.mjs";

// Shared plumbing of the mail benchmarks (bench/mail/*.mts): ports 3500-3599, cleanup on every
// exit path, a hard deadline, machine facts, percentiles and the JSON result file.

export const MAIL_PORT_MIN = 3500;
export const MAIL_PORT_MAX = 3599;
export const DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export function log(tag: string, message: string): void {
  console.log(`[${tag}] ${message}`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** The given port (checked free) or a free one in 3500-3599. */
export async function mailPort(requested?: number): Promise<number> {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < MAIL_PORT_MIN || requested > MAIL_PORT_MAX) {
      throw new Error(`--port must be in ${MAIL_PORT_MIN}-${MAIL_PORT_MAX}.`);
    }
    if (!(await portIsFree(requested))) throw new Error(`Port ${requested} is already in use.`);
    return requested;
  }
  const span = MAIL_PORT_MAX - MAIL_PORT_MIN + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i += 1) {
    const port = MAIL_PORT_MIN + ((start + i) % span);
    if (await portIsFree(port)) return port;
  }
  throw new Error(`No free port between ${MAIL_PORT_MIN} and ${MAIL_PORT_MAX}.`);
}

/** A Postgres server URL on 127.0.0.1 only: the benchmarks never touch another machine. */
export function loopbackPostgresUrl(raw: string, what = "--database-url"): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new Error(`${what} is not a URL: '${raw}'.`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") throw new Error(`${what} must be a postgres:// URL.`);
  if (parsed.hostname !== "127.0.0.1") throw new Error(`${what} must point at 127.0.0.1 (got '${parsed.hostname}').`);
  return raw;
}

export function numberOption(name: string, raw: string | undefined, fallback: number, { integer = false, min = 1 } = {}): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}; got '${raw}'.`);
  }
  return value;
}

// Cleanup, in reverse order of setup, whether the script ends normally, fails or is interrupted.

const cleanups: { name: string; run: () => Promise<void> | void }[] = [];
let cleaningUp: Promise<void> | undefined;

export function onCleanup(name: string, run: () => Promise<void> | void): void {
  cleanups.push({ name, run });
}

export function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const { name, run } of cleanups.reverse()) {
      try {
        await run();
      } catch (error) {
        console.error(`[cleanup] '${name}' failed: ${(error as Error).message}`);
      }
    }
  })();
  return cleaningUp;
}

/** Runs main with cleanup on success, failure, SIGINT/SIGTERM and a hard deadline. */
export async function runMain(tag: string, deadlineSeconds: () => number, main: () => Promise<void>): Promise<void> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      console.error(`\n[${tag}] ${signal}: stopping…`);
      void cleanup().then(() => process.exit(130));
    });
  }
  const timer = setInterval(() => {
    const limit = deadlineSeconds();
    if (process.uptime() > limit) {
      console.error(`[${tag}] still running after ${Math.round(limit / 60)} min: giving up.`);
      clearInterval(timer);
      void cleanup().then(() => process.exit(1));
    }
  }, 5_000);
  timer.unref();
  try {
    await main();
    await cleanup();
  } catch (error) {
    console.error(`[${tag}] failed: ${(error as Error).stack ?? error}`);
    await cleanup();
    process.exit(1);
  }
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  ramGiB: number;
  node: string;
  platform: string;
  loadAverageAtStart: number[];
  gitCommit: string;
  gitDirty: boolean;
}

export function machineInfo(): MachineInfo {
  const cpuModel = (() => {
    try {
      return /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? os.cpus()[0]?.model ?? "?";
    } catch {
      return os.cpus()[0]?.model ?? "?";
    }
  })();
  const git = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return "?";
    }
  };
  return {
    cores: os.availableParallelism(),
    cpuModel,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((value) => Math.round(value * 100) / 100),
    gitCommit: git(["rev-parse", "HEAD"]),
    gitDirty: git(["status", "--porcelain", "--untracked-files=no", "--", "src", "prisma"]) !== "",
  };
}

function postgresTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return ticks;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (comm !== "postgres") continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // gone meanwhile
    }
  }
  return ticks;
}

/**
 * CPU of every process named postgres (the server and all its backends, whoever they serve),
 * sampled every 200 ms so that backends ending during the measurement (pgbench's) still count.
 * stop() returns the CPU seconds used since start.
 */
export function postgresCpuMeter(): { stop(): number } {
  const first = postgresTicks();
  const last = new Map(first);
  const sample = () => {
    for (const [pid, ticks] of postgresTicks()) last.set(pid, ticks);
  };
  const timer = setInterval(sample, 200);
  return {
    stop() {
      clearInterval(timer);
      sample();
      let used = 0;
      for (const [pid, ticks] of last) used += ticks - (first.get(pid) ?? 0);
      return used / 100;
    },
  };
}

/** Nearest-rank percentiles of a list of milliseconds, rounded to 0.01 ms. */
export function percentiles(values: number[]): { n: number; p50: number; p95: number; p99: number; mean: number; min: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]! : NaN);
  const round = (value: number) => Math.round(value * 100) / 100;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    n: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    mean: round(sorted.length ? sum / sorted.length : NaN),
    min: round(sorted.length ? sorted[0]! : NaN),
    max: round(sorted.length ? sorted[sorted.length - 1]! : NaN),
  };
}

export function resultsFile(kind: string, startedAt: Date, explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  const dir = path.join(repoRoot, "bench", "results");
  mkdirSync(dir, { recursive: true });
  return path.join(dir, `${startedAt.toISOString().replace(/[:.]/g, "-")}-mail-${kind}.json`);
}

export function writeJson(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(data, null, 2) + "\n");
}

/**
 * The production server as `npm start` runs it (scripts/start.mjs → server.mts: node:http answers
 * the API with the app's handlers, Next the rest), on 127.0.0.1:<port>, in its own process group,
 * with a clean environment like bench/lib/processes.mts startApp.
 */
export function startProductionServer(options: {
  port: number;
  dataDir: string;
  databaseUrl?: string;
  cpuProfDir?: string;
  archive?: boolean;
  /** Further environment (JWT_SECRET for a token-mode run). */
  env?: Record<string, string>;
}): OwnedProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [
    "NODE_ENV", "NODE_OPTIONS", "DATABASE_URL", "DATA_DIR", "PORT", "HOSTNAME", "MCP_TOOLS_PROFILE",
    "AGENT_NAME_ENFORCEMENT_MODE", "MAILROOM_MIGRATE_ON_START", "DB_POOL_MAX", "LOG_LEVEL", "APP_ENVIRONMENT",
    "ARCHIVE_ENABLED", "ARCHIVE_DIR", "ARCHIVE_REMOTE", "JWT_SECRET", "JWT_JWKS_URL", "NEXTAUTH_SECRET", "REDIS_URL",
  ]) {
    delete env[key];
  }
  for (const key of Object.keys(env)) if (key.startsWith("BENCH_")) delete env[key];
  Object.assign(env, {
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    DATA_DIR: options.dataDir,
    PORT: String(options.port),
    HOSTNAME: "127.0.0.1",
  });
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  // The Git archive (its worker runs in the server) is on unless told otherwise, as in production.
  if (options.archive === false) env.ARCHIVE_ENABLED = "false";
  Object.assign(env, options.env);
  const flags = options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const child = spawn(process.execPath, [...flags, "--import", "tsx", path.join(repoRoot, "server.mts")], {
    cwd: repoRoot,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > 256 * 1024) output = output.slice(-256 * 1024);
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
      // already gone
    }
  };
  return {
    name: "server.mts (npm start)",
    url: `http://127.0.0.1:${options.port}`,
    pid: child.pid!,
    output: () => output,
    hasExited: () => done,
    exited,
    async stop(graceMs = 15_000) {
      if (!done) signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      signalGroup("SIGKILL");
    },
  };
}
