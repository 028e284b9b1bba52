import type { Db } from "@/server/db/client";
import { AppError } from "@/server/errors";
import { isoTs } from "../format";
import { candidateConflicts, normalizePattern } from "./match";

// Reference §4.5: reservations on the mail archive's own paths block the message writes they
// cover. A delivery writes these surfaces; another agent's active reservation on one of them
// (even a shared one: the write is treated as exclusive) refuses the whole delivery. Reservations
// of code paths (src/**) never block mail. Callers gate this on FILE_RESERVATIONS_ENFORCEMENT_ENABLED.

const ARCHIVE_PREFIXES = ["agents/", "messages/", "attachments/", "threads/", "file_reservations/"];

export interface SurfaceCheck {
  projectId: number;
  senderId: number;
  senderName: string;
  recipientNames: string[];
  threadId: string | null;
  hasAttachments: boolean;
  now?: Date;
}

export interface SurfaceConflict {
  surface: string;
  holder: string;
  path_pattern: string;
  exclusive: boolean;
  expires_ts: string;
}

/** The archive paths a delivery writes (month folders of `now`, UTC). */
export function archiveSurfaces(input: SurfaceCheck, now: Date): string[] {
  const month = `${now.getUTCFullYear()}/${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
  return [
    `messages/${month}/*.md`,
    `agents/${input.senderName}/outbox/${month}/*.md`,
    ...input.recipientNames.map((name) => `agents/${name}/inbox/${month}/*.md`),
    ...(input.threadId ? [`messages/threads/${input.threadId}.md`] : []),
    ...(input.hasAttachments ? ["attachments/**"] : []),
  ];
}

/** Throws FILE_RESERVATION_CONFLICT ({conflicts, project}) when another agent holds an archive surface. */
export async function assertNoArchiveSurfaceConflicts(db: Db, input: SurfaceCheck): Promise<void> {
  const now = input.now ?? new Date();
  const rows = await db.fileReservation.findMany({
    where: { projectId: input.projectId, releasedTs: null, expiresTs: { gt: now }, agentId: { not: input.senderId } },
    include: { agent: { select: { name: true } }, project: { select: { humanKey: true } } },
    orderBy: { id: "asc" },
  });
  const archive = rows.filter((row) => ARCHIVE_PREFIXES.some((prefix) => normalizePattern(row.pathPattern).startsWith(prefix)));
  if (archive.length === 0) return;
  const conflicts: SurfaceConflict[] = archiveSurfaces(input, now).flatMap((surface) =>
    archive
      .filter((row) => candidateConflicts(row.pathPattern, surface))
      .map((row) => ({ surface, holder: row.agent.name, path_pattern: row.pathPattern, exclusive: row.exclusive, expires_ts: isoTs(row.expiresTs) })),
  );
  if (conflicts.length === 0) return;
  throw new AppError("FILE_RESERVATION_CONFLICT", "Conflicting active file_reservations prevent message write.", {
    conflicts,
    project: archive[0]!.project.humanKey,
  });
}
