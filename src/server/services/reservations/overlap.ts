import type { Db } from "@/server/db/client";
import { patternsOverlap } from "./match";

/**
 * Which of `agentIds` hold an active reservation overlapping one of the sender's active ones
 * (reference §3: overlapping reservations let agents mail each other without a contact link).
 */
export async function overlappingHolders(db: Db, projectId: number, senderId: number, agentIds: number[], now: Date = new Date()): Promise<Set<number>> {
  const holders = new Set<number>();
  const others = agentIds.filter((id) => id !== senderId);
  if (others.length === 0) return holders;
  const rows = await db.fileReservation.findMany({
    where: { projectId, releasedTs: null, expiresTs: { gt: now }, agentId: { in: [senderId, ...others] } },
    select: { agentId: true, pathPattern: true },
  });
  const mine = rows.filter((row) => row.agentId === senderId).map((row) => row.pathPattern);
  if (mine.length === 0) return holders;
  for (const row of rows) {
    if (row.agentId !== senderId && !holders.has(row.agentId) && mine.some((pattern) => patternsOverlap(pattern, row.pathPattern))) holders.add(row.agentId);
  }
  return holders;
}
