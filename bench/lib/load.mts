import autocannon, { type RequestParams } from "autocannon";
import { machineBusyCpuSeconds, processTreeCpuSeconds } from "./processes.mjs";

// One autocannon run that counts only real successes: autocannon's own totals include non-2xx
// responses, and an MCP failure usually comes back as HTTP 200 (a JSON-RPC error, or a tool
// result with isError). Every response body is checked; latency percentiles are computed from
// the successful responses only, at 0.01 ms resolution.

/** undefined: a success; otherwise the failure's reason (bucketed in the report). */
export type Check = (status: number, body: string) => string | undefined;

export interface LoadSpec {
  url: string;
  connections: number;
  duration: number;
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  /** A fixed body, or one generated per request. */
  /** A fixed body, or one per request (optionally with its own headers, e.g. the caller's token). */
  body?: string | (() => string | { body: string; headers: Record<string, string> });
  check: Check;
  /** Processes whose CPU use is reported (label → pid, the process tree is counted). */
  watch?: Record<string, number>;
  /** The watched process that serves this load (its CPU per request is reported). */
  server?: string;
}

export interface LoadResult {
  durationS: number;
  responses: number;
  successes: number;
  failures: number;
  /** Successful responses per second: the headline figure. */
  successPerSec: number;
  /** All responses per second, whatever their outcome (autocannon's own figure). */
  responsesPerSec: number;
  /** Latency of the successful responses, ms. */
  latency: { p50: number; p90: number; p99: number; mean: number; max: number };
  statusCodes: Record<string, number>;
  connectionErrors: number;
  timeouts: number;
  failureReasons: Record<string, number>;
  failureSamples: string[];
  /** CPU use during the run, in % of one core: each watched process, this load generator, the rest of the machine. */
  cpu: Record<string, number>;
  /** CPU milliseconds the serving process spent per successful response (NaN if not watched). */
  serverCpuMsPerOk: number;
}

class Samples {
  private values = new Float64Array(1 << 16);
  private length = 0;
  push(value: number) {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  summary() {
    const sorted = this.values.slice(0, this.length).sort();
    const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]! : NaN);
    let sum = 0;
    for (const value of sorted) sum += value;
    const round = (value: number) => Math.round(value * 100) / 100;
    return {
      p50: round(at(0.5)),
      p90: round(at(0.9)),
      p99: round(at(0.99)),
      mean: round(sorted.length ? sum / sorted.length : NaN),
      max: round(sorted.length ? sorted[sorted.length - 1]! : NaN),
    };
  }
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies = new Samples();
  const failureReasons: Record<string, number> = {};
  const failureSamples: string[] = [];
  let successes = 0;
  let failures = 0;
  // autocannon calls onResponse and then, synchronously, emits "response" with the latency.
  let lastOk = false;

  const onResponse = (status: number, body: string) => {
    const reason = spec.check(status, body);
    lastOk = reason === undefined;
    if (lastOk) {
      successes += 1;
      return;
    }
    failures += 1;
    failureReasons[reason!] = (failureReasons[reason!] ?? 0) + 1;
    if (failureSamples.length < 5) failureSamples.push(`HTTP ${status}: ${body.slice(0, 500)}`);
  };

  const generate = typeof spec.body === "function" ? spec.body : undefined;
  const request = {
    method: spec.method,
    path: spec.path,
    headers: spec.headers ?? {},
    ...(typeof spec.body === "string" ? { body: spec.body } : {}),
    ...(generate
      ? {
          setupRequest: (params: RequestParams) => {
            const next = generate();
            return typeof next === "string" ? { ...params, body: next } : { ...params, body: next.body, headers: { ...params.headers, ...next.headers } };
          },
        }
      : {}),
    onResponse,
  };

  const watched = Object.entries(spec.watch ?? {});
  const cpuBefore = watched.map(([, pid]) => processTreeCpuSeconds(pid));
  const ownBefore = process.cpuUsage();
  const machineBefore = machineBusyCpuSeconds();
  const wallBefore = process.hrtime.bigint();

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: spec.url, connections: spec.connections, duration: spec.duration, pipelining: 1, timeout: 10, requests: [request] },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        const wall = Number(process.hrtime.bigint() - wallBefore) / 1e9;
        const percent = (seconds: number) => Math.round((seconds / wall) * 1000) / 10;
        const cpu: Record<string, number> = {};
        let accounted = 0;
        let serverSeconds = NaN;
        watched.forEach(([label, pid], index) => {
          const used = processTreeCpuSeconds(pid) - cpuBefore[index]!;
          accounted += used;
          cpu[label] = percent(used);
          if (label === spec.server) serverSeconds = used;
        });
        const own = process.cpuUsage(ownBefore);
        const ownSeconds = (own.user + own.system) / 1e6;
        accounted += ownSeconds;
        cpu.loadgen = percent(ownSeconds);
        cpu.other = percent(Math.max(0, machineBusyCpuSeconds() - machineBefore - accounted));

        const statusCodes: Record<string, number> = {};
        for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count;
        const responses = successes + failures;
        const durationS = result.duration;
        resolve({
          durationS,
          responses,
          successes,
          failures,
          successPerSec: Math.round(successes / durationS),
          responsesPerSec: Math.round(responses / durationS),
          latency: latencies.summary(),
          statusCodes,
          connectionErrors: result.errors,
          timeouts: result.timeouts,
          failureReasons,
          failureSamples,
          cpu,
          serverCpuMsPerOk: successes ? Math.round((serverSeconds / successes) * 1e6) / 1e3 : NaN,
        });
      },
    );
    instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
      if (lastOk) latencies.push(responseTime);
    });
  });
}

// Checks.

/** A plain JSON endpoint (health, the bare server): 2xx and a body that parses with status "ok". */
export const checkJsonOk: Check = (status, body) => {
  if (status < 200 || status > 299) return `HTTP ${status}`;
  try {
    return (JSON.parse(body) as { status?: unknown }).status === "ok" ? undefined : "body without status ok";
  } catch {
    return "unparseable body";
  }
};

interface JsonRpcReply {
  result?: { isError?: boolean; content?: { text?: string }[]; structuredContent?: { error?: { type?: string } } };
  error?: { code?: number; message?: string };
}

/**
 * MCP requests other than tools/call (tools/list): 2xx and a JSON-RPC result. A body that starts
 * with `{"result":` is a success response (a JSON-RPC response carries a result or an error, never
 * both) and is accepted without parsing it: tools/list answers ~28 KB, and parsing each one
 * would cost the load generator as much CPU as the server spends, on the same two cores.
 * Anything else gets the full check (and its failure reason).
 */
export const checkMcpResult: Check = (status, body) => {
  if (status >= 200 && status <= 299 && body.startsWith('{"result":')) return undefined;
  return checkMcp(status, body);
};

/** MCP: 2xx, a JSON-RPC result (not an error), and for tools/call a result without isError. */
export const checkMcp: Check = (status, body) => {
  if (status < 200 || status > 299) return `HTTP ${status}`;
  let reply: JsonRpcReply;
  try {
    reply = JSON.parse(body) as JsonRpcReply;
  } catch {
    return "unparseable body";
  }
  if (reply.error) return `JSON-RPC error ${reply.error.code}: ${String(reply.error.message).slice(0, 100)}`;
  if (!reply.result) return "no result";
  if (reply.result.isError) {
    const type = reply.result.structuredContent?.error?.type;
    return `tool error: ${type ?? reply.result.content?.[0]?.text?.slice(0, 100) ?? "?"}`;
  }
  return undefined;
};
