import { Prisma as P } from "@/generated/prisma/client";
import type { Db } from "@/server/db/client";
import { configFromEnv, type ReservationConfig } from "../context";
import { releaseWhere } from "./events";
import { releaseStale } from "./expire";

/**
 * The periodic cleanup (FILE_RESERVATIONS_CLEANUP_ENABLED): releases every project's TTL-expired
 * reservations in one statement, then the stale ones of projects whose holders went inactive.
 */
export async function sweepFileReservations(db: Db, now: Date = new Date(), settings: ReservationConfig = configFromEnv().reservations): Promise<{ released: number }> {
  const expired = await releaseWhere(db, "expired", now, P.sql`expires_ts <= ${now}`);
  const inactiveBefore = new Date(now.getTime() - settings.inactivitySeconds * 1000);
  const projects = await db.project.findMany({
    where: { fileReservations: { some: { releasedTs: null, expiresTs: { gt: now }, agent: { lastActiveTs: { lt: inactiveBefore } } } } },
    select: { id: true, humanKey: true },
  });
  let stale = 0;
  for (const project of projects) stale += await releaseStale(db, project, settings, now);
  return { released: expired.length + stale };
}
