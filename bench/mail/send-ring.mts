// Mail benchmark A: MCP send_message in a ring of agents over HTTP (the production server,
// server.mts as `npm start` runs it, or `next start`, on a fresh Postgres database), next to
// pgbench running the app's own write statement on the same database (the machine's limit for
// those writes). Prints median successful req/s, p50/p99, pgbench tps
// and the ratio app ÷ pgbench; writes a JSON result to bench/results/.
//
//   npx tsx bench/mail/send-ring.mts [--database-url postgres://postgres@127.0.0.1:5432/postgres]
//        [--duration 10] [--runs 3] [--connections 50] [--agents 100] [--keep]   (--help for all)
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { SignJWT } from "jose";
import { checkMcp, runLoad, type LoadResult } from "../lib/load.mjs";
import { createBenchDatabase, redact } from "../lib/postgres.mjs";
import {
  buildId,
  machineBusyCpuSeconds,
  processTreeCpuSeconds,
  repoRoot,
  startApp,
  waitForQuiet,
  waitUntilReady,
  type OwnedProcess,
} from "../lib/processes.mjs";
import { formatInt, formatMs, median, table } from "../lib/report.mjs";
import {
  DEFAULT_SERVER_URL,
  log as logWith,
  loopbackPostgresUrl,
  machineInfo,
  mailPort,
  numberOption,
  onCleanup,
  percentiles,
  postgresCpuMeter,
  resultsFile,
  runMain,
  startProductionServer,
  writeJson,
} from "./common.mjs";

const TAG = "send-ring";
const log = (message: string) => logWith(TAG, message);
const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const PROJECT_KEY = "/bench/mail/ring";
const AIM = { reqPerSec: 1500, p99Ms: 50, ratio: 0.4 };
const SERVER_LABEL = {
  production: "MCP, server.mts (npm start)",
  next: "MCP, next start",
  handlers: "MCP, handlers on node:http",
  inprocess: "tool handler in-process",
} as const;

const USAGE = `Usage: npx tsx bench/mail/send-ring.mts [options]

  --database-url <url>   Postgres server (127.0.0.1 only) to create a fresh database on
                         (env BENCH_DATABASE_URL, default ${DEFAULT_SERVER_URL})
  --duration <s>         seconds per measured run, app and pgbench alike (default 10)
  --warmup <s>           warm-up seconds of send_message before the first run (default 3)
  --runs <n>             measured runs (each: app, then pgbench); medians are reported (default 3)
  --connections <n>      HTTP connections and pgbench clients (default 50)
  --agents <n>           ring size (default 100)
  --pgbench-protocol <p> pgbench -M: simple | extended | prepared (default prepared)
  --port <n>             port of the app, 3500-3599 (default: a free one)
  --server <kind>        production (default: server.mts as \`npm start\` runs it — node:http answers the
                         API with the app's handlers, Next the rest); next (\`next start\`, the API through
                         Next's route handlers); handlers (bench/lib/handlers-server.mts, the handlers
                         alone on node:http); inprocess (the tool handlers called in this process, no
                         HTTP/MCP: what services + Prisma + pg cost)
  --quiet-wait <s>       before each measurement wait up to <s> s for other processes to go quiet (default 30)
  --archive <on|off>     the Git archive worker in the server (default on, as in production); when on, after each
                         app run the benchmark waits for the archive to catch up and reports the lag curve,
                         commits and events per commit
  --auth <local|tokens>  local (default: no secret, as \`npm start\`) or tokens: the server gets JWT_SECRET, setup
                         runs with an admin token, and each send carries its sender's bound bearer_token (from
                         register_agent) instead of sender_token: what authentication and rate limits cost
  --without-notify       diagnostic: each run also runs pgbench on the same statement without its
                         pg_notify (what the in-transaction NOTIFY costs: it serialises commits)
  --cpu-prof             write a V8 CPU profile of the app to bench/results/profiles/
  --keep                 keep the database afterwards (its URL is printed)
  --json <file>          JSON result path (default bench/results/<date>-mail-send-ring.json)
  -h, --help             this text

Needs a production build (.next/BUILD_ID): NEXT_TELEMETRY_DISABLED=1 npx next build`;

interface Options {
  serverUrl: string;
  duration: number;
  warmup: number;
  runs: number;
  connections: number;
  agents: number;
  protocol: "simple" | "extended" | "prepared";
  server: "production" | "next" | "handlers" | "inprocess";
  port?: number;
  quietWait: number;
  archive: boolean;
  auth: "local" | "tokens";
  cpuProf: boolean;
  withoutNotify: boolean;
  keep: boolean;
  json?: string;
}

function parseOptions(argv: string[]): Options | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      "database-url": { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      runs: { type: "string" },
      connections: { type: "string" },
      agents: { type: "string" },
      "pgbench-protocol": { type: "string" },
      port: { type: "string" },
      server: { type: "string" },
      "quiet-wait": { type: "string" },
      archive: { type: "string" },
      auth: { type: "string" },
      "cpu-prof": { type: "boolean" },
      "without-notify": { type: "boolean" },
      keep: { type: "boolean" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const protocol = values["pgbench-protocol"] ?? "prepared";
  if (protocol !== "simple" && protocol !== "extended" && protocol !== "prepared") throw new Error("--pgbench-protocol must be simple, extended or prepared.");
  const server = values.server ?? "production";
  if (server !== "production" && server !== "next" && server !== "handlers" && server !== "inprocess") {
    throw new Error("--server must be production, next, handlers or inprocess.");
  }
  const auth = values.auth ?? "local";
  if (auth !== "local" && auth !== "tokens") throw new Error("--auth must be local or tokens.");
  const archive = values.archive ?? "on";
  if (archive !== "on" && archive !== "off") throw new Error("--archive must be on or off.");
  if (auth === "tokens" && server !== "production") throw new Error("--auth tokens needs --server production.");
  const agents = numberOption("agents", values.agents, 100, { integer: true, min: 2 });
  if (agents > 1000) throw new Error("--agents must be ≤ 1000.");
  return {
    serverUrl: loopbackPostgresUrl(values["database-url"] ?? process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL),
    duration: numberOption("duration", values.duration, 10),
    warmup: numberOption("warmup", values.warmup, 3, { min: 0 }),
    runs: numberOption("runs", values.runs, 3, { integer: true }),
    connections: numberOption("connections", values.connections, 50, { integer: true }),
    agents,
    protocol,
    server,
    port: values.port === undefined ? undefined : numberOption("port", values.port, 0, { integer: true }),
    quietWait: numberOption("quiet-wait", values["quiet-wait"], 30, { min: 0 }),
    archive: archive === "on",
    auth,
    cpuProf: values["cpu-prof"] ?? false,
    withoutNotify: values["without-notify"] ?? false,
    keep: values.keep ?? false,
    json: values.json,
  };
}

/** --auth tokens: the server's secret (a benchmark's own, never a deployment's). */
const BENCH_JWT_SECRET = "mailroom-benchmark-secret-not-for-deployments";

async function mcpCall(url: string, name: string, args: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/api/mcp`, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = await response.text();
  const failure = checkMcp(response.status, body);
  if (failure) throw new Error(`${name} failed (${failure}): ${body.slice(0, 500)}`);
  return (JSON.parse(body) as { result: { structuredContent: Record<string, unknown> } }).result.structuredContent;
}

const ringName = (k: number) => `ring-${String(k).padStart(3, "0")}`;

interface Ring {
  projectId: number;
  /** `bearer`: the agent's bound token (register_agent's bearer_token, token mode only). */
  agents: { name: string; id: number; token: string; bearer?: string }[];
}

/** A tool call: over MCP (HTTP), or straight into the tool's handler (--server inprocess). */
type ToolCall = (name: string, args: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** ensure_project, then register_agent ring-000… one by one (so their ids are consecutive), each approved to write to the next. */
async function setUpRing(call: ToolCall, size: number): Promise<Ring> {
  const project = await call("ensure_project", { human_key: PROJECT_KEY });
  const agents: Ring["agents"] = [];
  for (let k = 0; k < size; k += 1) {
    const registered = await call("register_agent", { project_key: PROJECT_KEY, name: ringName(k), program: "bench", model: "bench" });
    const token = registered.registration_token;
    if (typeof token !== "string" || registered.name !== ringName(k)) {
      throw new Error(`register_agent ${ringName(k)} returned ${JSON.stringify(registered).slice(0, 300)}`);
    }
    const bearer = typeof registered.bearer_token === "string" ? registered.bearer_token : undefined;
    agents.push({ name: ringName(k), id: Number(registered.id), token, bearer });
  }
  agents.forEach((agent, k) => {
    if (agent.id !== agents[0]!.id + k) throw new Error(`ring agents do not have consecutive ids (${agents.map((a) => a.id).join(",")}); pgbench needs them.`);
  });
  // Under the default contact policy (auto) a first message needs an approved link: approve each
  // hop once, so every measured send takes the enforcement's common path (one query).
  for (const [k, agent] of agents.entries()) {
    const next = agents[(k + 1) % size]!;
    if (next === agent) continue;
    await call("request_contact", { project_key: PROJECT_KEY, from_agent: agent.name, to_agent: next.name, registration_token: agent.token });
    await call("respond_contact", { project_key: PROJECT_KEY, to_agent: next.name, from_agent: agent.name, accept: true, registration_token: next.token });
  }
  return { projectId: Number(project.id), agents };
}

/**
 * send_message arguments: call i is ring-(i mod n) → ring-(i+1 mod n), body ~40 bytes, with
 * sender_token, or in token mode with the sender's bound bearer token in the header instead.
 */
function sendArgs(ring: Ring, tag: string): () => { id: number; args: Record<string, unknown>; headers?: Record<string, string> } {
  let sequence = 0;
  const n = ring.agents.length;
  return () => {
    const i = sequence++;
    const sender = ring.agents[i % n]!;
    const recipient = ring.agents[(i + 1) % n]!;
    return {
      id: i,
      args: {
        project_key: PROJECT_KEY,
        sender_name: sender.name,
        ...(sender.bearer ? {} : { sender_token: sender.token }),
        to: recipient.name,
        subject: `${tag} ${i}`,
        body_md: `Ring ${tag} #${String(i).padStart(6, "0")}: your turn, pass it on.`,
      },
      ...(sender.bearer ? { headers: { authorization: `Bearer ${sender.bearer}` } } : {}),
    };
  };
}

/** JSON-RPC request bodies for autocannon. */
function sendBodies(ring: Ring, tag: string): () => string | { body: string; headers: Record<string, string> } {
  const next = sendArgs(ring, tag);
  return () => {
    const { id, args, headers } = next();
    const body = JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "send_message", arguments: args } });
    return headers ? { body, headers } : body;
  };
}

/**
 * --server inprocess: the tools' handlers called directly in this process (no HTTP, no MCP
 * protocol, no Next), `connections` concurrent callers for `duration` seconds. What the services,
 * Prisma and pg cost on their own; measured like runLoad (the app's CPU is this process's).
 */
async function runInProcess(call: ToolCall, next: () => { args: Record<string, unknown> }, connections: number, duration: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const failureReasons: Record<string, number> = {};
  const failureSamples: string[] = [];
  let failures = 0;
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineBusyCpuSeconds();
  const t0 = process.hrtime.bigint();
  const end = Date.now() + duration * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const { args } = next();
        const started = process.hrtime.bigint();
        try {
          await call("send_message", args);
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        } catch (error) {
          failures += 1;
          const reason = (error as Error).message.slice(0, 100);
          failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
          if (failureSamples.length < 5) failureSamples.push(reason);
        }
      }
    }),
  );
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const ownSeconds = (cpu.user + cpu.system) / 1e6;
  const percent = (seconds: number) => Math.round((seconds / wall) * 1000) / 10;
  const summary = percentiles(latencies);
  const successes = latencies.length;
  return {
    durationS: wall,
    responses: successes + failures,
    successes,
    failures,
    successPerSec: Math.round(successes / wall),
    responsesPerSec: Math.round((successes + failures) / wall),
    latency: { p50: summary.p50, p90: NaN, p99: summary.p99, mean: summary.mean, max: summary.max },
    statusCodes: {},
    connectionErrors: 0,
    timeouts: 0,
    failureReasons,
    failureSamples,
    cpu: { app: percent(ownSeconds), loadgen: 0, other: percent(Math.max(0, machineBusyCpuSeconds() - machineBefore - ownSeconds)) },
    serverCpuMsPerOk: successes ? Math.round((ownSeconds / successes) * 1e6) / 1e3 : NaN,
  };
}

/** The in-process "server": the database opened here, operations invoked with a ServiceContext. */
async function inProcessTools(databaseUrl: string): Promise<{ call: ToolCall; close(): Promise<void> }> {
  const { openDatabase } = await import("../../src/server/db/client");
  const { toolOperations } = await import("../../src/mcp/catalog");
  const { invoke } = await import("../../src/server/operations/invoke");
  const { LOCAL_OPERATOR } = await import("../../src/server/auth/actor");
  const { configFromEnv } = await import("../../src/server/services/context");
  const database = await openDatabase({ url: databaseUrl });
  const ctx = { db: database.prisma, actor: LOCAL_OPERATOR, config: configFromEnv() };
  const byName = new Map(toolOperations.map((operation) => [operation.name, operation]));
  return {
    call: async (name, args) => {
      const operation = byName.get(name);
      if (!operation) throw new Error(`no tool ${name}`);
      return (await invoke(operation, ctx, args)) as Record<string, unknown>;
    },
    close: () => database.close(),
  };
}

interface PgbenchScript {
  /** The pgbench script: random ring position, then the app's own insert statement. */
  text: string;
  /** -D name=value for the statement's constant parameters. */
  defines: string[];
}

/** How node-postgres sends a parameter value (as text), for a pgbench -D variable. */
function pgText(value: unknown): string {
  if (Array.isArray(value)) {
    return `{${value.map((item) => (typeof item === "string" ? `"${item.replace(/(["\\])/g, "\\$1")}"` : String(item))).join(",")}}`;
  }
  return String(value);
}

/**
 * The pgbench script for "the same write": one ring send is insertMessages (src/server/db/mail-sql.ts)
 * with one delivery, one 'to' recipient and no idempotency key. The statement is captured from the
 * app's own code (one real call, through the app's pg pool) and kept verbatim; only its parameters
 * become pgbench variables: the sender, the recipient array (ARRAY[:recipient]), the constants (-D).
 */
async function pgbenchScriptFromApp(dbUrl: string, ring: Ring): Promise<PgbenchScript> {
  const { openDatabase } = await import("../../src/server/db/client");
  const { insertMessages } = await import("../../src/server/db/mail-sql");
  const { ARCHIVE_SURFACE_PATTERN } = await import("../../src/server/services/messages/archive-guard");
  const database = await openDatabase({ url: dbUrl, poolMax: 1, migrate: false });
  const captured: { text: string; values: unknown[] }[] = [];
  const pool = database.pool!;
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const config = args[0] as { text?: string; values?: unknown[] };
    if (config && typeof config === "object" && config.text) captured.push({ text: config.text, values: config.values ?? [] });
    return original(...args);
  };
  // Agents in the middle of the ring, so that their ids differ from the project id.
  const sender = ring.agents[Math.floor(ring.agents.length / 2)]!;
  const recipient = ring.agents[Math.floor(ring.agents.length / 2) + 1]!;
  try {
    await insertMessages(database.prisma, {
      senderId: sender.id,
      threadId: null,
      topic: null,
      subject: "pgbench ring",
      bodyMd: "pgbench ring message, about forty bytes.",
      importance: "normal",
      ackRequired: false,
      deliveries: [{ projectId: ring.projectId, recipients: [{ agentId: recipient.id, kind: "to" }] }],
      // As deliver() sends it: with the archive-surface filter (now is a constant for pgbench).
      unlessReserved: { pattern: ARCHIVE_SURFACE_PATTERN, now: new Date() },
    });
  } finally {
    await database.close();
  }
  const statement = captured.find((query) => /INSERT INTO messages/.test(query.text));
  if (!statement) throw new Error(`insertMessages sent no INSERT INTO messages (captured: ${captured.map((q) => q.text.slice(0, 60)).join(" | ")})`);
  const defines: string[] = [];
  let senders = 0;
  let recipients = 0;
  const replacements = statement.values.map((value, index) => {
    if (value === sender.id) {
      senders += 1;
      return ":sender";
    }
    if (Array.isArray(value) && value.length === 1 && value[0] === recipient.id) {
      recipients += 1;
      return "ARRAY[:recipient]";
    }
    if (value === null || value === undefined) return "NULL";
    defines.push(`p${index + 1}=${pgText(value)}`);
    return `:p${index + 1}`;
  });
  if (senders === 0 || recipients !== 1) {
    throw new Error(`Cannot map insertMessages's parameters to the ring (sender ${senders}×, recipient array ${recipients}×): ${JSON.stringify(statement.values)}`);
  }
  const sql = statement.text.replace(/\$(\d+)/g, (_, n: string) => replacements[Number(n) - 1]!);
  const text = [
    "-- Generated by bench/mail/send-ring.mts: the statement insertMessages (src/server/db/mail-sql.ts) sends for one",
    "-- ring send, captured from the app's code; parameters as pgbench variables (constants via -D).",
    "\\set k random(0, :agents - 1)",
    "\\set sender :first_agent + :k",
    "\\set recipient :first_agent + mod(:k + 1, :agents)",
    `${sql.trim()};`,
    "",
  ].join("\n");
  return { text, defines };
}

interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  latency: ReturnType<typeof percentiles>;
  cpu: { pgbench: number; postgres: number; machine: number };
  output: string;
}

function pgbenchArgs(dbUrl: string): string[] {
  const url = new URL(dbUrl);
  const args = ["-h", url.hostname, "-p", url.port || "5432", "-d", decodeURIComponent(url.pathname.slice(1))];
  if (url.username) args.push("-U", decodeURIComponent(url.username));
  return args;
}

function pgbenchEnv(dbUrl: string): NodeJS.ProcessEnv {
  const password = new URL(dbUrl).password;
  return password ? { ...process.env, PGPASSWORD: decodeURIComponent(password) } : { ...process.env };
}

/** pgbench -c <connections> -j 2 -T <duration> with the send script; latencies from its per-transaction log. */
async function runPgbench(dbUrl: string, ring: Ring, script: PgbenchScript, opts: Options, duration: number): Promise<PgbenchResult> {
  const logDir = mkdtempSync(path.join(os.tmpdir(), "mailroom-pgbench-"));
  try {
    const scriptFile = path.join(logDir, "send.sql");
    writeFileSync(scriptFile, script.text);
    const args = [
      "-n", "-c", String(opts.connections), "-j", "2", "-T", String(Math.round(duration)), "-M", opts.protocol,
      "-f", scriptFile,
      "-D", `first_agent=${ring.agents[0]!.id}`, "-D", `agents=${ring.agents.length}`,
      ...script.defines.flatMap((define) => ["-D", define]),
      "-l", `--log-prefix=${path.join(logDir, "tx")}`,
      ...pgbenchArgs(dbUrl),
    ];
    const pgMeter = postgresCpuMeter();
    const machineBefore = machineBusyCpuSeconds();
    const t0 = process.hrtime.bigint();
    const child = spawn("pgbench", args, { env: pgbenchEnv(dbUrl), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    let pgbenchCpu = 0;
    const sampler = setInterval(() => {
      pgbenchCpu = Math.max(pgbenchCpu, processTreeCpuSeconds(child.pid!));
    }, 200);
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    clearInterval(sampler);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const pgSeconds = pgMeter.stop();
    const machineSeconds = machineBusyCpuSeconds() - machineBefore;
    if (code !== 0) throw new Error(`pgbench exited with code ${code}:\n${output}`);
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1] ?? NaN);
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1] ?? NaN);
    const failed = Number(/number of failed transactions: (\d+)/.exec(output)?.[1] ?? 0);
    const latencies: number[] = [];
    for (const file of readdirSync(logDir)) {
      if (!file.startsWith("tx")) continue;
      for (const line of readFileSync(path.join(logDir, file), "utf8").split("\n")) {
        const fields = line.split(" ");
        if (fields.length >= 3 && fields[2] !== "failed" && fields[2] !== "skipped") latencies.push(Number(fields[2]) / 1000);
      }
    }
    const percent = (seconds: number) => Math.round((seconds / wall) * 1000) / 10;
    return {
      tps: Math.round(tps),
      transactions,
      failed,
      latency: percentiles(latencies),
      cpu: { pgbench: percent(pgbenchCpu), postgres: percent(pgSeconds), machine: percent(machineSeconds) },
      output,
    };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

function describeLoad(result: LoadResult, pgCpu: number): string {
  const failed = result.failures + result.connectionErrors + result.timeouts;
  const reasons = Object.entries(result.failureReasons).map(([reason, count]) => `${count}× ${reason}`).join("; ");
  return (
    `${formatInt(result.successPerSec)} ok req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms` +
    (failed ? `, ${failed} failed (${reasons || ""}${result.connectionErrors ? ` ${result.connectionErrors} connection errors` : ""}${result.timeouts ? ` ${result.timeouts} timeouts` : ""})` : "") +
    `, CPU app ${result.cpu.app}% postgres ${pgCpu}% loadgen ${result.cpu.loadgen}% (machine total ≈ ${Math.round((result.cpu.app ?? 0) + result.cpu.loadgen! + result.cpu.other!)}%)`
  );
}

async function main(): Promise<void> {
  let parsed: Options | "help";
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed === "help") {
    console.log(USAGE);
    return;
  }
  const opts = parsed;
  deadline = opts.warmup + opts.runs * (3 * opts.duration + 3 * opts.quietWait + (opts.archive ? 600 : 0)) + 600;
  const startedAt = new Date();
  const machine = machineInfo();
  const build = opts.server === "next" || opts.server === "production" ? buildId() : opts.server === "handlers" ? "(handlers on node:http)" : "(in-process tool handlers)";
  log(`${machine.cores} cores (${machine.cpuModel}), ${machine.ramGiB} GiB, Node ${machine.node}; build ${build}`);
  log(`${opts.agents}-agent ring, ${opts.connections} connections, ${opts.runs} × (${opts.duration} s app + ${opts.duration} s pgbench) after ${opts.warmup} s warm-up`);

  const db = await createBenchDatabase(opts.serverUrl);
  onCleanup(`database ${db.name}`, async () => {
    if (opts.keep) log(`kept database ${redact(db.url)}`);
    else await db.drop();
  });
  log(`fresh Postgres ${db.serverVersion} database ${db.name}`);

  let call: ToolCall;
  let app: OwnedProcess | undefined;
  let profileDir: string | undefined;
  if (opts.server === "inprocess") {
    const inProcess = await inProcessTools(db.url);
    onCleanup("in-process database", () => inProcess.close());
    call = inProcess.call;
    log("tool handlers in this process (pid " + process.pid + "), no HTTP");
  } else {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "mailroom-bench-mail-"));
    onCleanup("data dir", () => rmSync(dataDir, { recursive: true, force: true }));
    if (opts.cpuProf) {
      profileDir = path.join(repoRoot, "bench", "results", "profiles", `mail-send-ring-${startedAt.toISOString().replace(/[:.]/g, "-")}`);
      execFileSync("mkdir", ["-p", profileDir]);
    }
    const port = await mailPort(opts.port);
    const started =
      opts.server === "production"
        ? startProductionServer({ port, dataDir, databaseUrl: db.url, cpuProfDir: profileDir, archive: opts.archive, env: opts.auth === "tokens" ? { JWT_SECRET: BENCH_JWT_SECRET } : {} })
        : startApp({ kind: opts.server, port, dataDir, databaseUrl: db.url, cpuProfDir: profileDir });
    app = started;
    onCleanup("app", () => started.stop());
    log(`${started.name} on ${started.url} (pid ${started.pid}); waiting for /api/ready…`);
    await waitUntilReady(started);
    // Token mode: setup (project, agents, contacts) as an admin token minted with the secret.
    const admin: Record<string, string> =
      opts.auth === "tokens"
        ? { authorization: `Bearer ${await new SignJWT({ roles: ["admin"] }).setProtectedHeader({ alg: "HS256" }).setSubject("bench").setExpirationTime("2h").sign(new TextEncoder().encode(BENCH_JWT_SECRET))}` }
        : {};
    call = (name, args) => mcpCall(started.url, name, args, admin);
  }

  const ring = await setUpRing(call, opts.agents);
  log(`project ${PROJECT_KEY} (id ${ring.projectId}), agents ${ring.agents[0]!.name}…${ring.agents.at(-1)!.name} (ids ${ring.agents[0]!.id}…${ring.agents.at(-1)!.id})`);

  const script = await pgbenchScriptFromApp(db.url, ring);
  log(`pgbench script: the app's insertMessages statement, captured (${script.text.length} characters, constants ${script.defines.map((d) => d.split("=")[0]).join(" ")})`);

  // The same statement without pg_notify(channel, payload): only its payload is kept.
  const withoutNotify: PgbenchScript = { ...script, text: script.text.replace(/pg_notify\(:p\d+, /, "(") };
  if (opts.withoutNotify && withoutNotify.text === script.text) throw new Error("--without-notify: no pg_notify(:pN, …) in the captured statement.");

  const quiet = async () => {
    if (opts.quietWait <= 0) return;
    const { waited, otherPercent } = await waitForQuiet(opts.quietWait, app ? [app.pid] : []);
    if (otherPercent >= 25) log(`  the machine is busy (other processes at ${otherPercent}% of a core after ${waited} s); measuring anyway`);
    else if (waited > 1.5) log(`  waited ${waited} s for other processes to go quiet`);
  };
  const load = async (duration: number, tag: string) => {
    const pgMeter = postgresCpuMeter();
    const t0 = process.hrtime.bigint();
    const result = app
      ? await runLoad({
          url: app.url,
          connections: opts.connections,
          duration,
          method: "POST",
          path: "/api/mcp",
          headers: MCP_HEADERS,
          body: sendBodies(ring, tag),
          check: checkMcp,
          watch: { app: app.pid },
          server: "app",
        })
      : await runInProcess(call, sendArgs(ring, tag), opts.connections, duration);
    const pgCpu = Math.round((pgMeter.stop() / (Number(process.hrtime.bigint() - t0) / 1e9)) * 1000) / 10;
    if (app?.hasExited()) throw new Error(`The app exited during the benchmark.\n--- app output ---\n${app.output()}`);
    return { result, pgCpu };
  };

  if (opts.warmup > 0) {
    await quiet();
    const { result, pgCpu } = await load(opts.warmup, "warmup");
    log(`warm-up send_message: ${describeLoad(result, pgCpu)}`);
  }

  // The archive's side: outbox rows still pending, sampled from the start of a run until none are
  // left (the lag curve), and the commits that wrote them.
  const archiveDb = opts.archive && app ? new pg.Client({ connectionString: db.url }) : undefined;
  if (archiveDb) {
    await archiveDb.connect();
    onCleanup("archive probe", () => archiveDb.end());
  }
  const pendingEvents = async () => Number((await archiveDb!.query<{ n: string }>("SELECT count(*) AS n FROM archive_outbox WHERE processed_ts IS NULL")).rows[0]!.n);
  const sampleLag = (startedMs: number) => {
    const curve: { t: number; pending: number }[] = [];
    let stopped = false;
    const sampling = (async () => {
      while (!stopped) {
        curve.push({ t: Math.round((Date.now() - startedMs) / 100) / 10, pending: await pendingEvents() });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    return {
      curve,
      /** After the load: samples until nothing is pending (at most 300 s); the seconds that took. */
      async drain(loadEndMs: number): Promise<number | null> {
        const limit = Date.now() + 300_000;
        while (Date.now() < limit && (curve.at(-1)?.pending ?? 1) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        stopped = true;
        await sampling;
        const last = curve.at(-1)!;
        return last.pending === 0 ? Math.round((startedMs + last.t * 1000 - loadEndMs) / 100) / 10 : null;
      },
    };
  };
  const archiveRuns: { catchUpS: number | null; commits: number; events: number; seconds: number; curve: { t: number; pending: number }[] }[] = [];

  const appRuns: { result: LoadResult; pgCpu: number }[] = [];
  const pgbenchRuns: PgbenchResult[] = [];
  const noNotifyRuns: PgbenchResult[] = [];
  const describePgbench = (bench: PgbenchResult) =>
    `${formatInt(bench.tps)} tps, p50 ${bench.latency.p50} ms, p99 ${bench.latency.p99} ms` +
    `${bench.failed ? `, ${bench.failed} failed` : ""}, CPU postgres ${bench.cpu.postgres}% pgbench ${bench.cpu.pgbench}% (machine ${bench.cpu.machine}%)`;
  for (let run = 1; run <= opts.runs; run += 1) {
    await quiet();
    const runStart = new Date();
    const lag = archiveDb ? sampleLag(runStart.getTime()) : undefined;
    const measured = await load(opts.duration, `run${run}`);
    appRuns.push(measured);
    log(`run ${run}/${opts.runs} send_message: ${describeLoad(measured.result, measured.pgCpu)}`);
    if (lag) {
      const catchUpS = await lag.drain(Date.now());
      const seconds = (Date.now() - runStart.getTime()) / 1000;
      const { rows } = await archiveDb!.query<{ commits: string; events: string }>(
        "SELECT count(DISTINCT commit_sha) AS commits, count(*) AS events FROM archive_outbox WHERE processed_ts >= $1",
        [runStart],
      );
      const archived = { catchUpS, commits: Number(rows[0]!.commits), events: Number(rows[0]!.events), seconds, curve: lag.curve };
      archiveRuns.push(archived);
      const peak = Math.max(...lag.curve.map((point) => point.pending));
      log(
        `run ${run}/${opts.runs} archive: ${catchUpS === null ? "NOT caught up within 300 s" : `caught up ${catchUpS} s after the load stopped`}; ` +
          `peak ${formatInt(peak)} pending events; ${formatInt(archived.events)} events in ${formatInt(archived.commits)} commits ` +
          `(${(archived.events / Math.max(1, archived.commits)).toFixed(1)} per commit, ${(archived.commits / seconds).toFixed(1)} commits/s)`,
      );
    }
    await quiet();
    const bench = await runPgbench(db.url, ring, script, opts, opts.duration);
    pgbenchRuns.push(bench);
    log(`run ${run}/${opts.runs} pgbench: ${describePgbench(bench)}`);
    // pgbench's rows are outbox events too: let the archive take them before the next app run.
    if (archiveDb) await sampleLag(Date.now()).drain(Date.now());
    if (opts.withoutNotify) {
      await quiet();
      const variant = await runPgbench(db.url, ring, withoutNotify, opts, opts.duration);
      noNotifyRuns.push(variant);
      log(`run ${run}/${opts.runs} pgbench without pg_notify: ${describePgbench(variant)}`);
    }
  }
  if ((opts.server === "next" || opts.server === "production") && buildId() !== build) log(`warning: .next was rebuilt during the benchmark (${build} → ${buildId()}); the figures may mix builds.`);

  // Sanity: every success is a stored message, and nothing else slipped in.
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const counts = await client
    .query<{ app: string; pgbench: string; recipients: string }>(
      `SELECT count(*) FILTER (WHERE subject NOT LIKE 'pgbench%') AS app, count(*) FILTER (WHERE subject LIKE 'pgbench%') AS pgbench,
              (SELECT count(*) FROM message_recipients) AS recipients FROM messages`,
    )
    .finally(() => client.end());
  const stored = counts.rows[0]!;

  const appOk = appRuns.map((r) => r.result.successPerSec);
  const tps = pgbenchRuns.map((r) => r.tps);
  const ratios = appOk.map((value, index) => value / tps[index]!);
  const medians = {
    appOkReqPerSec: Math.round(median(appOk)),
    appP50Ms: median(appRuns.map((r) => r.result.latency.p50)),
    appP99Ms: median(appRuns.map((r) => r.result.latency.p99)),
    appCpuPercent: Math.round(median(appRuns.map((r) => r.result.cpu.app ?? NaN))),
    appPostgresCpuPercent: Math.round(median(appRuns.map((r) => r.pgCpu))),
    appServerCpuMsPerOk: median(appRuns.map((r) => r.result.serverCpuMsPerOk)),
    archiveCatchUpS: archiveRuns.length ? median(archiveRuns.map((r) => r.catchUpS ?? NaN)) : undefined,
    archiveEventsPerCommit: archiveRuns.length ? median(archiveRuns.map((r) => r.events / Math.max(1, r.commits))) : undefined,
    archiveCommitsPerSec: archiveRuns.length ? median(archiveRuns.map((r) => r.commits / r.seconds)) : undefined,
    pgbenchTps: Math.round(median(tps)),
    pgbenchP50Ms: median(pgbenchRuns.map((r) => r.latency.p50)),
    pgbenchP99Ms: median(pgbenchRuns.map((r) => r.latency.p99)),
    pgbenchPostgresCpuPercent: Math.round(median(pgbenchRuns.map((r) => r.cpu.postgres))),
    ratio: median(ratios),
    pgbenchWithoutNotifyTps: noNotifyRuns.length ? Math.round(median(noNotifyRuns.map((r) => r.tps))) : undefined,
  };
  const failures = appRuns.reduce((sum, r) => sum + r.result.failures + r.result.connectionErrors + r.result.timeouts, 0);

  console.log("");
  console.log(
    `Mailroom mail benchmark A — ${startedAt.toISOString()} — ${SERVER_LABEL[opts.server]} on Postgres ${db.serverVersion}, archive ${opts.archive ? "on" : "off"}, auth ${opts.auth}, ${opts.agents}-agent ring, ` +
      `${opts.connections} connections, median of ${opts.runs} × ${opts.duration} s`,
  );
  console.log(`${machine.cores} cores ${machine.cpuModel}, ${machine.ramGiB} GiB RAM, Node ${machine.node}, load average at start ${machine.loadAverageAtStart.join(" ")}`);
  console.log("");
  console.log(
    table(
      ["workload", "ok/s (tps)", "p50 ms", "p99 ms", "failed", "each run", "CPU % app / postgres"],
      [
        [
          `send_message (${SERVER_LABEL[opts.server]})`,
          formatInt(medians.appOkReqPerSec),
          formatMs(medians.appP50Ms),
          formatMs(medians.appP99Ms),
          formatInt(failures),
          appOk.map(formatInt).join(" / "),
          `${formatInt(medians.appCpuPercent)} / ${formatInt(medians.appPostgresCpuPercent)}`,
        ],
        [
          `pgbench same write (-M ${opts.protocol})`,
          formatInt(medians.pgbenchTps),
          formatMs(medians.pgbenchP50Ms),
          formatMs(medians.pgbenchP99Ms),
          formatInt(pgbenchRuns.reduce((sum, r) => sum + r.failed, 0)),
          tps.map(formatInt).join(" / "),
          `– / ${formatInt(medians.pgbenchPostgresCpuPercent)}`,
        ],
        ...(noNotifyRuns.length
          ? [
              [
                "  diagnostic: without pg_notify",
                formatInt(medians.pgbenchWithoutNotifyTps!),
                formatMs(median(noNotifyRuns.map((r) => r.latency.p50))),
                formatMs(median(noNotifyRuns.map((r) => r.latency.p99))),
                formatInt(noNotifyRuns.reduce((sum, r) => sum + r.failed, 0)),
                noNotifyRuns.map((r) => formatInt(r.tps)).join(" / "),
                `– / ${formatInt(Math.round(median(noNotifyRuns.map((r) => r.cpu.postgres))))}`,
              ],
            ]
          : []),
      ],
    ),
  );
  console.log("");
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  console.log(`app ÷ pgbench: ${medians.ratio.toFixed(2)} (per run ${ratios.map((r) => r.toFixed(2)).join(" / ")}; aim ≥ ${AIM.ratio}: ${verdict(medians.ratio >= AIM.ratio)})`);
  console.log(`send_message: ${formatInt(medians.appOkReqPerSec)} ok req/s (aim ≥ ${formatInt(AIM.reqPerSec)}: ${verdict(medians.appOkReqPerSec >= AIM.reqPerSec)}), p99 ${formatMs(medians.appP99Ms)} ms (aim ≤ ${AIM.p99Ms}: ${verdict(medians.appP99Ms <= AIM.p99Ms)})`);
  if (archiveRuns.length) {
    console.log(
      `archive: caught up ${medians.archiveCatchUpS} s after the load stopped (median); ${medians.archiveEventsPerCommit!.toFixed(1)} events per commit, ` +
        `${medians.archiveCommitsPerSec!.toFixed(1)} commits/s`,
    );
  } else {
    console.log(`archive: ${opts.archive ? "not measured (in-process server)" : "off (--archive off)"}`);
  }
  console.log(`app server CPU per successful send: ${medians.appServerCpuMsPerOk.toFixed(3)} ms; stored: ${stored.app} app messages (incl. warm-up), ${stored.pgbench} pgbench messages, ${stored.recipients} recipient rows`);
  console.log(
    (opts.server === "inprocess" ? "ok = the tool handler returned (did not throw); latency is of those." : "ok = HTTP 200, no JSON-RPC error, result.isError !== true; latency is of those.") +
      " CPU is % of one core (2 cores = 200%); postgres = every postgres process on the machine.",
  );

  const file = resultsFile("send-ring", startedAt, opts.json);
  const scriptFile = file.replace(/\.json$/, "") + ".pgbench.sql";
  writeFileSync(scriptFile, script.text);
  writeJson(file, {
    benchmark: "mail-send-ring",
    date: startedAt.toISOString(),
    finished: new Date().toISOString(),
    command: `npx tsx bench/mail/send-ring.mts ${process.argv.slice(2).join(" ")}`.trim(),
    machine,
    postgres: db.serverVersion,
    buildId: build,
    options: { ...opts, serverUrl: redact(opts.serverUrl) },
    medians,
    aims: {
      reqPerSec: { target: AIM.reqPerSec, met: medians.appOkReqPerSec >= AIM.reqPerSec },
      p99Ms: { target: AIM.p99Ms, met: medians.appP99Ms <= AIM.p99Ms },
      ratio: { target: AIM.ratio, met: medians.ratio >= AIM.ratio },
    },
    stored,
    pgbench: { script: path.relative(repoRoot, scriptFile), defines: script.defines, protocol: opts.protocol },
    appRuns: appRuns.map(({ result, pgCpu }) => ({ ...result, postgresCpuPercent: pgCpu })),
    pgbenchRuns: pgbenchRuns.map(({ output, ...rest }) => ({ ...rest, output: output.trim().split("\n") })),
    archiveRuns,
    pgbenchWithoutNotifyRuns: noNotifyRuns.map(({ output, ...rest }) => ({ ...rest, output: output.trim().split("\n") })),
    profileDir,
  });
  log(`result written to ${path.relative(process.cwd(), file)} (pgbench script: ${path.relative(process.cwd(), scriptFile)})`);
}

let deadline = 3600;
await runMain(TAG, () => deadline, main);
