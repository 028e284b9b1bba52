import type { EventBus } from "@/server/events/bus";
import type { ArchiveConfig } from "@/server/services/context";
import { isoTs } from "@/server/services/format";
import { describeArchiveError } from "./errors";
import { OUTBOX_KINDS, planBatch, type OutboxRow, type Planned } from "./events";
import { ArchiveWriter } from "./files";
import { ArchiveRepo } from "./git";
import { createWriterLock, LockLostError, type WriterDatabase, type WriterLock } from "./lock";
import { batchCommitMessage } from "./render";

// The archive writer: turns archive_outbox rows into files and commits, one batch at a time, on
// whichever instance holds the writer lock (lock.ts); the others stand by and try again every
// LOCK_RETRY_MS. Sends only ever insert outbox rows, so nothing here can slow or fail mail.
//
// One batch: read up to BATCH_SIZE unprocessed rows in id order → load what they describe →
// write the files → `git add` → one commit whose `Mailroom-Outbox` trailer lists the rows → push
// (with ARCHIVE_REMOTE) → mark the rows processed with the commit's sha in one UPDATE. A row is
// marked only after its commit, so a crash anywhere leaves it either uncommitted (repair resets
// the half-written tree and it is written again) or committed but unmarked (repair reads the
// trailers of the recent commits and marks it): never lost, never written twice.

const POLL_MS = 1_000;
const LOCK_RETRY_MS = 1_500;
const BATCH_SIZE = 500;
/** After a wake-up, how long to let more events arrive so that they share the commit. */
const WAKE_DELAY_MS = 20;
/**
 * Under a steady stream of mail, a batch starts no sooner than this after the previous one began
 * (after a full batch, a backlog, the next goes on at once): a commit's cost is mostly the trees it
 * rewrites, whatever the number of events, so fewer, larger commits cost the machine less. A
 * quiet archive still commits a lone message within WAKE_DELAY_MS.
 */
const BATCH_INTERVAL_MS = 3_000;
/**
 * While the server is busy serving requests (options.busy), batches wait, up to this much lag:
 * the archive's work (files, git, its queries) then comes after the burst, not out of it. Under
 * a load that never ends the writer goes on at this lag.
 */
const MAX_DEFER_MS = 30_000;
/** How often a deferring writer looks again. */
const DEFER_CHECK_MS = 250;
/** Commits between two `git gc --auto` (git.ts maintain()). */
const MAINTENANCE_EVERY = 50;
/** The first retry after a failure; each further failure doubles it, up to BACKOFF_MAX_MS. */
const RETRY_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

export interface ArchiveStatus {
  enabled: boolean;
  /** This process's part: the writer, a standby waiting for the lock, or no worker at all. */
  role: "writer" | "standby" | "disabled";
  pending_events: number;
  oldest_pending_age_seconds: number | null;
  last_commit_sha: string | null;
  last_commit_ts: string | null;
  last_error: string | null;
  /** Commits and events this process wrote since it started. */
  commits: number;
  events_written: number;
}

/**
 * Points in a batch where tests step in (to fail, or to hold the batch while a process is killed).
 * A hook that throws fails the batch there, as a crash at that point would leave it.
 */
export interface StageHooks {
  /** The batch's files are written; nothing is staged or committed. */
  afterWrite?(ids: readonly bigint[]): void | Promise<void>;
  /** Just before `git commit`. */
  beforeCommit?(ids: readonly bigint[]): void | Promise<void>;
  /** The commit is made (and pushed); the rows are not marked yet. */
  afterCommit?(sha: string, ids: readonly bigint[]): void | Promise<void>;
}

/** What a worker reports of itself (the backlog figures come from the database: status.ts). */
export type WriterState = Pick<ArchiveStatus, "role" | "last_commit_sha" | "last_commit_ts" | "last_error" | "commits" | "events_written">;

/** A writer as health_check, /api/ready and the rebuild see it: in this thread (ArchiveWorker) or in one of its own (thread.ts). */
export interface ArchiveWriterHandle {
  state(): WriterState;
  stop(): Promise<void>;
}

export interface ArchiveWorkerOptions {
  database: WriterDatabase;
  config: ArchiveConfig;
  /** Wake-ups on new mail and reservation changes, for low lag; polling covers everything else. */
  events?: EventBus;
  pollMs?: number;
  lockRetryMs?: number;
  batchSize?: number;
  wakeDelayMs?: number;
  batchIntervalMs?: number;
  /** Whether the server is busy serving requests right now; while it is, batches wait (up to maxDeferMs of lag). */
  busy?: () => boolean;
  maxDeferMs?: number;
  /** Commits between two `git gc --auto`. */
  maintenanceEvery?: number;
  /** The first retry's delay after a failure (doubling up to 30 s). */
  retryMs?: number;
  hooks?: StageHooks;
  /** Called with the worker's state after each turn and once stopped (a thread reports it to its parent). */
  onState?(state: WriterState): void;
}

interface OutboxWire {
  id: string;
  kind: OutboxRow["kind"];
  payload: unknown;
  message_id: number | null;
}


// The writers of this process by archive folder, for health_check and /api/ready.
const running = new Map<string, Set<ArchiveWriterHandle>>();

export function workersFor(dir: string): ArchiveWriterHandle[] {
  return [...(running.get(dir) ?? [])];
}

export function registerWriter(dir: string, writer: ArchiveWriterHandle): void {
  const set = running.get(dir) ?? new Set();
  set.add(writer);
  running.set(dir, set);
}

export function unregisterWriter(dir: string, writer: ArchiveWriterHandle): void {
  running.get(dir)?.delete(writer);
  if (running.get(dir)?.size === 0) running.delete(dir);
}

export class ArchiveWorker implements ArchiveWriterHandle {
  readonly repo: ArchiveRepo;
  private readonly lock: WriterLock;
  private readonly files: ArchiveWriter;
  private readonly pollMs: number;
  private readonly lockRetryMs: number;
  private readonly batchSize: number;
  private readonly wakeDelayMs: number;
  private readonly batchIntervalMs: number;
  private lastBatchAt = 0;
  private readonly maxDeferMs: number;
  /** A deferring writer's next look; wake-ups before it are not worth a query. */
  private deferredUntil = 0;
  private readonly retryMs: number;
  private readonly hooks: StageHooks;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private current: Promise<void> | undefined;
  private woken = false;
  private stopping = false;
  private needsRepair = true;
  private failures = 0;
  private role: "writer" | "standby" = "standby";
  private lastError: string | null = null;
  private lastCommit: { sha: string; ts: Date } | undefined;
  private commits = 0;
  private eventsWritten = 0;

  constructor(private readonly options: ArchiveWorkerOptions) {
    this.repo = new ArchiveRepo(options.config);
    this.lock = createWriterLock(options.database);
    this.files = new ArchiveWriter(this.repo.dir);
    this.pollMs = options.pollMs ?? POLL_MS;
    this.lockRetryMs = options.lockRetryMs ?? LOCK_RETRY_MS;
    this.batchSize = options.batchSize ?? BATCH_SIZE;
    this.wakeDelayMs = options.wakeDelayMs ?? WAKE_DELAY_MS;
    this.batchIntervalMs = options.batchIntervalMs ?? BATCH_INTERVAL_MS;
    this.maxDeferMs = options.maxDeferMs ?? MAX_DEFER_MS;
    this.retryMs = options.retryMs ?? RETRY_MS;
    this.hooks = options.hooks ?? {};
  }

  start(): this {
    registerWriter(this.repo.dir, this);
    this.unsubscribe = this.options.events?.subscribe((event) => {
      if (event.type === "message" || event.type === "reservation") this.wake();
    });
    this.schedule(0);
    return this;
  }

  /** Runs the next step soon (new events); coalesces with one already due sooner. A standby keeps to its lock retries. */
  wake(): void {
    if (this.stopping || this.role !== "writer") return;
    if (this.current) this.woken = true;
    else this.schedule(this.wakeDelay());
  }

  private wakeDelay(): number {
    return Math.max(this.wakeDelayMs, this.lastBatchAt + this.batchIntervalMs - Date.now(), this.deferredUntil - Date.now());
  }

  private schedule(delay: number): void {
    if (this.stopping) return;
    const due = Date.now() + delay;
    if (this.timer && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.current = this.step()
        .then((next) => {
          this.current = undefined;
          this.report();
          const woken = this.woken;
          this.woken = false;
          // A wake-up shortens the wait to wakeDelay(), which still keeps the spacing and a deferral's pause.
          this.schedule(next === 0 ? 0 : Math.max(woken ? Math.min(next, this.wakeDelay()) : next, this.lastBatchAt + this.batchIntervalMs - Date.now()));
        })
        .catch((error: unknown) => {
          // step() handles its own failures; this is a bug, logged, and the loop goes on.
          this.current = undefined;
          console.error("[archive] unexpected failure:", error);
          this.schedule(this.pollMs);
        });
    }, delay);
    this.timer.unref();
  }

  /** One turn: take the lock if needed, repair if needed, write one batch. Returns the delay until the next turn. */
  private async step(): Promise<number> {
    if (this.stopping) return this.pollMs;
    if (!this.lock.held()) {
      if (this.role === "writer") console.warn("[archive] the writer lock was lost; standing by");
      this.role = "standby";
      try {
        if (!(await this.lock.tryAcquire())) return this.lockRetryMs;
      } catch (error) {
        this.fail(error);
        return this.lockRetryMs;
      }
      this.role = "writer";
      this.report();
      this.needsRepair = true;
      console.log("[archive] this instance is the archive writer");
    }
    let rows: OutboxRow[] = [];
    try {
      if (this.needsRepair) await this.takeOver();
      if (await this.shouldDefer()) {
        this.deferredUntil = Date.now() + DEFER_CHECK_MS;
        return DEFER_CHECK_MS;
      }
      rows = await this.nextRows();
      if (rows.length > 0) await this.writeBatch(rows);
      this.failures = 0;
      this.lastError = null;
      return rows.length >= this.batchSize ? 0 : this.pollMs;
    } catch (error) {
      this.needsRepair = true;
      this.fail(error);
      await this.recordAttempt(rows);
      return error instanceof LockLostError ? 0 : Math.min(BACKOFF_MAX_MS, this.retryMs * 2 ** Math.min(this.failures - 1, 10));
    }
  }

  private fail(error: unknown): void {
    this.failures += 1;
    this.lastError = describeArchiveError(error, [this.repo.dir, this.options.config.remote ?? ""]);
    if (!(error instanceof LockLostError)) console.error("[archive] batch failed:", error);
  }

  /** The failed batch's rows, or when it failed before reading any (a broken archive), the rows it would have written. */
  private async recordAttempt(rows: OutboxRow[]): Promise<void> {
    if (!this.lock.held()) return;
    try {
      if (rows.length > 0) {
        await this.lock.query("UPDATE archive_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[]) AND processed_ts IS NULL", [
          rows.map((row) => row.id.toString()),
          this.lastError,
        ]);
      } else {
        await this.lock.query(
          `UPDATE archive_outbox SET attempts = attempts + 1, last_error = $3 WHERE id IN (
             SELECT id FROM archive_outbox WHERE processed_ts IS NULL AND kind = ANY($1::text[]) ORDER BY id LIMIT $2)`,
          [[...OUTBOX_KINDS], this.batchSize, this.lastError],
        );
      }
    } catch {
      // The database is what failed; the rows are retried either way.
    }
  }

  /**
   * On taking the lock and after any failure: the repository exists and agrees with the remote,
   * the working tree is the last commit, and events that commit recorded are marked done.
   */
  private async takeOver(): Promise<void> {
    await this.repo.ensure();
    await this.repo.repair();
    const synced = await this.repo.sync();
    if (synced.discarded > 0) console.warn(`[archive] the remote moved on: dropped ${synced.discarded} local commit(s) that never reached it (their events were never marked done)`);
    if (await this.repo.initialCommit()) await this.repo.push();
    await this.markFromTrailers();
    // A writer that never reaches MAINTENANCE_EVERY commits in one life still packs its objects.
    await this.repo.maintain().catch((error: unknown) => console.error("[archive] git gc --auto failed:", error));
    this.lastCommit = await this.repo.head();
    this.needsRepair = false;
  }

  /** Events committed by a writer that stopped before marking them (crash, lost database) are marked now. */
  private async markFromTrailers(): Promise<number> {
    const commits = await this.repo.recentOutboxCommits();
    const ids = commits.flatMap((commit) => commit.ids.map((id) => id.toString()));
    if (ids.length === 0) return 0;
    const shas = commits.flatMap((commit) => commit.ids.map(() => commit.sha));
    const marked = await this.lock.query<{ id: string }>(
      `UPDATE archive_outbox o SET processed_ts = now(), commit_sha = u.sha, last_error = NULL
       FROM unnest($1::bigint[], $2::text[]) AS u(id, sha)
       WHERE o.id = u.id AND o.processed_ts IS NULL
       RETURNING o.id::text AS id`,
      [ids, shas],
    );
    if (marked.length) console.log(`[archive] marked ${marked.length} event(s) found committed but not marked`);
    return marked.length;
  }

  /**
   * Busy serving, and the oldest pending event is younger than the lag allowed (or there is none:
   * an event arriving after this look must not slip into this turn's batch): wait.
   */
  private async shouldDefer(): Promise<boolean> {
    if (!this.options.busy?.()) return false;
    const [oldest] = await this.lock.query<{ age_ms: number }>(
      `SELECT (EXTRACT(EPOCH FROM (now() - o.created_ts)) * 1000)::float8 AS age_ms FROM archive_outbox o
       WHERE o.processed_ts IS NULL AND o.kind = ANY($1::text[]) ORDER BY o.id LIMIT 1`,
      [[...OUTBOX_KINDS]],
    );
    return oldest === undefined || oldest.age_ms < this.maxDeferMs;
  }

  private async nextRows(): Promise<OutboxRow[]> {
    const rows = await this.lock.query<OutboxWire>(
      // o.id, not id: the bare name would sort by the text column of the same name.
      `SELECT o.id::text AS id, o.kind, o.payload, o.message_id FROM archive_outbox o
       WHERE o.processed_ts IS NULL AND o.kind = ANY($1::text[]) ORDER BY o.id LIMIT $2`,
      [[...OUTBOX_KINDS], this.batchSize],
    );
    return rows.map((row) => ({ id: BigInt(row.id), kind: row.kind, payload: row.payload, message_id: row.message_id }));
  }

  private async writeBatch(rows: OutboxRow[]): Promise<void> {
    this.lastBatchAt = Date.now();
    const plans = await planBatch(this.lock.query.bind(this.lock), rows);
    const writes = plans.filter((plan): plan is Extract<Planned, { status: "write" }> => plan.status === "write");
    const paths = await this.files.apply(
      writes.flatMap((plan) => plan.ops),
      async (sha256) => {
        const [blob] = await this.lock.query<{ data: Uint8Array }>("SELECT data FROM attachment_blobs WHERE sha256 = $1", [sha256]);
        return blob?.data;
      },
    );
    const ids = writes.map((plan) => plan.row.id);
    await this.hooks.afterWrite?.(ids);
    let sha: string | null = null;
    if (writes.length > 0) {
      // The last moment to find out the lock is gone before this commit becomes history.
      await this.lock.query("SELECT 1");
      await this.hooks.beforeCommit?.(ids);
      sha = await this.repo.commit(paths, batchCommitMessage(writes.map((plan) => plan.part)));
      await this.repo.push();
      this.commits += 1;
      this.eventsWritten += writes.length;
      this.lastCommit = { sha, ts: new Date() };
      // Reported before the rows are marked: whoever sees the backlog empty already has this
      // state from a writer thread (a message from it can trail the database otherwise).
      this.report();
      await this.hooks.afterCommit?.(sha, ids);
    }
    await this.mark(plans, sha);
    // Not while stopping: a repack can outlast the server's stop limit.
    if (sha && !this.stopping && this.commits % (this.options.maintenanceEvery ?? MAINTENANCE_EVERY) === 0) {
      // The batch is done and marked: a failure here is only logged, and tried again later.
      await this.repo.maintain().catch((error: unknown) => console.error("[archive] git gc --auto failed:", error));
    }
    for (const plan of plans) if (plan.status === "fail") console.error(`[archive] outbox event ${plan.row.id} cannot be written: ${plan.reason}`);
  }

  /** Marks the whole batch in one UPDATE: written rows with the commit, skipped and failed rows without one. */
  private async mark(plans: Planned[], sha: string | null): Promise<void> {
    await this.lock.query(
      `UPDATE archive_outbox o SET processed_ts = now(), commit_sha = u.sha, last_error = u.error
       FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, sha, error)
       WHERE o.id = u.id AND o.processed_ts IS NULL`,
      [
        plans.map((plan) => plan.row.id.toString()),
        plans.map((plan) => (plan.status === "write" ? sha : null)),
        plans.map((plan) => (plan.status === "fail" ? plan.reason : null)),
      ],
    );
  }

  private lastReported = "";

  /** Passes the state to onState when it changed: a deferring writer's turns change nothing. */
  private report(): void {
    if (!this.options.onState) return;
    const state = this.state();
    const key = JSON.stringify(state);
    if (key === this.lastReported) return;
    this.lastReported = key;
    this.options.onState(state);
  }

  /** Stops after the batch under way (its commit and marks included), then gives the lock up. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    await this.current;
    await this.lock.release();
    this.role = "standby";
    unregisterWriter(this.repo.dir, this);
    this.report();
  }

  state(): WriterState {
    return {
      role: this.stopping ? "disabled" : this.role === "writer" && this.lock.held() ? "writer" : "standby",
      last_commit_sha: this.lastCommit?.sha ?? null,
      last_commit_ts: this.lastCommit ? isoTs(this.lastCommit.ts) : null,
      last_error: this.lastError,
      commits: this.commits,
      events_written: this.eventsWritten,
    };
  }
}

export function startArchiveWorker(options: ArchiveWorkerOptions): ArchiveWorker {
  return new ArchiveWorker(options).start();
}
