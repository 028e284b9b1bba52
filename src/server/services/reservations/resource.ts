import type { ReservationsResourceInput } from "@/server/schemas/reservations";
import type { ProjectContext } from "../context";
import { isoTs, isoTsOrNull } from "../format";
import { releaseExpiredAndStale } from "./expire";
import { reservationActivity } from "./staleness";

/**
 * Rows listed at most (the newest ones). A project may hold up to 10,000 active reservations
 * (RESERVATIONS_PER_PROJECT_MAX, grant.ts), so with many the oldest are left out.
 */
const LIST_MAX = 1000;

/** resource://file_reservations/{slug}: expired and stale ones are released first; oldest first. */
export async function listReservations(ctx: ProjectContext, input: ReservationsResourceInput) {
  const { project } = ctx;
  const now = new Date();
  await releaseExpiredAndStale(ctx.db, project, ctx.config.reservations, now);
  const rows = (
    await ctx.db.fileReservation.findMany({
      where: { projectId: project.id, ...(input.active_only ? { releasedTs: null, expiresTs: { gt: now } } : {}) },
      include: { agent: { select: { name: true } } },
      orderBy: [{ createdTs: "desc" }, { id: "desc" }],
      take: LIST_MAX,
    })
  ).reverse();
  const live = rows.filter((row) => !row.releasedTs && row.expiresTs > now);
  const activity = await reservationActivity(ctx.db, project, live, ctx.config.reservations, now);
  return rows.map((row) => {
    const status = activity.get(row.id);
    return {
      id: row.id,
      agent: row.agent.name,
      path_pattern: row.pathPattern,
      exclusive: row.exclusive,
      reason: row.reason,
      created_ts: isoTs(row.createdTs),
      expires_ts: isoTs(row.expiresTs),
      released_ts: isoTsOrNull(row.releasedTs),
      stale: status?.stale ?? false,
      stale_reasons: status?.stale_reasons ?? [],
      last_agent_activity_ts: status?.last_agent_activity_ts ?? null,
      last_mail_activity_ts: status?.last_mail_activity_ts ?? null,
      last_filesystem_activity_ts: status?.last_filesystem_activity_ts ?? null,
      last_git_activity_ts: status?.last_git_activity_ts ?? null,
    };
  });
}
