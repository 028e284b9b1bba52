import { Prisma as P } from "@/generated/prisma/client";
import type { Db } from "@/server/db/client";
import type { ReservationConfig } from "../context";
import { releaseWhere } from "./events";
import { reservationActivity } from "./staleness";

// Lazy expiry (reference §4.3, §4.4): reserve, renew, force-release and the reservations resource
// first release what has run out (TTL passed) or gone stale (holder inactive, nothing recent), so
// that no caller ever sees a dead reservation as live. The periodic sweep (sweep.ts) does the same
// for every project.

export interface ExpiryProject {
  id: number;
  humanKey: string;
}

/** Releases the project's TTL-expired and stale reservations; returns how many. */
export async function releaseExpiredAndStale(db: Db, project: ExpiryProject, settings: ReservationConfig, now: Date): Promise<number> {
  const expired = await releaseWhere(db, "expired", now, P.sql`project_id = ${project.id} AND expires_ts <= ${now}`);
  return expired.length + (await releaseStale(db, project, settings, now));
}

/**
 * Reservations looked at per call. Each may cost a directory walk and a git call, and this runs at
 * the start of every reserve and renew: later calls (and the periodic sweep) take the next ones.
 */
export const STALE_CANDIDATES_MAX = 100;

/**
 * Only holders inactive for FILE_RESERVATION_INACTIVITY_SECONDS can be stale: the rest is not
 * looked at. At most STALE_CANDIDATES_MAX of them per call, oldest first.
 */
export async function releaseStale(db: Db, project: ExpiryProject, settings: ReservationConfig, now: Date): Promise<number> {
  const inactiveBefore = new Date(now.getTime() - settings.inactivitySeconds * 1000);
  const candidates = await db.fileReservation.findMany({
    where: { projectId: project.id, releasedTs: null, expiresTs: { gt: now }, agent: { lastActiveTs: { lt: inactiveBefore } } },
    select: { id: true, agentId: true, pathPattern: true },
    orderBy: { id: "asc" },
    take: STALE_CANDIDATES_MAX,
  });
  if (candidates.length === 0) return 0;
  const activity = await reservationActivity(db, project, candidates, settings, now);
  const stale = candidates.filter((row) => activity.get(row.id)?.stale).map((row) => row.id);
  if (stale.length === 0) return 0;
  const released = await releaseWhere(db, "expired", now, P.sql`project_id = ${project.id} AND id = ANY(${stale}::int[])`);
  return released.length;
}
