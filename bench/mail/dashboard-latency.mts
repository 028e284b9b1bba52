// Mail benchmark C: the server time of the overseer console's pages on a big mailbox
// (bench/mail/seed.mts: 1M messages, ~1,000 agents in one project). In-process, no HTTP: each
// operation a page calls through tRPC is invoked directly with the local operator's context,
// many times after a warm-up; p50/p95 per operation, median over the runs. A page's server time
// is the sum of the operations it issues on load (they run in parallel in the browser, so the
// sum is an upper bound).
//
//   npx tsx bench/mail/dashboard-latency.mts [--database-url <server>]   create, seed, measure, drop
//   npx tsx bench/mail/dashboard-latency.mts --reuse <database url>       an already seeded database
//   options: --iterations 200 --warmup 20 --runs 3 --keep --json <file> (--help)
import { parseArgs } from "node:util";
import pg from "pg";
import { openDatabase } from "../../src/server/db/client";
import { invoke } from "../../src/server/operations/invoke";
import type { AnyOperation } from "../../src/server/operations/define";
import type { ServiceContext } from "../../src/server/services/context";
import { dashboardMail, dashboardReceipts } from "../../src/server/services/dashboard/mail";
import { dashboardProject } from "../../src/server/services/dashboard/project";
import { operatorInbox, operatorMessage, operatorSearch, operatorThread } from "../../src/server/services/messages/dashboard";
import { projectsOverview } from "../../src/server/services/projects/overview";
import { formatInt, median, table } from "../lib/report.mjs";
import { DEFAULT_SERVER_URL, log as logWith, machineInfo, numberOption, onCleanup, percentiles, resultsFile, runMain, writeJson } from "./common.mjs";
import { inProcessContext, SEEDED_DATABASE_OPTIONS, seededDatabase } from "./in-process.mjs";
import { SEED, VOCABULARY } from "./seed.mjs";

const TAG = "dashboard-latency";
const log = (message: string) => logWith(TAG, message);

const USAGE = `Usage: npx tsx bench/mail/dashboard-latency.mts [options]

  --database-url <url>   Postgres server (127.0.0.1) to create and seed a fresh database on
                         (env BENCH_DATABASE_URL, default ${DEFAULT_SERVER_URL}); dropped afterwards unless --keep
  --reuse <url>          measure an already seeded database (bench/mail/seed.mts --keep) instead
  --messages <n> --agents <n> --hot-inbox <n>   seed size (default 1000000 / 1000 / 10000)
  --iterations <n>       measured calls per operation per run (default 200)
  --warmup <n>           unmeasured calls per operation before the runs (default 20)
  --runs <n>             runs; medians of the per-run percentiles are reported (default 3)
  --keep                 keep the database it created (its URL is printed)
  --json <file>          JSON result path (default bench/results/<date>-mail-dashboard-latency.json)
  -h, --help             this text`;

interface Operation {
  name: string;
  label: string;
  call(ctx: ServiceContext): Promise<unknown>;
}

/** The pages of the console and the operations each issues on load. */
const PAGES: { page: string; operations: string[] }[] = [
  { page: "/ (overview + activity feed)", operations: ["projects-overview", "mail-unified-15"] },
  { page: "/inbox, a message open", operations: ["projects-overview", "mail-unified", "message", "receipts"] },
  { page: "/inbox, a page deep in the history", operations: ["projects-overview", "mail-unified-deep"] },
  { page: "/projects/<slug> (agents, reservations, slots, contacts)", operations: ["projects-overview", "project"] },
  { page: "/projects/<slug>?tab=mail, thread open", operations: ["projects-overview", "mail-project", "message", "thread", "receipts"] },
  { page: "/mail/<slug>/<agent> (profile + inbox)", operations: ["projects-overview", "project", "agent-inbox"] },
  { page: "/search, common word", operations: ["projects-overview", "search-common"] },
  { page: "/search, common word to one recipient", operations: ["projects-overview", "search-common-recipient"] },
];

async function operations(admin: pg.Client): Promise<Operation[]> {
  const project = SEED.projectKey;
  const { rows } = await admin.query<{ max: number; thread: string; sample: number }>(
    `SELECT (SELECT max(id) FROM messages) AS max,
            (SELECT thread_id FROM messages WHERE thread_id IS NOT NULL ORDER BY id DESC LIMIT 1) AS thread,
            (SELECT max(message_id) FROM message_recipients) AS sample`,
  );
  const { max, thread, sample } = rows[0]!;
  const op = (name: string, label: string, operation: AnyOperation, input: Record<string, unknown>): Operation => ({
    name,
    label,
    call: (ctx) => invoke(operation, ctx, input),
  });
  return [
    op("projects-overview", "projects_overview (every page: the overseer badge)", projectsOverview, {}),
    op("mail-unified-15", "dashboard_mail every project, 15 newest", dashboardMail, { limit: 15 }),
    op("mail-unified", "dashboard_mail every project, 50 newest", dashboardMail, { limit: 50 }),
    op("mail-unified-deep", "dashboard_mail every project, 50 before the middle id", dashboardMail, { limit: 50, before_id: Math.floor(max / 2) }),
    op("mail-project", "dashboard_mail one project, 50 newest", dashboardMail, { project_key: project, limit: 50 }),
    op("project", `dashboard_project (${"~1,000"} agents)`, dashboardProject, { project_key: project }),
    op("message", "dashboard_message", operatorMessage, { project_key: project, message_id: sample }),
    op("receipts", "dashboard_receipts", dashboardReceipts, { project_key: project, message_id: sample }),
    op("thread", "dashboard_thread", operatorThread, { project_key: project, thread_id: thread }),
    op("agent-inbox", `dashboard_inbox ${SEED.hotAgent}, 50 newest`, operatorInbox, { project_key: project, agent_name: SEED.hotAgent, limit: 50 }),
    op("search-common", `dashboard_search '${VOCABULARY[0]}' (whole project)`, operatorSearch, { project_key: project, query: VOCABULARY[0], limit: 50 }),
    op("search-common-recipient", `dashboard_search '${VOCABULARY[0]}' to ${SEED.hotAgent}`, operatorSearch, {
      project_key: project,
      query: VOCABULARY[0],
      recipient: SEED.hotAgent,
      limit: 50,
    }),
  ];
}

function elapsedMs(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      ...SEEDED_DATABASE_OPTIONS,
      iterations: { type: "string" },
      warmup: { type: "string" },
      runs: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const iterations = numberOption("iterations", values.iterations, 200, { integer: true });
  const warmup = numberOption("warmup", values.warmup, 20, { integer: true, min: 0 });
  const runs = numberOption("runs", values.runs, 3, { integer: true });
  const startedAt = new Date();
  const machine = machineInfo();
  log(`${machine.cores} cores (${machine.cpuModel}), ${machine.ramGiB} GiB, Node ${machine.node}`);

  const { url } = await seededDatabase(values, log);

  const database = await openDatabase({ url, migrate: false, poolMax: 4 });
  onCleanup("database pool", () => database.close());
  const ctx = inProcessContext(database.prisma, url);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  onCleanup("admin client", () => admin.end());
  const serverVersion = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
  const facts = (
    await admin.query<{ messages: number; recipients: number; agents: number }>(
      `SELECT (SELECT count(*)::int FROM messages) AS messages, (SELECT count(*)::int FROM message_recipients) AS recipients, (SELECT count(*)::int FROM agents) AS agents`,
    )
  ).rows[0]!;
  log(`database: ${formatInt(facts.messages)} messages, ${formatInt(facts.recipients)} recipient rows, ${formatInt(facts.agents)} agents`);

  const ops = await operations(admin);
  const results = new Map(ops.map((op) => [op.name, [] as ReturnType<typeof percentiles>[]]));
  log(`warm-up: ${warmup} calls per operation`);
  for (const op of ops) for (let i = 0; i < warmup; i += 1) await op.call(ctx);
  for (let run = 1; run <= runs; run += 1) {
    for (const op of ops) {
      const times: number[] = [];
      for (let i = 0; i < iterations; i += 1) {
        const t0 = process.hrtime.bigint();
        await op.call(ctx);
        times.push(elapsedMs(t0));
      }
      const p = percentiles(times);
      results.get(op.name)!.push(p);
      log(`run ${run}/${runs} ${op.label}: p50 ${p.p50} ms, p95 ${p.p95} ms`);
    }
  }

  const summary = ops.map((op) => ({
    name: op.name,
    label: op.label,
    p50: median(results.get(op.name)!.map((p) => p.p50)),
    p95: median(results.get(op.name)!.map((p) => p.p95)),
  }));
  const byName = new Map(summary.map((row) => [row.name, row]));
  const pages = PAGES.map(({ page, operations: names }) => ({
    page,
    p50: Math.round(names.reduce((sum, name) => sum + byName.get(name)!.p50, 0) * 100) / 100,
    operations: names,
  }));

  console.log("");
  console.log(
    `Mailroom mail benchmark C — ${startedAt.toISOString()} — the console's operations in-process on Postgres ${serverVersion}, ` +
      `${formatInt(facts.messages)} messages, ${formatInt(facts.agents)} agents; median of ${runs} runs × ${iterations} calls after ${warmup} warm-up calls`,
  );
  console.log(`${machine.cores} cores ${machine.cpuModel}, ${machine.ramGiB} GiB RAM, Node ${machine.node}, load average at start ${machine.loadAverageAtStart.join(" ")}`);
  console.log("");
  console.log(table(["operation", "p50 ms", "p95 ms"], summary.map((row) => [row.label, row.p50.toFixed(2), row.p95.toFixed(2)])));
  console.log("");
  console.log(table(["page", "server time p50 ms (sum)", "operations"], pages.map((row) => [row.page, row.p50.toFixed(2), row.operations.join(", ")])));
  const file = resultsFile("dashboard-latency", startedAt, values.json);
  writeJson(file, { startedAt, machine, serverVersion, facts, iterations, warmup, runs, operations: summary, pages });
  log(`results: ${file}`);
}

await runMain(TAG, () => 3 * 3600, main);
