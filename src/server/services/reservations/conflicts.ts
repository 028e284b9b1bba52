import type { Db } from "@/server/db/client";
import { isoTs } from "../format";
import { candidateConflicts } from "./match";

// Conflicts of candidate paths with a project's active reservations (reference §4.2): another
// agent's reservation whose pattern overlaps the path, unless both are shared.

export interface ActiveReservation {
  id: number;
  agentId: number;
  agentName: string;
  pathPattern: string;
  exclusive: boolean;
  reason: string;
  expiresTs: Date;
}

export interface Conflict {
  path: string;
  holders: { agent: string; path_pattern: string; exclusive: boolean; expires_ts: string }[];
}

/** The project's unreleased, unexpired reservations, oldest first. */
export async function activeReservations(db: Db, projectId: number, now: Date): Promise<ActiveReservation[]> {
  const rows = await db.fileReservation.findMany({
    where: { projectId, releasedTs: null, expiresTs: { gt: now } },
    include: { agent: { select: { name: true } } },
    orderBy: { id: "asc" },
  });
  return rows.map((row) => ({
    id: row.id,
    agentId: row.agentId,
    agentName: row.agent.name,
    pathPattern: row.pathPattern,
    exclusive: row.exclusive,
    reason: row.reason,
    expiresTs: row.expiresTs,
  }));
}

/** Who blocks `path` for `agentId` (exclusive or shared as asked); empty when nobody does. */
export function holdersOf(active: readonly ActiveReservation[], agentId: number, path: string, exclusive: boolean): Conflict["holders"] {
  return active
    .filter((existing) => existing.agentId !== agentId && (existing.exclusive || exclusive) && candidateConflicts(existing.pathPattern, path))
    .map((existing) => ({ agent: existing.agentName, path_pattern: existing.pathPattern, exclusive: existing.exclusive, expires_ts: isoTs(existing.expiresTs) }));
}

/**
 * One entry per path that conflicts, in the order asked. Up to 256 paths × 10,000 reservations is
 * seconds of matching: it lets other requests run between paths instead of freezing the process.
 */
export async function conflictsFor(active: readonly ActiveReservation[], agentId: number, paths: readonly string[], exclusive: boolean): Promise<Conflict[]> {
  const conflicts: Conflict[] = [];
  for (const [index, path] of paths.entries()) {
    if (index > 0) await new Promise((resolve) => setImmediate(resolve));
    const holders = holdersOf(active, agentId, path, exclusive);
    if (holders.length) conflicts.push({ path, holders });
  }
  return conflicts;
}
