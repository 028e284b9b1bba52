import { heldDataDirLocks } from "@/server/db/data-dir-lock";
import { defineOperation } from "@/server/operations/define";
import { noInput } from "@/server/schemas/common";
import { locksOutput } from "@/server/schemas/tooling";
import { isoTs, isoTsOrNull } from "../format";

// tooling/locks: upstream lists the archive's lock files. Mailroom has no archive locks; what can
// hold things up here is (1) Postgres advisory locks in this database (migrations, build-slot
// acquires, file-reservation grants: classid 0x4652 = 18002, objid the project id; pg_locks,
// every instance's), (2) this process's lock on the embedded database's folder, and (3) the
// periodic jobs every instance shares through scheduled_jobs. They are listed in upstream's lock
// shape, with `category` advisory, data_dir or job.

const MAX_LOCKS = 200;
/** A job more than this overdue suggests no instance runs jobs any more. */
const JOB_STALE_SECONDS = 600;

interface AdvisoryRow {
  classid: number | null;
  objid: number | null;
  objsubid: number | null;
  pid: number | null;
  granted: boolean;
  mode: string;
  backend_start: Date | null;
}

const ageSeconds = (since: Date | null, now: number) => (since ? Math.max(0, Math.floor((now - since.getTime()) / 1000)) : null);

export const toolingLocks = defineOperation({
  name: "resource://tooling/locks",
  description: "Advisory locks held in the database, the embedded database's folder lock and the periodic jobs.",
  input: noInput,
  output: locksOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://tooling/locks",
  async handler(ctx) {
    const now = Date.now();
    const advisory = await ctx.db.$queryRaw<AdvisoryRow[]>`
      SELECT l.classid::int AS classid, l.objid::bigint::float8 AS objid, l.objsubid::int AS objsubid, l.pid, l.granted, l.mode, a.backend_start
      FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY l.pid, l.objid LIMIT ${MAX_LOCKS}`;
    const jobs = await ctx.db.scheduledJob.findMany({ orderBy: { name: "asc" }, take: MAX_LOCKS });
    const locks = [
      ...advisory.map((row) => ({
        path: `advisory:${row.classid ?? 0}:${row.objid ?? 0}:${row.objsubid ?? 0}`,
        metadata_path: null,
        status: row.granted ? "held" : "waiting",
        metadata_present: true,
        category: "advisory",
        size: null,
        modified_ts: null,
        metadata: { mode: row.mode, granted: row.granted },
        owner_pid: row.pid,
        owner_alive: row.pid !== null,
        created_ts: isoTsOrNull(row.backend_start),
        age_seconds: ageSeconds(row.backend_start, now),
        stale_timeout_seconds: null,
        stale_suspected: false,
      })),
      ...heldDataDirLocks().map((lock) => ({
        path: "DATA_DIR/mailroom.lock",
        metadata_path: null,
        status: "held",
        metadata_present: true,
        category: "data_dir",
        size: null,
        modified_ts: isoTs(lock.acquiredAt),
        metadata: { pid: lock.pid },
        owner_pid: lock.pid,
        owner_alive: true,
        created_ts: isoTs(lock.acquiredAt),
        age_seconds: ageSeconds(lock.acquiredAt, now),
        stale_timeout_seconds: null,
        stale_suspected: false,
      })),
      ...jobs.map((job) => {
        const overdue = Math.floor((now - job.nextRunAt.getTime()) / 1000);
        return {
          path: `job:${job.name}`,
          metadata_path: null,
          status: overdue > 0 ? "due" : "scheduled",
          metadata_present: true,
          category: "job",
          size: null,
          modified_ts: isoTsOrNull(job.lastRunAt),
          metadata: { next_run_at: isoTs(job.nextRunAt), last_run_at: isoTsOrNull(job.lastRunAt), last_owner: job.lastOwner, runs: job.runs },
          owner_pid: null,
          owner_alive: null,
          created_ts: isoTsOrNull(job.lastRunAt),
          age_seconds: ageSeconds(job.lastRunAt, now),
          stale_timeout_seconds: JOB_STALE_SECONDS,
          stale_suspected: overdue > JOB_STALE_SECONDS,
        };
      }),
    ];
    const active = locks.filter((lock) => lock.status === "held").length;
    const stale = locks.filter((lock) => lock.stale_suspected).length;
    return { locks, summary: { total: locks.length, active, stale, metadata_missing: 0 } };
  },
});
