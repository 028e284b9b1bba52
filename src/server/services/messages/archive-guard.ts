import type { Agent } from "@/generated/prisma/client";
import type { ServiceContext } from "../context";
import { assertNoArchiveSurfaceConflicts } from "../reservations/surfaces";
import type { RoutedDelivery } from "./routing";

// The send path's side of §4.5: reservations of the archive's own paths block the message writes
// they cover. Almost no project has any, so one query asks whether another agent holds anything
// that could be an archive path in the delivered projects; only then does the full per-delivery
// check run. The filter is looser than the check's (the name anywhere, not only as the normalised
// prefix), so it never skips a conflict.

// A separator after the name, either way round: the check normalises backslashes to slashes.
const ARCHIVE_NAMES = "(agents|messages|attachments|threads|file_reservations)[/\\\\]";

async function anyArchiveReservation(ctx: ServiceContext, projectIds: number[], senderId: number, now: Date): Promise<boolean> {
  const [row] = await ctx.db.$queryRaw<{ held: boolean }[]>`
    SELECT EXISTS (
      SELECT 1 FROM file_reservations
      WHERE project_id = ANY(${projectIds}::int[]) AND released_ts IS NULL AND expires_ts > ${now}
        AND agent_id <> ${senderId} AND path_pattern ~ ${ARCHIVE_NAMES}
    ) AS held`;
  return row!.held;
}

/** Throws FILE_RESERVATION_CONFLICT before anything is written when a delivery's surface is held. */
export async function guardArchiveSurfaces(
  ctx: ServiceContext,
  sender: Agent,
  routed: RoutedDelivery[],
  threadId: string | null,
  hasAttachments: boolean,
): Promise<void> {
  if (!ctx.config.reservations.enforcementEnabled) return;
  const now = new Date();
  if (!(await anyArchiveReservation(ctx, routed.map((delivery) => delivery.project.id), sender.id, now))) return;
  for (const delivery of routed) {
    await assertNoArchiveSurfaceConflicts(ctx.db, {
      projectId: delivery.project.id,
      senderId: sender.id,
      senderName: sender.name,
      recipientNames: delivery.recipients.map(({ agent }) => agent.name),
      threadId,
      hasAttachments,
      now,
    });
  }
}
