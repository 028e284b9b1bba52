import { Prisma as P } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import type { ForceReleaseInput } from "@/server/schemas/reservations";
import type { AgentContext } from "../context";
import { isoTs, isoTsOrNull } from "../format";
import { deliver } from "../messages/deliver";
import { releaseWhere } from "./events";
import { releaseExpiredAndStale } from "./expire";
import { reservationActivity, type Activity } from "./staleness";

// Releasing someone else's reservation (reference §2.2): only when the staleness heuristic says
// it is stale; the holder is told by mail unless asked not to. Mailroom gates it to admins.

export async function forceRelease(ctx: AgentContext, input: ForceReleaseInput) {
  const { project, agent: actor } = ctx;
  const now = new Date();
  const row = await ctx.db.fileReservation.findFirst({ where: { id: input.file_reservation_id, projectId: project.id }, include: { agent: true } });
  if (!row) {
    throw new AppError("NOT_FOUND", `File reservation id=${input.file_reservation_id} not found for project '${project.slug}'.`, {
      field: "file_reservation_id",
    });
  }
  if (row.releasedTs) return { released: 0, released_at: isoTs(row.releasedTs), already_released: true };
  if (row.expiresTs <= now) {
    await releaseExpiredAndStale(ctx.db, project, ctx.config.reservations, now);
    return { released: 0, released_at: isoTs(now), already_released: true, expired: true };
  }

  const activity = (await reservationActivity(ctx.db, project, [row], ctx.config.reservations, now)).get(row.id)!;
  if (!activity.stale) {
    throw new AppError(
      "RESERVATION_ACTIVE",
      `Reservation ${row.id} on '${row.pathPattern}' held by ${row.agent.name} is still active (${activity.stale_reasons.join(", ")}); only stale reservations can be force-released.`,
      { stale_reasons: activity.stale_reasons },
    );
  }
  const [released] = await releaseWhere(ctx.db, "force_released", now, P.sql`id = ${row.id}`);
  if (!released) return { released: 0, released_at: isoTs(now), already_released: true };

  const notice = input.notify_previous && row.agentId !== actor.id ? await notifyHolder(ctx, row.agent.name, row.pathPattern, activity, input.note) : undefined;
  return {
    released: 1,
    released_at: isoTs(now),
    reservation: {
      id: row.id,
      agent: row.agent.name,
      path_pattern: row.pathPattern,
      exclusive: row.exclusive,
      reason: row.reason,
      created_ts: isoTs(row.createdTs),
      expires_ts: isoTs(row.expiresTs),
      released_ts: isoTsOrNull(now),
      stale_reasons: activity.stale_reasons,
      last_agent_activity_ts: activity.last_agent_activity_ts,
      last_mail_activity_ts: activity.last_mail_activity_ts,
      last_filesystem_activity_ts: activity.last_filesystem_activity_ts,
      last_git_activity_ts: activity.last_git_activity_ts,
      notified: notice?.notified ?? false,
      ...(notice?.error ? { notification_error: notice.error } : {}),
    },
  };
}

/**
 * Mail from the actor to the holder; a failure is reported in the result, not thrown (the release
 * stands). It goes through the holder's contact policy like any send (without filing a contact
 * request): a block_all holder refused all mail, and an unchecked notice would also have counted
 * as recent contact, opening an `auto` holder to the actor's later mail.
 */
async function notifyHolder(ctx: AgentContext, holder: string, pattern: string, activity: Activity, note: string) {
  const lines = [
    `${ctx.agent.name} released your stale file reservation on \`${pattern}\` in ${ctx.project.humanKey}.`,
    "",
    `Why it counted as stale: ${activity.stale_reasons.join(", ")}.`,
    ...(note ? ["", `Note: ${note}`] : []),
    "",
    "Reserve the paths again with file_reservation_paths if you still need them.",
  ];
  try {
    await deliver(ctx, {
      project: ctx.project,
      sender: ctx.agent,
      lists: { to: [holder], cc: [], bcc: [] },
      subject: `[file-reservations] Released stale lock on ${pattern}`.slice(0, 200),
      bodyMd: lines.join("\n"),
      importance: "normal",
      ackRequired: false,
      threadId: null,
      topic: null,
      contacts: { autoContact: false },
    });
    return { notified: true };
  } catch (error) {
    return { notified: false, error: error instanceof AppError ? error.message : "The notification could not be delivered." };
  }
}
