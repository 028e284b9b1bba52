import { Prisma as P } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import { RESERVATION_TTL_MAX_SECONDS, type ReleaseInput, type RenewInput } from "@/server/schemas/reservations";
import type { AgentContext } from "../context";
import { isoTs } from "../format";
import { changedWithNotify, releaseWhere } from "./events";
import { releaseExpiredAndStale } from "./expire";
import { assertPaths } from "./grant";

// Releasing and renewing one's own reservations (reference §2.2). Both act on the agent's active
// reservations only (unreleased, unexpired), optionally narrowed by id and by exact pattern.

const RENEW_MIN_SECONDS = 60;

function assertFilters(input: { paths?: string[] | null; file_reservation_ids?: number[] | null }): void {
  assertPaths(input.paths);
  if (input.file_reservation_ids && input.file_reservation_ids.length === 0) {
    throw new AppError("EMPTY_IDS", "file_reservation_ids list cannot be empty; omit it to act on all your reservations.", {
      field: "file_reservation_ids",
    });
  }
}

/** The agent's active reservations, narrowed by the filters given (ids AND exact patterns). */
function ownActive(ctx: AgentContext, input: { paths?: string[] | null; file_reservation_ids?: number[] | null }, now: Date): P.Sql {
  const byId = input.file_reservation_ids ? P.sql`AND id = ANY(${input.file_reservation_ids}::int[])` : P.empty;
  const byPath = input.paths ? P.sql`AND path_pattern = ANY(${input.paths}::text[])` : P.empty;
  return P.sql`project_id = ${ctx.project.id} AND agent_id = ${ctx.agent.id} AND released_ts IS NULL AND expires_ts > ${now} ${byId} ${byPath}`;
}

export async function releaseReservations(ctx: AgentContext, input: ReleaseInput): Promise<{ released: number; released_at: string }> {
  assertFilters(input);
  const now = new Date();
  const released = await releaseWhere(ctx.db, "released", now, ownActive(ctx, input, now));
  return { released: released.length, released_at: isoTs(now) };
}

interface RenewedRow {
  id: number;
  project_id: number;
  agent_id: number;
  path_pattern: string;
  old_expires_ts: Date;
  new_expires_ts: Date;
  capped: boolean;
}

/**
 * New expiry = max(now, old) + max(60, extend_seconds), after the project's expired and stale ones
 * are released, but never more than RESERVATION_TTL_MAX_SECONDS from now: each renew alone is
 * within bounds, so rather than refuse, a renew past the cap is clamped and its entry says
 * `capped: true`. (A row already beyond the cap, from before it existed, is not shortened.)
 */
export async function renewReservations(ctx: AgentContext, input: RenewInput) {
  assertFilters(input);
  const now = new Date();
  await releaseExpiredAndStale(ctx.db, ctx.project, ctx.config.reservations, now);
  const seconds = Math.max(RENEW_MIN_SECONDS, input.extend_seconds);
  const cap = new Date(now.getTime() + RESERVATION_TTL_MAX_SECONDS * 1000);
  const rows = await changedWithNotify<RenewedRow>(
    ctx.db,
    "renewed",
    P.sql`UPDATE file_reservations f SET expires_ts = LEAST(t.wanted, t.cap)
      FROM (SELECT id, expires_ts, GREATEST(${now}, expires_ts) + make_interval(secs => ${seconds}) AS wanted, GREATEST(${cap}, expires_ts) AS cap
            FROM file_reservations WHERE ${ownActive(ctx, input, now)} FOR UPDATE) t
      WHERE f.id = t.id
      RETURNING f.id, f.project_id, f.agent_id, f.path_pattern, t.expires_ts AS old_expires_ts, f.expires_ts AS new_expires_ts, t.wanted > t.cap AS capped`,
  );
  return {
    renewed: rows.length,
    file_reservations: rows.map((row) => ({
      id: row.id,
      path_pattern: row.path_pattern,
      old_expires_ts: isoTs(row.old_expires_ts),
      new_expires_ts: isoTs(row.new_expires_ts),
      ...(row.capped ? { capped: true as const } : {}),
    })),
  };
}
