import type { Db, Prisma } from "@/server/db/client";
import { AppError, quote } from "@/server/errors";
import type { CheckConflictsInput, FileReservationPathsInput } from "@/server/schemas/reservations";
import type { AgentContext } from "../context";
import { isoTs } from "../format";
import { activeReservations, conflictsFor, type ActiveReservation, type Conflict } from "./conflicts";
import { notifyReservations } from "./events";
import { releaseExpiredAndStale } from "./expire";

// Granting (reference §4.1). Every grant of a project runs under one transaction-scoped advisory
// lock keyed on the project, taken before the active reservations are read: grants of a project
// are serialised across every instance on the same Postgres (PGlite has one connection anyway), so
// a grant always sees every grant that committed before it, and two agents can never both be told
// `conflicts: []` for overlapping exclusive paths. Within one process, grants of a project first
// queue without a connection (inProjectQueue), so only one of them at a time waits on the lock.

export const GRANT_TOOL = "file_reservation_paths";
/** First key of the two-key advisory lock: this lock class ("FR"); the second is the project id. */
const RESERVATION_LOCK_CLASS = 0x4652;
/** Waiting for a connection and then for other instances' grants of the project: generous. */
const TRANSACTION_OPTIONS = { maxWait: 60_000, timeout: 60_000 };
/**
 * Active reservations an agent, and a project, may hold. Every grant loads the project's active
 * reservations and matches each candidate against all of them under the lock, so their number
 * bounds that work; both are far above what agents sharing a repository use.
 */
export const RESERVATIONS_PER_AGENT_MAX = 1_000;
export const RESERVATIONS_PER_PROJECT_MAX = 10_000;

export interface Granted {
  id: number;
  path_pattern: string;
  exclusive: boolean;
  reason: string;
  expires_ts: string;
}

export interface GrantResult {
  granted: Granted[];
  conflicts: Conflict[];
  /** Lock mode (refuse_conflicts): nothing was granted because a path conflicted. */
  refused?: true;
  idempotent_replay?: true;
}

export function assertPaths(paths: readonly string[] | null | undefined): void {
  if (paths && paths.length === 0) {
    throw new AppError("EMPTY_PATHS", "paths list cannot be empty; pass at least one path pattern.", { field: "paths" });
  }
}

/** Per database client (one pool), per project id: the promise the next grant waits for. */
const queues = new WeakMap<Db, Map<number, Promise<void>>>();

/**
 * Runs `fn` after every earlier call for the same project on the same client has finished. A grant
 * waits here holding no connection; otherwise N concurrent grants of one project each held a pool
 * connection while waiting on the advisory lock, and grants of other projects found none left.
 */
async function inProjectQueue<T>(db: Db, projectId: number, fn: () => Promise<T>): Promise<T> {
  let tails = queues.get(db);
  if (!tails) queues.set(db, (tails = new Map()));
  const previous = tails.get(projectId);
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const tail = previous ? previous.then(() => finished) : finished;
  tails.set(projectId, tail);
  try {
    await previous;
    return await fn();
  } finally {
    finish();
    if (tails.get(projectId) === tail) tails.delete(projectId);
  }
}

/**
 * Runs `fn` holding the project's reservation lock. Inside an open transaction (a macro) it joins
 * it: that transaction holds its connection already, so queueing first would save nothing.
 */
export async function underProjectLock<T>(ctx: AgentContext, fn: (db: Db) => Promise<T>): Promise<T> {
  const locked = async (db: Db) => {
    await db.$executeRaw`SELECT pg_advisory_xact_lock(${RESERVATION_LOCK_CLASS}::int, ${ctx.project.id}::int)`;
    return fn(db);
  };
  if (ctx.inTransaction) return locked(ctx.db);
  return inProjectQueue(ctx.db, ctx.project.id, () => (ctx.db as Prisma).$transaction((db) => locked(db), TRANSACTION_OPTIONS));
}

export async function grantReservations(ctx: AgentContext, input: FileReservationPathsInput): Promise<GrantResult> {
  assertPaths(input.paths);
  const key = input.idempotency_key;
  if (key) {
    const replay = await replayGrant(ctx.db, ctx.agent.id, key);
    if (replay) return replay;
  }
  const now = new Date();
  await releaseExpiredAndStale(ctx.db, ctx.project, ctx.config.reservations, now);
  return underProjectLock(ctx, async (db) => {
    // A retry racing its first call waited for the lock: the first call's result is there now.
    if (key) {
      const replay = await replayGrant(db, ctx.agent.id, key);
      if (replay) return replay;
    }
    const active = await activeReservations(db, ctx.project.id, now);
    const conflicts = await conflictsFor(active, ctx.agent.id, input.paths, input.exclusive);
    const refused = input.refuse_conflicts && conflicts.length > 0;
    if (!refused) assertWithinLimits(ctx, input.paths, active);
    const result: GrantResult = refused ? { granted: [], conflicts, refused: true } : { granted: await write(db, ctx, input, active, now), conflicts };
    if (result.granted.length) await notifyReservations(db, ctx.project.id, "granted", result.granted.map((row) => ({ id: row.id, agentId: ctx.agent.id })));
    if (key) await db.idempotencyKey.create({ data: { senderId: ctx.agent.id, key, tool: GRANT_TOOL, messageIds: [], response: result as object } });
    return result;
  });
}

/** Refuses (RESERVATION_LIMIT, nothing written) a grant that would take the agent or the project past its maximum. */
function assertWithinLimits(ctx: AgentContext, paths: readonly string[], active: readonly ActiveReservation[]): void {
  const own = new Set(active.filter((row) => row.agentId === ctx.agent.id).map((row) => row.pathPattern));
  // Re-reserving one's own pattern updates its row; only other patterns add rows.
  const added = new Set(paths.filter((path) => !own.has(path))).size;
  const limits = [
    { held: own.size, max: RESERVATIONS_PER_AGENT_MAX, per: "agent", holder: ctx.agent.name },
    { held: active.length, max: RESERVATIONS_PER_PROJECT_MAX, per: "project", holder: ctx.project.slug },
  ];
  for (const { held, max, per, holder } of limits) {
    if (added > 0 && held + added > max) {
      throw new AppError(
        "RESERVATION_LIMIT",
        `At most ${max} active file reservations per ${per}: ${per} '${holder}' holds ${held} and this call adds ${added}. Release some first.`,
        { field: "paths", limit: max, held, adding: added },
      );
    }
  }
}

/**
 * One row per path: the agent's own active reservation with exactly the same pattern is updated
 * (exclusive replaced, reason kept unless the new one says something, expiry only extended), any
 * other path gets a new row. Conflicts never stop a grant here (the advisory model).
 */
async function write(db: Db, ctx: AgentContext, input: FileReservationPathsInput, active: ActiveReservation[], now: Date): Promise<Granted[]> {
  const own = new Map(active.filter((row) => row.agentId === ctx.agent.id).map((row) => [row.pathPattern, row]));
  const wanted = new Date(now.getTime() + input.ttl_seconds * 1000);
  const granted: Granted[] = [];
  for (const path of input.paths) {
    const existing = own.get(path);
    const row = existing
      ? await db.fileReservation.update({
          where: { id: existing.id },
          data: {
            exclusive: input.exclusive,
            reason: input.reason || !existing.reason ? input.reason : existing.reason,
            expiresTs: existing.expiresTs > wanted ? existing.expiresTs : wanted,
          },
        })
      : await db.fileReservation.create({
          data: { projectId: ctx.project.id, agentId: ctx.agent.id, pathPattern: path, exclusive: input.exclusive, reason: input.reason, createdTs: now, expiresTs: wanted },
        });
    own.set(path, { ...(existing ?? { agentId: ctx.agent.id, agentName: ctx.agent.name }), id: row.id, pathPattern: path, exclusive: row.exclusive, reason: row.reason, expiresTs: row.expiresTs });
    granted.push({ id: row.id, path_pattern: row.pathPattern, exclusive: row.exclusive, reason: row.reason, expires_ts: isoTs(row.expiresTs) });
  }
  return granted;
}

async function replayGrant(db: Db, agentId: number, key: string): Promise<GrantResult | undefined> {
  const record = await db.idempotencyKey.findUnique({ where: { senderId_key: { senderId: agentId, key } } });
  if (!record) return undefined;
  if (record.tool !== GRANT_TOOL || !record.response) {
    throw new AppError("INVALID_ARGUMENT", `idempotency_key '${quote(key)}' was already used by ${record.tool}; use a new key for ${GRANT_TOOL}.`, {
      field: "idempotency_key",
    });
  }
  return { ...(record.response as unknown as GrantResult), idempotent_replay: true };
}

/** The dry run: what file_reservation_paths would report, without expiring, locking or writing anything. */
export async function checkConflicts(ctx: AgentContext, input: CheckConflictsInput): Promise<{ conflicts: Conflict[]; would_conflict: boolean }> {
  assertPaths(input.paths);
  const active = await activeReservations(ctx.db, ctx.project.id, new Date());
  const conflicts = await conflictsFor(active, ctx.agent.id, input.paths, input.exclusive);
  return { conflicts, would_conflict: conflicts.length > 0 };
}
