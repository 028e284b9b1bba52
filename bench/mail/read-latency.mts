// Mail benchmark B, part 2: server-side read latency on a big mailbox (bench/mail/seed.mts: 1M
// messages, hot-agent holding 10,000 in its inbox). In-process, no HTTP: the service functions
// fetchInbox and searchMessages are called directly with a ServiceContext, as the MCP tools call
// them, many times after a warm-up; p50/p95/p99 per operation, median over the runs. The SQL
// each call sends is captured from the pg pool; the main statement of each operation is also
// timed alone, and EXPLAIN (ANALYZE, BUFFERS) of it, with the very parameters, goes to
// docs/plans/.
//
//   npx tsx bench/mail/read-latency.mts [--database-url <server>]   create, seed, measure, drop
//   npx tsx bench/mail/read-latency.mts --reuse <database url>       an already seeded database
//   options: --iterations 1000 --warmup 100 --runs 3 --plans docs/plans --no-plans --keep (--help)
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { openDatabase, type Database } from "../../src/server/db/client";
import { invoke } from "../../src/server/operations/invoke";
import type { ServiceContext } from "../../src/server/services/context";
import { fetchInbox, pendingResource, unreadResource } from "../../src/server/services/messages/inbox";
import { searchMessages } from "../../src/server/services/messages/search";
import { repoRoot } from "../lib/processes.mjs";
import { formatInt, formatMs, median, table } from "../lib/report.mjs";
import {
  DEFAULT_SERVER_URL,
  log as logWith,
  machineInfo,
  numberOption,
  onCleanup,
  percentiles,
  resultsFile,
  runMain,
  writeJson,
} from "./common.mjs";
import { inProcessContext, SEEDED_DATABASE_OPTIONS, seededDatabase } from "./in-process.mjs";
import { SEED, VOCABULARY } from "./seed.mjs";

const TAG = "read-latency";
const log = (message: string) => logWith(TAG, message);
const AIM = { inboxP50Ms: 5, searchP50Ms: 20 };

const USAGE = `Usage: npx tsx bench/mail/read-latency.mts [options]

  --database-url <url>   Postgres server (127.0.0.1) to create and seed a fresh database on
                         (env BENCH_DATABASE_URL, default ${DEFAULT_SERVER_URL}); dropped afterwards unless --keep
  --reuse <url>          measure an already seeded database (bench/mail/seed.mts --keep) instead
  --messages <n> --agents <n> --hot-inbox <n>   seed size (default 1000000 / 1000 / 10000)
  --iterations <n>       measured calls per operation per run (default 1000)
  --warmup <n>           unmeasured calls per operation before the runs (default 100)
  --runs <n>             runs; medians of the per-run percentiles are reported (default 3)
  --plans <dir>          where EXPLAIN (ANALYZE, BUFFERS) files go (default docs/plans)
  --no-plans             don't write plan files
  --keep                 keep the database it created (its URL is printed)
  --json <file>          JSON result path (default bench/results/<date>-mail-read-latency.json)
  -h, --help             this text`;

// The rank of a word in the seed's vocabulary decides how common it is (Zipf-Mandelbrot).
const COMMON_WORD = VOCABULARY[0]!;
const RARE_WORD = VOCABULARY[VOCABULARY.length - 3000]!;

interface Operation {
  name: string;
  label: string;
  /** The statement of this operation that is timed alone and explained. */
  mainSql: RegExp;
  call(ctx: ServiceContext): Promise<unknown[]>;
}

function operations(): Operation[] {
  const inbox = { project_key: SEED.projectKey, agent_name: SEED.hotAgent, registration_token: SEED.hotToken, limit: 20 };
  const viewer = { project: SEED.projectKey, agent: SEED.hotAgent, agent_token: SEED.hotToken };
  const search = (label: string, name: string, query: string): Operation => {
    const input = { project_key: SEED.projectKey, agent_name: SEED.hotAgent, registration_token: SEED.hotToken, query };
    return { name, label, mainSql: /websearch_to_tsquery/, call: (ctx) => invoke(searchMessages, ctx, input) };
  };
  return [
    { name: "fetch-inbox", label: `fetch_inbox ${SEED.hotAgent}, limit 20`, mainSql: /FROM message_recipients r/, call: (ctx) => invoke(fetchInbox, ctx, inbox) },
    // What `mailroom inbox` and `mailroom hook` (a client's prompt hook) read.
    { name: "views-unread", label: `resource://views/unread ${SEED.hotAgent}, limit 20`, mainSql: /FROM message_recipients r/, call: async (ctx) => (await invoke(unreadResource, ctx, { ...viewer, limit: 20 })).messages },
    { name: "views-pending", label: `resource://views/pending ${SEED.hotAgent} (the hook's counts)`, mainSql: /count\(\*\) FROM message_recipients/, call: async (ctx) => [await invoke(pendingResource, ctx, viewer)] },
    search(`search common word '${COMMON_WORD}'`, "search-common-word", COMMON_WORD),
    search(`search rare word '${RARE_WORD}'`, "search-rare-word", RARE_WORD),
    search(`search phrase '"merge conflict"'`, "search-phrase", '"merge conflict"'),
    search(`search id '${SEED.ticket}'`, "search-ticket-id", SEED.ticket),
    search(`search two words 'deploy rollback'`, "search-two-words", "deploy rollback"),
  ];
}

interface Captured {
  text: string;
  values: unknown[];
}

/** Records every statement Prisma sends through the pool while `recording` is on. */
function captureQueries(database: Database): { during<T>(work: () => Promise<T>): Promise<{ value: T; queries: Captured[] }> } {
  const pool = database.pool!;
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  let recorded: Captured[] | undefined;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as { text?: string; values?: unknown[] } | string;
    if (recorded) {
      if (typeof first === "string") recorded.push({ text: first, values: (args[1] as unknown[]) ?? [] });
      else if (first?.text) recorded.push({ text: first.text, values: first.values ?? [] });
    }
    return original(...args);
  };
  return {
    async during(work) {
      recorded = [];
      try {
        const value = await work();
        return { value, queries: recorded };
      } finally {
        recorded = undefined;
      }
    },
  };
}

function elapsedMs(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

interface OperationResult {
  name: string;
  label: string;
  rows: number;
  statements: number;
  service: ReturnType<typeof percentiles>[];
  sql: ReturnType<typeof percentiles>[];
  matchesInDatabase?: number;
  plan?: { file: string; indexes: string[]; executionMs: number; planningMs: number };
}

function indexesIn(plan: string): string[] {
  const names = new Set<string>();
  for (const match of plan.matchAll(/(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)/g)) names.add(match[1]!);
  return [...names];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      ...SEEDED_DATABASE_OPTIONS,
      iterations: { type: "string" },
      warmup: { type: "string" },
      runs: { type: "string" },
      plans: { type: "string" },
      "no-plans": { type: "boolean" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const iterations = numberOption("iterations", values.iterations, 1000, { integer: true });
  const warmup = numberOption("warmup", values.warmup, 100, { integer: true, min: 0 });
  const runs = numberOption("runs", values.runs, 3, { integer: true });
  const plansDir = values["no-plans"] ? undefined : path.resolve(values.plans ?? path.join(repoRoot, "docs", "plans"));
  const startedAt = new Date();
  const machine = machineInfo();
  log(`${machine.cores} cores (${machine.cpuModel}), ${machine.ramGiB} GiB, Node ${machine.node}`);

  const { url, seed } = await seededDatabase(values, log);

  // The app's own database layer (pool, Prisma with adapter-pg), without migrating again.
  const database = await openDatabase({ url, migrate: false, poolMax: 4 });
  onCleanup("database pool", () => database.close());
  const capture = captureQueries(database);
  const ctx = inProcessContext(database.prisma, url);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  onCleanup("admin client", () => admin.end());
  const serverVersion = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
  const [facts] = (
    await admin.query<{ messages: number; inbox: number }>(
      `SELECT (SELECT count(*)::int FROM messages) AS messages,
              (SELECT count(*)::int FROM message_recipients r JOIN agents a ON a.id = r.agent_id WHERE a.name_key = $1) AS inbox`,
      [SEED.hotAgent],
    )
  ).rows;
  log(`database: ${formatInt(facts!.messages)} messages, ${SEED.hotAgent} holds ${formatInt(facts!.inbox)} in its inbox`);

  const ops = operations();
  const results: OperationResult[] = [];
  for (const op of ops) {
    const { value, queries } = await capture.during(() => op.call(ctx));
    const main = queries.filter((query) => op.mainSql.test(query.text));
    if (main.length !== 1) throw new Error(`${op.name}: expected one main statement, captured ${queries.length}: ${queries.map((q) => q.text.slice(0, 80)).join(" | ")}`);
    results.push({ name: op.name, label: op.label, rows: value.length, statements: queries.length, service: [], sql: [] });
    (op as Operation & { captured?: Captured }).captured = main[0];
  }

  // Warm-up, then runs; within a run each operation gets its iterations in a row.
  log(`warm-up: ${warmup} calls per operation`);
  for (const op of ops) for (let i = 0; i < warmup; i += 1) await op.call(ctx);
  for (let run = 1; run <= runs; run += 1) {
    for (const [index, op] of ops.entries()) {
      const service: number[] = [];
      for (let i = 0; i < iterations; i += 1) {
        const t0 = process.hrtime.bigint();
        await op.call(ctx);
        service.push(elapsedMs(t0));
      }
      // The main statement alone, through the same pool, with the same parameters.
      const { text, values: params } = (op as Operation & { captured?: Captured }).captured!;
      const sql: number[] = [];
      for (let i = 0; i < iterations; i += 1) {
        const t0 = process.hrtime.bigint();
        await database.pool!.query({ text, values: params });
        sql.push(elapsedMs(t0));
      }
      const result = results[index]!;
      result.service.push(percentiles(service));
      result.sql.push(percentiles(sql));
      const s = result.service.at(-1)!;
      log(`run ${run}/${runs} ${op.label}: p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms (main statement alone p50 ${result.sql.at(-1)!.p50} ms)`);
    }
  }

  // How many messages of the whole database each query matches (what the GIN index has to sift).
  for (const [index, op] of ops.entries()) {
    if (!op.name.startsWith("search")) continue;
    const query = (op as Operation & { captured?: Captured }).captured!;
    const tsQuery = String(query.values[0]); // websearch_to_tsquery($1, …) is the first parameter
    const matches = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE search @@ websearch_to_tsquery('english', $1)`, [tsQuery]);
    results[index]!.matchesInDatabase = matches.rows[0]!.n;
  }

  const explain = async (name: string, label: string, text: string, params: unknown[], matches?: number) => {
    // Warm this statement's pages first: the timing loops of the other operations ran in between.
    for (let i = 0; i < 5; i += 1) await admin.query({ text, values: params });
    const explained = await admin.query<{ "QUERY PLAN": string }>({ text: `EXPLAIN (ANALYZE, BUFFERS) ${text}`, values: params });
    const plan = explained.rows.map((row) => row["QUERY PLAN"]).join("\n");
    const file = path.join(plansDir!, `${name}.txt`);
    writeFileSync(
      file,
      [
        `-- ${label}`,
        `-- EXPLAIN (ANALYZE, BUFFERS), warm cache, captured ${startedAt.toISOString()} by bench/mail/read-latency.mts`,
        `-- Postgres ${serverVersion}; ${formatInt(facts!.messages)} messages, ${SEED.hotAgent} holds ${formatInt(facts!.inbox)} in its inbox` +
          (matches === undefined ? "" : `; the query matches ${formatInt(matches)} messages of the database`),
        `-- The statement exactly as the service sends it (src/server/db/mail-sql.ts), then its parameters:`,
        "",
        text.trim(),
        "",
        `-- parameters: ${JSON.stringify(params)}`,
        "",
        plan,
        "",
      ].join("\n"),
    );
    return {
      file: path.relative(repoRoot, file),
      indexes: indexesIn(plan),
      executionMs: Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN),
      planningMs: Number(/Planning Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN),
    };
  };

  // Plans: EXPLAIN (ANALYZE, BUFFERS) of each main statement, caches warm.
  if (plansDir) {
    mkdirSync(plansDir, { recursive: true });
    for (const [index, op] of ops.entries()) {
      const { text, values: params } = (op as Operation & { captured?: Captured }).captured!;
      results[index]!.plan = await explain(op.name, op.label, text, params, results[index]!.matchesInDatabase);
    }
  }

  const summary = results.map((result) => ({
    name: result.name,
    label: result.label,
    rows: result.rows,
    statements: result.statements,
    matchesInDatabase: result.matchesInDatabase,
    p50: median(result.service.map((p) => p.p50)),
    p95: median(result.service.map((p) => p.p95)),
    p99: median(result.service.map((p) => p.p99)),
    sqlP50: median(result.sql.map((p) => p.p50)),
    aim: result.name === "fetch-inbox" ? AIM.inboxP50Ms : AIM.searchP50Ms,
    plan: result.plan,
  }));

  console.log("");
  console.log(
    `Mailroom mail benchmark B — ${startedAt.toISOString()} — in-process services on Postgres ${serverVersion}, ` +
      `${formatInt(facts!.messages)} messages; median of ${runs} runs × ${iterations} calls after ${warmup} warm-up calls`,
  );
  console.log(`${machine.cores} cores ${machine.cpuModel}, ${machine.ramGiB} GiB RAM, Node ${machine.node}, load average at start ${machine.loadAverageAtStart.join(" ")}`);
  console.log("");
  console.log(
    table(
      ["operation (as hot-agent)", "rows", "matches", "stmts", "p50 ms", "p95 ms", "p99 ms", "main SQL p50", "aim p50", "", "indexes in the plan"],
      summary.map((row) => [
        row.label,
        String(row.rows),
        row.matchesInDatabase === undefined ? "–" : formatInt(row.matchesInDatabase),
        String(row.statements),
        formatMs(row.p50),
        formatMs(row.p95),
        formatMs(row.p99),
        formatMs(row.sqlP50),
        `≤ ${row.aim}`,
        row.p50 <= row.aim ? "met" : "NOT met",
        row.plan ? row.plan.indexes.join(", ") : "–",
      ]),
    ),
  );
  console.log("");
  console.log("p50/p95/p99: the whole service call (project lookup, agent lookup + token check, main statement, mapping); main SQL: that statement alone.");
  console.log("matches: messages of the whole database the tsquery matches (the GIN index's share); rows: what the hot agent gets back.");
  if (plansDir) console.log(`plans: ${summary.map((row) => row.plan?.file).join(", ")}`);
  const file = resultsFile("read-latency", startedAt, values.json);
  writeJson(file, {
    benchmark: "mail-read-latency",
    date: startedAt.toISOString(),
    finished: new Date().toISOString(),
    command: `npx tsx bench/mail/read-latency.mts ${process.argv.slice(2).join(" ")}`.trim(),
    machine,
    postgres: serverVersion,
    database: { messages: facts!.messages, hotInbox: facts!.inbox, seed },
    options: { iterations, warmup, runs },
    summary,
    runs: results,
  });
  log(`result written to ${path.relative(process.cwd(), file)}`);
}

await runMain(TAG, () => 3 * 3600, main);
