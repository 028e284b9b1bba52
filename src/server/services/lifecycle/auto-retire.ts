import type { Db } from "@/server/db/client";
import { OVERSEER_NAME } from "../messages/overseer";

/** Upstream's floor: an agent is never retired for less than a minute of silence. */
export const AUTO_RETIRE_MIN_SECONDS = 60;

/**
 * Retires every agent, in every project, whose last activity is older than `thresholdSeconds`
 * (#149: dead agents otherwise make broadcasts hit a wall of unanswered mail). The dashboard's
 * HumanOverseer is a person, not a session, and is never retired.
 */
export async function retireStaleAgents(db: Db, thresholdSeconds: number, now: Date = new Date()): Promise<{ retired: number }> {
  const cutoff = new Date(now.getTime() - Math.max(AUTO_RETIRE_MIN_SECONDS, thresholdSeconds) * 1000);
  const result = await db.agent.updateMany({
    where: { retiredAt: null, lastActiveTs: { lt: cutoff }, nameKey: { not: OVERSEER_NAME.toLowerCase() } },
    data: { retiredAt: now },
  });
  return { retired: result.count };
}
