// `npm run bench`: load test of the built app with autocannon — GET /api/health, MCP tools/list
// and MCP register_agent — next to a bare node:http server in its own process (the machine's
// limit). Prints median successful req/s and p50/p99 latency, and writes a JSON result to
// bench/results/. Options: `npm run bench -- --help`. See docs/benchmarks.md.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkJsonOk, checkMcp, checkMcpResult, runLoad, type LoadResult, type LoadSpec } from "./lib/load.mjs";
import { parseOptions, USAGE, type BenchOptions, type Scenario } from "./lib/options.mjs";
import { createBenchDatabase, redact } from "./lib/postgres.mjs";
import {
  buildId,
  claimPort,
  freePort,
  pidListeningOn,
  repoRoot,
  startApp,
  startBareServer,
  waitForQuiet,
  waitUntilReady,
  type OwnedProcess,
} from "./lib/processes.mjs";
import { formatInt, summarize, summaryTable, type ScenarioSummary } from "./lib/report.mjs";

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const LABELS: Record<Scenario | "bare", string> = {
  bare: "bare node:http (limit)",
  health: "GET /api/health",
  "tools-list": "MCP tools/list",
  "register-agent": "MCP register_agent",
};
const TARGET_HEALTH_RATIO = 0.15;
const TARGET_TOOLS_LIST = 3000;

// Cleanup, in reverse order of setup, whether the run ends normally, fails or is interrupted.
const cleanups: { name: string; run: () => Promise<void> | void }[] = [];
let cleaningUp: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const { name, run } of cleanups.reverse()) {
      try {
        await run();
      } catch (error) {
        console.error(`[bench] cleanup '${name}' failed: ${(error as Error).message}`);
      }
    }
  })();
  return cleaningUp;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\n[bench] ${signal}: stopping…`);
    void cleanup().then(() => process.exit(130));
  });
}

function log(message: string) {
  console.log(`[bench] ${message}`);
}

function machineInfo() {
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
    // Uncommitted changes under src/ (undefined outside a git checkout).
    gitDirty: (() => {
      const status = git(["status", "--porcelain", "--untracked-files=no", "--", "src"]);
      return status === "?" ? undefined : status !== "";
    })(),
  };
}

async function mcpCall(url: string, method: string, params: unknown): Promise<unknown> {
  const response = await fetch(`${url}/api/mcp`, {
    method: "POST",
    headers: MCP_HEADERS,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = await response.text();
  const failure = checkMcp(response.status, body);
  if (failure) throw new Error(`${method} failed (${failure}): ${body.slice(0, 500)}`);
  return (JSON.parse(body) as { result: unknown }).result;
}

/** Projects for register_agent: one fresh set per phase, so every run starts from the same state. */
async function ensureProjects(url: string, tag: string, phases: number, perPhase: number): Promise<string[][]> {
  const sets: string[][] = [];
  for (let phase = 0; phase < phases; phase += 1) {
    sets.push(Array.from({ length: perPhase }, (_, index) => `/bench/${tag}/run${phase}/p${index + 1}`));
  }
  const all = sets.flat();
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      const humanKey = all[next++]!;
      await mcpCall(url, "tools/call", { name: "ensure_project", arguments: { human_key: humanKey } });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return sets;
}

function specFor(
  scenario: Scenario | "bare",
  target: { app: string; bare: string },
  options: BenchOptions,
  duration: number,
  watch: Record<string, number>,
  projects: string[] = [],
): LoadSpec {
  const common = { connections: options.connections, duration, watch, server: scenario === "bare" ? "bare" : "app" };
  switch (scenario) {
    case "bare":
      return { ...common, url: target.bare, method: "GET", path: "/", check: checkJsonOk };
    case "health":
      return { ...common, url: target.app, method: "GET", path: "/api/health", check: checkJsonOk };
    case "tools-list":
      return {
        ...common,
        url: target.app,
        method: "POST",
        path: "/api/mcp",
        headers: MCP_HEADERS,
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
        check: checkMcpResult,
      };
    case "register-agent": {
      let sequence = 0;
      return {
        ...common,
        url: target.app,
        method: "POST",
        path: "/api/mcp",
        headers: MCP_HEADERS,
        // No name: a new generated agent each time, round-robin over the phase's projects.
        body: () => {
          sequence += 1;
          const projectKey = projects[sequence % projects.length]!;
          return JSON.stringify({
            jsonrpc: "2.0",
            id: sequence,
            method: "tools/call",
            params: { name: "register_agent", arguments: { project_key: projectKey, program: "bench", model: "bench" } },
          });
        },
        check: checkMcp,
      };
    }
  }
}

function describe(result: LoadResult): string {
  const failed = result.failures + result.connectionErrors + result.timeouts;
  const reasons = Object.entries(result.failureReasons)
    .map(([reason, count]) => `${count}× ${reason}`)
    .join("; ");
  return (
    `${formatInt(result.successPerSec)} ok req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms` +
    (failed ? `, ${failed} failed (${[reasons, result.connectionErrors ? `${result.connectionErrors} connection errors` : "", result.timeouts ? `${result.timeouts} timeouts` : ""].filter(Boolean).join("; ")})` : "") +
    `, CPU ${Object.entries(result.cpu)
      .map(([label, value]) => `${label} ${value}%`)
      .join(" ")}`
  );
}

async function main(): Promise<void> {
  let options: BenchOptions | "help";
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  const opts = options;
  const startedAt = new Date();
  const machine = machineInfo();
  const scenarios = opts.scenarios;
  const phases = 1 + opts.runs; // warm-up + measured runs
  const plannedSeconds = (1 + scenarios.length) * (opts.warmup + opts.runs * opts.duration);
  const worstSeconds = plannedSeconds + (1 + scenarios.length) * (1 + opts.runs) * opts.quietWait + 300;
  // The script always stops by itself: a hard deadline well past the worst case.
  const deadline = setTimeout(() => {
    console.error(`[bench] still running ${Math.round(worstSeconds / 60)} min after start: giving up.`);
    void cleanup().then(() => process.exit(1));
  }, worstSeconds * 1000);
  deadline.unref();

  log(
    `${machine.cores} cores (${machine.cpuModel}), ${machine.ramGiB} GiB, Node ${machine.node}; ` +
      `${opts.connections} connections, ${opts.runs} × ${opts.duration} s after ${opts.warmup} s warm-up, ~${Math.ceil(plannedSeconds / 60)} min`,
  );

  // The bare baseline, in its own process.
  const bare = await startBareServer(await freePort());
  cleanups.push({ name: "bare server", run: () => bare.stop(5_000) });
  log(`bare node:http server on ${bare.url} (pid ${bare.pid})`);

  // The app: the given URL, or the built app started here.
  let appUrl: string;
  let app: OwnedProcess | undefined;
  let database: { kind: "pglite" | "postgres" | "external"; label: string; serverVersion?: string } = { kind: "external", label: "as configured in the running app" };
  let build: string | undefined;
  let profileDir: string | undefined;
  if (opts.url) {
    appUrl = opts.url;
    log(`target: ${appUrl} (already running)`);
  } else {
    if (opts.server !== "handlers") build = buildId();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "mailroom-bench-"));
    cleanups.push({ name: "data dir", run: () => rmSync(dataDir, { recursive: true, force: true }) });
    let databaseUrl: string | undefined;
    if (opts.databaseUrl) {
      const db = await createBenchDatabase(opts.databaseUrl);
      cleanups.push({ name: `drop database ${db.name}`, run: () => db.drop() });
      databaseUrl = db.url;
      database = { kind: "postgres", label: redact(db.url), serverVersion: db.serverVersion };
      log(`fresh Postgres ${db.serverVersion} database ${db.name}`);
    } else {
      database = { kind: "pglite", label: `pglite in ${dataDir}` };
    }
    if (opts.cpuProf) {
      profileDir = path.join(repoRoot, "bench", "results", "profiles", startedAt.toISOString().replace(/[:.]/g, "-"));
      mkdirSync(profileDir, { recursive: true });
    }
    const port = opts.port ? await claimPort(opts.port) : await freePort();
    const started = startApp({ kind: opts.server, port, dataDir, databaseUrl, cpuProfDir: profileDir });
    app = started;
    cleanups.push({ name: "app", run: () => started.stop() });
    log(`${started.name} on ${started.url} (pid ${started.pid}${build ? `, build ${build}` : ""}, ${database.kind}); waiting for /api/ready…`);
    await waitUntilReady(started);
    appUrl = started.url;
  }

  // Fail fast, with the reason, if MCP does not answer at all.
  const listing = (await mcpCall(appUrl, "tools/list", {})) as { tools: unknown[] };
  log(`tools/list answers ${listing.tools.length} tools`);
  let projectSets: string[][] = [];
  if (scenarios.includes("register-agent")) {
    const tag = startedAt.getTime().toString(36);
    projectSets = await ensureProjects(appUrl, tag, phases, opts.projects);
    log(`${phases} × ${opts.projects} projects for register_agent (/bench/${tag}/run<N>/p<M>)`);
  }

  // With --url, the process listening on that port is found through /proc (when it is visible).
  const appPid = app?.pid ?? pidListeningOn(Number(new URL(appUrl).port || 80));
  if (!app) log(appPid ? `the target's process is pid ${appPid}` : "the target's process is not visible: no server CPU figures");
  const watch: Record<string, number> = appPid ? { app: appPid, bare: bare.pid } : { bare: bare.pid };
  const target = { app: appUrl, bare: bare.url };
  const order: (Scenario | "bare")[] = ["bare", ...scenarios];
  const ownPids = [bare.pid, ...(appPid ? [appPid] : [])];
  const quiet = async () => {
    if (opts.quietWait <= 0) return;
    const { waited, otherPercent } = await waitForQuiet(opts.quietWait, ownPids);
    if (otherPercent >= 25) log(`  the machine is busy (other processes at ${otherPercent}% of a core after ${waited} s); measuring anyway`);
    else if (waited > 1.5) log(`  waited ${waited} s for other processes to go quiet`);
  };

  if (opts.warmup > 0) {
    for (const scenario of order) {
      await quiet();
      log(`warm-up ${LABELS[scenario]} (${opts.warmup} s)`);
      const result = await runLoad(specFor(scenario, target, opts, opts.warmup, watch, projectSets[0]));
      log(`  ${describe(result)}`);
    }
  }

  // Runs interleave the scenarios, so a slow minute on the machine hits all of them alike.
  const results = new Map<Scenario | "bare", LoadResult[]>(order.map((scenario) => [scenario, []]));
  for (let run = 1; run <= opts.runs; run += 1) {
    for (const scenario of order) {
      await quiet();
      const result = await runLoad(specFor(scenario, target, opts, opts.duration, watch, projectSets[run]));
      results.get(scenario)!.push(result);
      log(`run ${run}/${opts.runs} ${LABELS[scenario]}: ${describe(result)}`);
      if (app?.hasExited()) throw new Error(`The app exited during the benchmark.\n--- app output ---\n${app.output()}`);
    }
  }

  const summaries: ScenarioSummary[] = order.map((scenario) => summarize(LABELS[scenario], results.get(scenario)!));
  const bareSummary = summaries[0]!;
  const healthSummary = scenarios.includes("health") ? summaries[order.indexOf("health")] : undefined;
  const toolsSummary = scenarios.includes("tools-list") ? summaries[order.indexOf("tools-list")] : undefined;
  const ratio = healthSummary ? healthSummary.median.successPerSec / bareSummary.median.successPerSec : undefined;

  if (build && buildId() !== build) {
    console.warn(`[bench] warning: .next was rebuilt during the benchmark (${build} → ${buildId()}); the figures may mix builds.`);
  }

  console.log("");
  console.log(
    `Mailroom benchmark — ${startedAt.toISOString()} — ${opts.url ? opts.url : { production: "production server (server.mts)", next: "next start", handlers: "handlers on node:http (no Next)" }[opts.server]}, ${database.kind}${database.serverVersion ? ` ${database.serverVersion}` : ""}, ` +
      `${opts.connections} connections, median of ${opts.runs} × ${opts.duration} s`,
  );
  console.log(`${machine.cores} cores ${machine.cpuModel}, ${machine.ramGiB} GiB RAM, Node ${machine.node}, load average at start ${machine.loadAverageAtStart.join(" ")}`);
  console.log("");
  console.log(summaryTable(summaries));
  console.log("");
  if (ratio !== undefined) {
    console.log(
      `health ÷ bare: ${(ratio * 100).toFixed(1)}% (aim ≥ ${TARGET_HEALTH_RATIO * 100}%: ${ratio >= TARGET_HEALTH_RATIO ? "met" : "NOT met"})`,
    );
  }
  if (toolsSummary) {
    console.log(
      `tools/list: ${formatInt(toolsSummary.median.successPerSec)} req/s (aim ≥ ${formatInt(TARGET_TOOLS_LIST)}: ${toolsSummary.median.successPerSec >= TARGET_TOOLS_LIST ? "met" : "NOT met"})`,
    );
  }
  const busiest = Math.max(...summaries.map((summary) => summary.median.cpu.other ?? 0));
  if (busiest > 50) {
    console.log(
      `Warning: other processes used up to ${busiest}% of a core during the runs (median); on a machine this size that lowers every figure.`,
    );
  }
  console.log("ok req/s counts 2xx responses without a JSON-RPC error or tool error; latency is of those responses.");
  console.log("CPU is % of one core during the measured runs (median): the server under test, the load generator, everything else;");
  console.log("server CPU ms/req is the serving process's CPU time per successful response (less sensitive to a busy machine than req/s).");

  const resultsDir = path.join(repoRoot, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const file = opts.json
    ? path.resolve(opts.json)
    : path.join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, "-")}-${opts.url ? "url" : opts.server}-${database.kind}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: startedAt.toISOString(),
        finished: new Date().toISOString(),
        command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
        machine,
        database,
        buildId: build,
        options: { ...opts, databaseUrl: opts.databaseUrl ? redact(opts.databaseUrl) : undefined },
        medians: Object.fromEntries(
          summaries.map((summary) => [
            summary.label,
            { okReqPerSec: summary.median.successPerSec, p50Ms: summary.median.p50, p99Ms: summary.median.p99, cpuPercent: summary.median.cpu, serverCpuMsPerOk: summary.median.serverCpuMsPerOk, failed: summary.failures },
          ]),
        ),
        healthToBareRatio: ratio,
        aims: {
          healthToBareRatio: { target: TARGET_HEALTH_RATIO, met: ratio === undefined ? undefined : ratio >= TARGET_HEALTH_RATIO },
          toolsListReqPerSec: { target: TARGET_TOOLS_LIST, met: toolsSummary ? toolsSummary.median.successPerSec >= TARGET_TOOLS_LIST : undefined },
        },
        runs: Object.fromEntries(summaries.map((summary) => [summary.label, summary.runs])),
        profileDir,
      },
      null,
      2,
    ) + "\n",
  );
  log(`result written to ${path.relative(process.cwd(), file)}`);
}

try {
  await main();
  await cleanup();
} catch (error) {
  console.error(`[bench] failed: ${(error as Error).stack ?? error}`);
  await cleanup();
  process.exit(1);
}
