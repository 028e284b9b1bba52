import { randomUUID } from "node:crypto";
import os from "node:os";
import type { Db } from "@/server/db/client";

// Periodic jobs that run once per period across every instance sharing the database. Each
// instance ticks on its own timer, but runs a job only after winning one conditional UPDATE of
// the job's scheduled_jobs row that moves next_run_at a period ahead: of N instances ticking
// together, one wins and the others match no row. Time is the database's, so instances with
// skewed clocks still agree on when a job is due.

export type JobResult = Record<string, number | string | boolean | null>;

export interface Job {
  /** The scheduled_jobs row's key. */
  name: string;
  intervalMs: number;
  run(db: Db, now: Date): Promise<JobResult>;
}

export interface JobRun {
  name: string;
  /** The job's run count after this run (scheduled_jobs.runs). */
  run: number;
  result: { ok: true } & JobResult | { ok: false; error: string };
}

/** Who this process is in scheduled_jobs.last_owner. */
export function instanceOwner(): string {
  return `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * Claims the job's current period for `owner`: the run number when this call won it, null when
 * the job is not due or another instance won. `now` replaces the database clock (tests).
 */
export async function claimJob(db: Db, job: Job, owner: string, now?: Date): Promise<number | null> {
  const at = now ?? null;
  await db.$executeRaw`
    INSERT INTO scheduled_jobs (name, next_run_at) VALUES (${job.name}, COALESCE(${at}::timestamptz, now()))
    ON CONFLICT (name) DO NOTHING`;
  // Concurrent claimants queue on the row lock; each re-checks next_run_at after the winner
  // commits, finds it a period ahead, and matches nothing.
  const rows = await db.$queryRaw<{ runs: number }[]>`
    UPDATE scheduled_jobs SET
      next_run_at = COALESCE(${at}::timestamptz, now()) + ${job.intervalMs}::float8 * interval '1 millisecond',
      last_run_at = COALESCE(${at}::timestamptz, now()),
      last_owner = ${owner},
      runs = runs + 1
    WHERE name = ${job.name} AND next_run_at <= COALESCE(${at}::timestamptz, now())
    RETURNING runs`;
  return rows[0]?.runs ?? null;
}

/** Error text for the log and last_result: the first line, bounded (no stacks, no SQL). */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split("\n")[0] ?? "").slice(0, 300) || "failed";
}

async function runClaimed(db: Db, job: Job, owner: string, run: number, now: Date): Promise<JobRun> {
  let result: JobRun["result"];
  try {
    result = { ok: true, ...(await job.run(db, now)) };
  } catch (error) {
    console.error(`[jobs] ${job.name} failed: ${describe(error)}`);
    result = { ok: false, error: describe(error) };
  }
  // Recorded only while this run is still the latest: a slow run never overwrites a newer one.
  await db.scheduledJob.updateMany({ where: { name: job.name, lastOwner: owner, runs: run }, data: { lastResult: result } });
  return { name: job.name, run, result };
}

/**
 * Runs every job that is due and that this owner wins, one after another; the runs it made.
 * A failing job is logged and recorded in last_result, and the others still run.
 */
export async function runDueJobs(db: Db, owner: string, jobs: readonly Job[], now?: Date): Promise<JobRun[]> {
  const runs: JobRun[] = [];
  for (const job of jobs) {
    try {
      const run = await claimJob(db, job, owner, now);
      if (run !== null) runs.push(await runClaimed(db, job, owner, run, now ?? new Date()));
    } catch (error) {
      console.error(`[jobs] ${job.name}: could not claim or record a run: ${describe(error)}`);
    }
  }
  return runs;
}

export interface JobRunner {
  owner: string;
  /** Stops ticking and waits for a tick under way. */
  stop(): Promise<void>;
}

/** Longest wait between ticks: a job runs at most this long after it falls due. */
const MAX_TICK_MS = 30_000;

/**
 * Ticks now and then every quarter of the shortest interval (1 s to 30 s), so a job runs soon
 * after it falls due; the timer never keeps the process alive.
 */
export function startJobRunner(db: Db, jobs: readonly Job[], owner: string = instanceOwner()): JobRunner {
  if (jobs.length === 0) return { owner, stop: async () => {} };
  const tickMs = Math.max(1000, Math.min(MAX_TICK_MS, ...jobs.map((job) => job.intervalMs / 4)));
  let running: Promise<unknown> = Promise.resolve();
  let busy = false;
  const tick = () => {
    if (busy) return;
    busy = true;
    running = runDueJobs(db, owner, jobs).finally(() => {
      busy = false;
    });
  };
  const timer = setInterval(tick, tickMs);
  timer.unref();
  tick();
  return {
    owner,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
