import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import type { EventBus } from "@/server/events/bus";
import type { ArchiveConfig } from "@/server/services/context";
import { registerWriter, unregisterWriter, type ArchiveWriterHandle, type WriterState } from "./worker";

// The archive writer in a worker thread of its own, as the server runs it on Postgres. Rendering
// and writing a batch's hundreds of files is JavaScript work that, on the thread serving
// requests, queued behind the requests and added to their latency; here it runs beside them.
// The thread opens its own connection for the writer lock (lock.ts), so it needs only the URL.
// PGlite belongs to the thread that opened it: with the embedded database the writer stays in
// the serving thread (startup.ts).
//
// The parent forwards wake-ups (new mail, reservation changes) and whether it is busy serving
// (its event loop's utilisation: the writer then defers its batches, up to 30 s of lag), and keeps
// the state the thread reports after each turn, for health_check and /api/ready. A thread that dies is started again:
// its lock went with its connection, and its half-done batch is repaired like any crash's.

/** Plain JavaScript: it registers tsx in the thread before loading the TypeScript writer. */
const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), "thread-entry.cjs");
/** The first restart after the thread died; each further death in a row doubles it, up to RESTART_MAX_MS. */
const RESTART_MS = 1_500;
const RESTART_MAX_MS = 60_000;
/** A thread that ran this long before dying had recovered: its next death starts the backoff over. */
const HEALTHY_MS = 60_000;
/**
 * How long a stop waits for the batch under way before the thread is ended (a crash the next
 * writer repairs): below the server's own 10 s stop limit, so the rest of the shutdown still runs.
 */
const STOP_WAIT_MS = 8_000;
/**
 * The serving thread counts as busy while its event loop was working at least this share of the
 * last LOAD_SAMPLE_MS; the writer then defers its batches (worker.ts, up to 30 s of lag).
 */
const BUSY_UTILIZATION = 0.5;
const LOAD_SAMPLE_MS = 250;

export interface ThreadData {
  url: string;
  config: ArchiveConfig;
}

export type ToThread = { type: "wake" } | { type: "busy"; busy: boolean } | { type: "stop" };
export type FromThread = { type: "state"; state: WriterState } | { type: "stopped"; state: WriterState };

const STARTING: WriterState = { role: "standby", last_commit_sha: null, last_commit_ts: null, last_error: null, commits: 0, events_written: 0 };

export class ArchiveThread implements ArchiveWriterHandle {
  private readonly dir: string;
  private worker: Worker | undefined;
  private last: WriterState = STARTING;
  /** Commits and events of threads that ended, so the counts cover this process's whole life. */
  private earlier = { commits: 0, events_written: 0 };
  private stopping = false;
  private wakePending = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private deaths = 0;
  private spawnedAt = 0;
  private loadTimer: NodeJS.Timeout | undefined;
  private busy = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly data: ThreadData,
    private readonly events?: EventBus,
    private readonly entry = ENTRY,
  ) {
    this.dir = path.resolve(data.config.dir);
  }

  start(): this {
    registerWriter(this.dir, this);
    this.unsubscribe = this.events?.subscribe((event) => {
      if (event.type === "message" || event.type === "reservation") this.wake();
    });
    this.spawn();
    this.watchLoad();
    return this;
  }

  /** Tells the thread when this (serving) thread turns busy or idle, measured by its event loop utilisation. */
  private watchLoad(): void {
    let previous = performance.eventLoopUtilization();
    this.loadTimer = setInterval(() => {
      const current = performance.eventLoopUtilization();
      const busy = performance.eventLoopUtilization(current, previous).utilization >= BUSY_UTILIZATION;
      previous = current;
      if (busy === this.busy) return;
      this.busy = busy;
      this.worker?.postMessage({ type: "busy", busy } satisfies ToThread);
    }, LOAD_SAMPLE_MS);
    this.loadTimer.unref();
  }

  private spawn(): void {
    const worker = new Worker(this.entry, { workerData: this.data satisfies ThreadData, name: "archive-writer" });
    this.worker = worker;
    this.spawnedAt = Date.now();
    if (this.busy) worker.postMessage({ type: "busy", busy: true } satisfies ToThread);
    worker.on("message", (message: FromThread) => {
      this.last = message.state;
    });
    worker.on("error", (error) => {
      console.error("[archive] the writer thread failed:", error);
      this.last = { ...this.last, role: "standby", last_error: "The archive writer thread failed; it is started again." };
    });
    worker.on("exit", () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.earlier = { commits: this.earlier.commits + this.last.commits, events_written: this.earlier.events_written + this.last.events_written };
      this.last = { ...this.last, role: "standby", commits: 0, events_written: 0 };
      if (this.stopping) return;
      this.deaths = Date.now() - this.spawnedAt >= HEALTHY_MS ? 1 : this.deaths + 1;
      this.restartTimer = setTimeout(() => this.spawn(), Math.min(RESTART_MAX_MS, RESTART_MS * 2 ** (this.deaths - 1)));
      this.restartTimer.unref();
    });
    // The thread never keeps a process alive on its own: the server's stop ends it (stop()).
    worker.unref();
  }

  /** Wake-ups come with every send; one message per turn of the event loop is enough. */
  wake(): void {
    if (this.wakePending || !this.worker) return;
    this.wakePending = true;
    setImmediate(() => {
      this.wakePending = false;
      this.worker?.postMessage({ type: "wake" } satisfies ToThread);
    });
  }

  state(): WriterState {
    return {
      ...this.last,
      role: this.stopping ? "disabled" : this.last.role,
      commits: this.earlier.commits + this.last.commits,
      events_written: this.earlier.events_written + this.last.events_written,
    };
  }

  /** Stops after the batch under way (its commit and marks included); the thread then gives the lock up and ends. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    clearTimeout(this.restartTimer);
    clearInterval(this.loadTimer);
    const worker = this.worker;
    if (worker) {
      const stopped = new Promise<void>((resolve) => {
        worker.on("message", (message: FromThread) => message.type === "stopped" && resolve());
        worker.once("exit", () => resolve());
      });
      worker.postMessage({ type: "stop" } satisfies ToThread);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          console.warn("[archive] the writer thread did not stop in time; ending it (the next writer repairs its batch)");
          resolve();
        }, STOP_WAIT_MS);
      });
      await Promise.race([stopped, late]);
      clearTimeout(timer);
      // Its batch is done and its lock given up: whatever else it holds open ends with it.
      await worker.terminate();
    }
    unregisterWriter(this.dir, this);
  }
}

export function startArchiveThread(data: ThreadData, events?: EventBus): ArchiveThread {
  return new ArchiveThread(data, events).start();
}
