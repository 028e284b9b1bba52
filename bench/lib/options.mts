import { parseArgs } from "node:util";

// Command-line options of `npm run bench`, each with an environment fallback (BENCH_*).

export const SCENARIOS = ["health", "tools-list", "register-agent"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  /** An app that is already running (http://127.0.0.1:<port>); undefined: start the built app. */
  url?: string;
  /** Postgres server to create a fresh database on; undefined: the embedded PGlite. */
  databaseUrl?: string;
  /** Seconds per measured run. */
  duration: number;
  /** Seconds of warm-up per scenario before the first run (not measured). */
  warmup: number;
  connections: number;
  runs: number;
  scenarios: Scenario[];
  /** Projects register_agent rotates over, per run (each project holds 4278 generated names). */
  projects: number;
  /** Port for the app the script starts (default: a free one in 3300-3399). */
  port?: number;
  /** Write a V8 CPU profile of the app (`node --cpu-prof`) into bench/results/profiles/. */
  cpuProf: boolean;
  /**
   * What serves the app: the production server as `npm start` runs it (server.mts: node:http for
   * the API, Next for the rest), plain `next start`, or the API handlers on node:http without Next.
   */
  server: ServerKind;
  /** Before each measurement, wait up to this many seconds for other processes to go quiet. */
  quietWait: number;
  /** Where the JSON result goes (default bench/results/<date>-<database>.json). */
  json?: string;
}

export const SERVER_KINDS = ["production", "next", "handlers"] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export const PORT_MIN = 3300;
export const PORT_MAX = 3399;

export const USAGE = `Usage: npm run bench -- [options]

  --url <url>            benchmark an app already running on 127.0.0.1 (env BENCH_URL);
                         default: start the built app (see --server) on a fresh DATA_DIR
  --database-url <url>   create a fresh database on this Postgres server for the app and drop it
                         afterwards (env BENCH_DATABASE_URL); default: embedded PGlite
  --duration <s>         seconds per measured run (env BENCH_DURATION, default 10)
  --warmup <s>           warm-up seconds per scenario before the first run (env BENCH_WARMUP, default 3)
  --connections <n>      concurrent connections (env BENCH_CONNECTIONS, default 50)
  --runs <n>             measured runs; the median is reported (env BENCH_RUNS, default 3)
  --scenarios <list>     comma-separated subset of ${SCENARIOS.join(",")} (env BENCH_SCENARIOS, default all)
  --projects <n>         projects register_agent rotates over per run (env BENCH_PROJECTS, default 40)
  --port <n>             port of the app it starts, ${PORT_MIN}-${PORT_MAX} (env BENCH_PORT, default: a free one)
  --server <kind>        what serves the app it starts (env BENCH_SERVER, default production):
                           production  server.mts as \`npm start\` runs it (node --import tsx server.mts:
                                       node:http answers the API, Next the rest)
                           next        \`node node_modules/next/dist/bin/next start\` (the API through
                                       Next's route handlers)
                           handlers    the API handlers on node:http without Next at all
  --quiet-wait <s>       before each measurement, wait up to <s> seconds for the rest of the machine
                         to go quiet (other processes < 25% of a core); 0: don't (env BENCH_QUIET_WAIT, default 30)
  --cpu-prof             profile the app with node --cpu-prof (written to bench/results/profiles/)
  --json <file>          JSON result path (default bench/results/<date>-<server>-<database>.json)
  -h, --help             this text

The bare node:http baseline always runs, in its own process, on a free port in ${PORT_MIN}-${PORT_MAX}.
Build first: NEXT_TELEMETRY_DISABLED=1 npx next build`;

function positiveNumber(name: string, raw: string | undefined, fallback: number, { integer = false, min = 1 } = {}): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}; got '${raw}'.`);
  }
  return value;
}

/** Only 127.0.0.1 is ever loaded: a benchmark must not be pointed at someone else's server. */
export function loopbackUrl(raw: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new Error(`${what} is not a URL: '${raw}'.`);
  }
  if (parsed.protocol !== "http:") throw new Error(`${what} must be http:// (got ${parsed.protocol}).`);
  if (parsed.hostname !== "127.0.0.1") throw new Error(`${what} must target 127.0.0.1 only (got ${parsed.hostname}).`);
  if (parsed.port === "3000") throw new Error(`${what}: port 3000 is someone else's server; use ${PORT_MIN}-${PORT_MAX}.`);
  return parsed.origin;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: "string" },
      "database-url": { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      runs: { type: "string" },
      scenarios: { type: "string" },
      projects: { type: "string" },
      port: { type: "string" },
      "cpu-prof": { type: "boolean" },
      server: { type: "string" },
      "quiet-wait": { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";

  const rawUrl = values.url ?? env.BENCH_URL;
  const url = rawUrl ? loopbackUrl(rawUrl, "--url") : undefined;
  const databaseUrl = values["database-url"] ?? env.BENCH_DATABASE_URL ?? undefined;
  if (databaseUrl) {
    const protocol = (() => {
      try {
        return new URL(databaseUrl).protocol;
      } catch {
        return "";
      }
    })();
    if (protocol !== "postgres:" && protocol !== "postgresql:") throw new Error("--database-url must be a postgres:// or postgresql:// URL.");
    if (url) throw new Error("--database-url needs the app started by the script; it cannot be combined with --url.");
  }

  const rawScenarios = values.scenarios ?? env.BENCH_SCENARIOS;
  const scenarios = rawScenarios
    ? rawScenarios.split(",").map((name) => name.trim()).filter(Boolean)
    : [...SCENARIOS];
  for (const name of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`Unknown scenario '${name}'; known: ${SCENARIOS.join(", ")}.`);
  }

  const rawPort = values.port ?? env.BENCH_PORT;
  const port = rawPort === undefined ? undefined : positiveNumber("port", rawPort, 0, { integer: true });
  if (port !== undefined && (port < PORT_MIN || port > PORT_MAX)) throw new Error(`--port must be in ${PORT_MIN}-${PORT_MAX}.`);
  if (port !== undefined && url) throw new Error("--port is for the app the script starts; with --url the port is in the URL.");
  const cpuProf = values["cpu-prof"] ?? false;
  if (cpuProf && url) throw new Error("--cpu-prof needs the app started by the script; it cannot be combined with --url.");

  const server = values.server ?? env.BENCH_SERVER ?? "production";
  if (!(SERVER_KINDS as readonly string[]).includes(server)) throw new Error(`--server must be one of ${SERVER_KINDS.join(", ")}; got '${server}'.`);
  if (url && (values.server ?? env.BENCH_SERVER)) throw new Error("--server chooses the app the script starts; it cannot be combined with --url.");

  return {
    url,
    server: server as ServerKind,
    quietWait: positiveNumber("quiet-wait", values["quiet-wait"] ?? env.BENCH_QUIET_WAIT, 30, { min: 0 }),
    databaseUrl,
    duration: positiveNumber("duration", values.duration ?? env.BENCH_DURATION, 10),
    warmup: positiveNumber("warmup", values.warmup ?? env.BENCH_WARMUP, 3, { min: 0 }),
    connections: positiveNumber("connections", values.connections ?? env.BENCH_CONNECTIONS, 50, { integer: true }),
    runs: positiveNumber("runs", values.runs ?? env.BENCH_RUNS, 3, { integer: true }),
    scenarios: scenarios as Scenario[],
    projects: positiveNumber("projects", values.projects ?? env.BENCH_PROJECTS, 40, { integer: true }),
    port,
    cpuProf,
    json: values.json,
  };
}
