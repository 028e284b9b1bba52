import path from "node:path";
import type { Db } from "@/server/db/client";
import type { ArchiveConfig } from "@/server/services/context";
import { workersFor, type ArchiveStatus } from "./worker";

// The archive's state for health_check and /api/ready: the backlog from the database (the same on
// every instance) and this process's worker, if it runs one for the configured folder.

export type { ArchiveStatus };

export async function pendingEvents(db: Db): Promise<{ pending: number; oldestAgeSeconds: number | null }> {
  const [row] = await db.$queryRaw<{ pending: number; age: number | null }[]>`
    SELECT count(*)::int AS pending, EXTRACT(EPOCH FROM (now() - min(created_ts)))::float8 AS age
    FROM archive_outbox WHERE processed_ts IS NULL`;
  return { pending: row?.pending ?? 0, oldestAgeSeconds: row?.age === null || row?.age === undefined ? null : Math.max(0, Math.round(row.age * 10) / 10) };
}

export async function archiveStatus(db: Db, config: ArchiveConfig): Promise<ArchiveStatus> {
  const workers = config.enabled ? workersFor(path.resolve(config.dir)) : [];
  // Two workers of one folder in a process happen in tests only; the one writing speaks for both.
  const worker = workers.find((candidate) => candidate.state().role === "writer") ?? workers[0];
  const state = worker?.state();
  let pending = { pending: 0, oldestAgeSeconds: null as number | null };
  let error: string | null = null;
  try {
    pending = await pendingEvents(db);
  } catch (failure) {
    console.error("[archive] status query failed:", failure);
    error = "The archive backlog could not be read from the database.";
  }
  return {
    enabled: config.enabled,
    role: state?.role ?? "disabled",
    pending_events: pending.pending,
    oldest_pending_age_seconds: pending.oldestAgeSeconds,
    last_commit_sha: state?.last_commit_sha ?? null,
    last_commit_ts: state?.last_commit_ts ?? null,
    last_error: state?.last_error ?? error,
    commits: state?.commits ?? 0,
    events_written: state?.events_written ?? 0,
  };
}
