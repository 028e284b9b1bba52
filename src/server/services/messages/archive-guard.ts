import type { Agent } from "@/generated/prisma/client";
import type { ServiceContext } from "../context";
import { assertNoArchiveSurfaceConflicts } from "../reservations/surfaces";
import type { RoutedDelivery } from "./routing";

// The send path's side of §4.5: reservations of the archive's own paths block the message writes
// they cover. Almost no project has any, so the send's own insert statement carries a filter
// (insertMessages' `unlessReserved`): it writes nothing when another agent holds anything that could
// be an archive path in the delivered projects, and only then does the full per-delivery check run
// (a second statement, in the rare case). The filter is looser than the check's (the name
// anywhere, not only as the normalised prefix), so it never skips a conflict.

// A separator after the name, either way round: the check normalises backslashes to slashes.
export const ARCHIVE_SURFACE_PATTERN = "(agents|messages|attachments|threads|file_reservations)[/\\\\]";

/** The insert's filter, or undefined when reservations are not enforced on message writes. */
export function archiveSurfaceFilter(ctx: ServiceContext): { pattern: string; now: Date } | undefined {
  return ctx.config.reservations.enforcementEnabled ? { pattern: ARCHIVE_SURFACE_PATTERN, now: new Date() } : undefined;
}

/** Throws FILE_RESERVATION_CONFLICT when a delivery's surface is held (after the filter matched). */
export async function guardArchiveSurfaces(
  ctx: ServiceContext,
  sender: Agent,
  routed: RoutedDelivery[],
  threadId: string | null,
  hasAttachments: boolean,
  now: Date,
): Promise<void> {
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
