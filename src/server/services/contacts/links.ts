import type { Agent } from "@/generated/prisma/client";
import type { Db } from "@/server/db/client";

// The directed contact links (agent_links): A→B approved lets A write to B. Each change is one
// statement keyed on the link's unique pair, so concurrent requests and approvals (from any
// server instance) meet in the database rather than in a process.

export interface LinkState {
  status: string;
  expiresTs: Date | null;
  /** The state the link had before this change (null when it did not exist). */
  previous: { status: string; expiresTs: Date | null } | null;
}

/**
 * request_contact's upsert (§2.2): a new, expired or blocked link becomes pending until `expires`;
 * a live approval stays approved and a live pending request stays pending, both extended to the
 * later expiry.
 */
export async function upsertRequest(db: Db, from: Agent, to: Agent, reason: string, expires: Date, now: Date): Promise<LinkState> {
  const [row] = await db.$queryRaw<{ status: string; expires_ts: Date | null; old_status: string | null; old_expires_ts: Date | null }[]>`
    WITH old AS (
      SELECT status, expires_ts FROM agent_links
      WHERE a_project_id = ${from.projectId} AND a_agent_id = ${from.id} AND b_project_id = ${to.projectId} AND b_agent_id = ${to.id}
    ), up AS (
      INSERT INTO agent_links AS l (a_project_id, a_agent_id, b_project_id, b_agent_id, status, reason, created_ts, updated_ts, expires_ts)
      VALUES (${from.projectId}, ${from.id}, ${to.projectId}, ${to.id}, 'pending', ${reason}, ${now}, ${now}, ${expires})
      ON CONFLICT (a_project_id, a_agent_id, b_project_id, b_agent_id) DO UPDATE SET
        status = CASE WHEN l.status = 'approved' AND l.expires_ts > ${now} THEN 'approved' ELSE 'pending' END,
        expires_ts = CASE WHEN l.status IN ('approved', 'pending') AND l.expires_ts > ${now}
                          THEN GREATEST(l.expires_ts, EXCLUDED.expires_ts) ELSE EXCLUDED.expires_ts END,
        reason = CASE WHEN EXCLUDED.reason <> '' THEN EXCLUDED.reason ELSE l.reason END,
        updated_ts = ${now}
      RETURNING l.status, l.expires_ts
    )
    SELECT up.status, up.expires_ts, old.status AS old_status, old.expires_ts AS old_expires_ts FROM up LEFT JOIN old ON true`;
  return {
    status: row!.status,
    expiresTs: row!.expires_ts,
    previous: row!.old_status === null ? null : { status: row!.old_status, expiresTs: row!.old_expires_ts },
  };
}

/** An approval of requester→approver: created if missing; a live approval keeps the later expiry. */
export async function upsertApproval(db: Db, requester: Agent, approver: Agent, expires: Date, now: Date): Promise<Date | null> {
  const [row] = await db.$queryRaw<{ expires_ts: Date | null }[]>`
    INSERT INTO agent_links AS l (a_project_id, a_agent_id, b_project_id, b_agent_id, status, created_ts, updated_ts, expires_ts)
    VALUES (${requester.projectId}, ${requester.id}, ${approver.projectId}, ${approver.id}, 'approved', ${now}, ${now}, ${expires})
    ON CONFLICT (a_project_id, a_agent_id, b_project_id, b_agent_id) DO UPDATE SET
      status = 'approved',
      expires_ts = CASE WHEN l.status = 'approved' AND l.expires_ts > ${now}
                        THEN GREATEST(l.expires_ts, EXCLUDED.expires_ts) ELSE EXCLUDED.expires_ts END,
      updated_ts = ${now}
    RETURNING l.expires_ts`;
  return row!.expires_ts;
}

/** A denial: the link becomes blocked without expiry; no link, no change (0). */
export async function denyLink(db: Db, requester: Agent, approver: Agent, now: Date): Promise<number> {
  const result = await db.agentLink.updateMany({
    where: { aProjectId: requester.projectId, aAgentId: requester.id, bProjectId: approver.projectId, bAgentId: approver.id },
    data: { status: "blocked", expiresTs: null, updatedTs: now },
  });
  return result.count;
}
