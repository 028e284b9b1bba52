import type { Db } from "@/server/db/client";

// Every MCP tool call becomes a tool_call_metrics row, so tooling/metrics and tooling/recent show
// the same figures on every instance sharing the database. Recording must not slow the calls it
// measures: a call only appends to an in-memory buffer, which is written as one multi-row insert
// about once a second (and when the server stops). The buffer is bounded: past MAX_BUFFER entries
// the oldest are dropped and counted. The same flush deletes rows older than the retention period,
// at most once every RETENTION_EVERY_MS per process, so the table does not grow forever.

export interface ToolCall {
  tool: string;
  surface: string;
  projectId: number | null;
  agentName: string | null;
  durationMs: number;
  ok: boolean;
  errorCode: string | null;
  createdTs: Date;
}

export const FLUSH_EVERY_MS = 1000;
export const MAX_BUFFER = 10_000;
const RETENTION_EVERY_MS = 3600_000;
export const DEFAULT_METRICS_RETENTION_DAYS = 7;

/** Deletes tool-call records older than the retention period; returns how many. */
export async function pruneToolMetrics(db: Db, retentionDays: number, now = new Date()): Promise<number> {
  const { count } = await db.toolCallMetric.deleteMany({ where: { createdTs: { lt: new Date(now.getTime() - retentionDays * 86_400_000) } } });
  return count;
}

/** Recorders holding unwritten records: what a shutdown flush must write. */
const pending = new Set<MetricsRecorder>();

class MetricsRecorder {
  private buffer: ToolCall[] = [];
  private dropped = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private lastRetention = 0;

  constructor(
    private readonly db: Db,
    readonly retentionDays: number,
  ) {}

  record(call: ToolCall): void {
    if (this.buffer.length >= MAX_BUFFER) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push(call);
    pending.add(this);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
      // A pending flush must not keep a finished process (or test worker) alive.
      this.timer.unref?.();
    }
  }

  /** Writes what is buffered; concurrent flushes run one after another. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    pending.delete(this);
    if (this.dropped) {
      console.warn(`[metrics] ${this.dropped} tool-call records dropped: the buffer was full (${MAX_BUFFER}).`);
      this.dropped = 0;
    }
    try {
      if (batch.length) await this.db.toolCallMetric.createMany({ data: batch });
      if (Date.now() - this.lastRetention >= RETENTION_EVERY_MS) {
        this.lastRetention = Date.now();
        await pruneToolMetrics(this.db, this.retentionDays);
      }
    } catch (error) {
      // Metrics are best effort: a failed batch is reported and dropped, never retried forever.
      console.error(`[metrics] could not write ${batch.length} tool-call records:`, (error as Error).message);
    }
  }
}

// One recorder per database client (the process has one; tests open several).
const recorders = new WeakMap<Db, MetricsRecorder>();

function recorderFor(db: Db, retentionDays: number): MetricsRecorder {
  let recorder = recorders.get(db);
  if (!recorder) {
    recorder = new MetricsRecorder(db, retentionDays);
    recorders.set(db, recorder);
  }
  return recorder;
}

/** Buffers one tool call for the next batch insert. */
export function recordToolCall(db: Db, call: ToolCall, retentionDays = DEFAULT_METRICS_RETENTION_DAYS): void {
  recorderFor(db, retentionDays).record(call);
}

/** Writes this client's buffered records now (tests; tooling resources do not wait for it). */
export async function flushToolMetrics(db: Db): Promise<void> {
  await recorders.get(db)?.flush();
}

/** Writes every buffered record: the server calls it before it closes the database. */
export async function flushAllToolMetrics(): Promise<void> {
  await Promise.all([...pending].map((recorder) => recorder.flush()));
}
