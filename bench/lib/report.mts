import type { LoadResult } from "./load.mjs";

// Medians across runs and the printed table.

export function median(values: number[]): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
}

export interface ScenarioSummary {
  label: string;
  runs: LoadResult[];
  median: {
    successPerSec: number;
    p50: number;
    p99: number;
    /** CPU of each watched process / the load generator / the rest of the machine, % of one core. */
    cpu: Record<string, number>;
    /** CPU ms the serving process spent per successful response. */
    serverCpuMsPerOk: number;
  };
  failures: number;
  responses: number;
}

export function summarize(label: string, runs: LoadResult[]): ScenarioSummary {
  const cpuKeys = [...new Set(runs.flatMap((run) => Object.keys(run.cpu)))];
  return {
    label,
    runs,
    median: {
      successPerSec: Math.round(median(runs.map((run) => run.successPerSec))),
      p50: median(runs.map((run) => run.latency.p50)),
      p99: median(runs.map((run) => run.latency.p99)),
      cpu: Object.fromEntries(cpuKeys.map((key) => [key, Math.round(median(runs.map((run) => run.cpu[key] ?? NaN)))])),
      serverCpuMsPerOk: median(runs.map((run) => run.serverCpuMsPerOk)),
    },
    failures: runs.reduce((sum, run) => sum + run.failures + run.connectionErrors + run.timeouts, 0),
    responses: runs.reduce((sum, run) => sum + run.responses, 0),
  };
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const fixed2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function formatInt(value: number): string {
  return Number.isFinite(value) ? integer.format(value) : "–";
}

export function formatMs(value: number): string {
  return Number.isFinite(value) ? fixed2.format(value) : "–";
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ");
  const rule = widths.map((width) => "─".repeat(width)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export function summaryTable(summaries: ScenarioSummary[]): string {
  const rows = summaries.map((summary) => {
    const cpu = summary.median.cpu;
    const target = summary.label.startsWith("bare") ? cpu.bare : cpu.app;
    return [
      summary.label,
      formatInt(summary.median.successPerSec),
      formatMs(summary.median.p50),
      formatMs(summary.median.p99),
      formatInt(summary.failures),
      summary.runs.map((run) => formatInt(run.successPerSec)).join(" / "),
      `${formatInt(target ?? NaN)} / ${formatInt(cpu.loadgen ?? NaN)} / ${formatInt(cpu.other ?? NaN)}`,
      Number.isFinite(summary.median.serverCpuMsPerOk) ? summary.median.serverCpuMsPerOk.toFixed(3) : "–",
    ];
  });
  return table(
    ["scenario", "ok req/s", "p50 ms", "p99 ms", "failed", "each run (ok req/s)", "CPU % server/loadgen/other", "server CPU ms/req"],
    rows,
  );
}
