import type { Agent, Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import type { Db } from "@/server/db/client";
import type { ServiceContext } from "../context";
import { overlappingHolders } from "../reservations/overlap";
import { contactBlocked, REQUEST_TTL_SECONDS } from "./policy";
import { fileContactRequest, requestSubject } from "./request";

// Contact-policy enforcement for send_message and reply_message (§3.1, §3.2). Everything is read
// from the database on each send, so an approval or a policy change made through any server
// instance applies to the next send everywhere. Cost: nothing more when every recipient is open;
// one query for all recipients together otherwise (links, recent contact and thread membership),
// and one more only for recipients that query leaves refused (overlapping reservations).

export interface ContactCheck {
  senderProject: Project;
  sender: Agent;
  recipients: { agent: Agent; project: Project }[];
  /** Participants of this thread (in the sender's project, visible to the sender) are allowed. */
  threadId: string | null;
  /** File a pending contact request for each recipient still refused (send only; never reply). */
  autoContact: boolean;
}

interface Facts {
  id: number;
  linked: boolean;
  recent: boolean;
  in_thread: boolean;
}

// A thread's participants are those the sender can see in it (a bcc recipient only to the one who
// wrote the message). Recent contact and shared threads count every message except the sender's
// own contact requests: asking must not itself grant what is asked for (one refused send would
// open `auto`, and the request's id as thread_id would open any policy).
async function contactFacts(db: Db, check: ContactCheck, ids: number[], recentSince: Date | null, now: Date): Promise<Map<number, Facts>> {
  const { sender, senderProject, threadId } = check;
  const seedId = threadId !== null && /^\d{1,9}$/.test(threadId) ? Number(threadId) : null;
  // CASE, unlike OR, is evaluated in order: an approved link (one index probe) spares the recent-
  // contact scans, which read every message either agent sent within the TTL.
  const rows = await db.$queryRaw<Facts[]>`
    SELECT r.id, l.linked,
      CASE WHEN l.linked OR ${recentSince}::timestamptz IS NULL THEN false
           ELSE EXISTS (SELECT 1 FROM messages m JOIN message_recipients mr ON mr.message_id = m.id AND mr.agent_id = r.id
                        WHERE m.sender_id = ${sender.id} AND m.created_ts > ${recentSince}::timestamptz
                          AND NOT (m.ack_required AND m.subject = ${requestSubject(sender)}))
             OR EXISTS (SELECT 1 FROM messages m JOIN message_recipients mr ON mr.message_id = m.id AND mr.agent_id = ${sender.id}
                        WHERE m.sender_id = r.id AND m.created_ts > ${recentSince}::timestamptz)
      END AS recent,
      (${threadId}::text IS NOT NULL AND EXISTS (
        SELECT 1 FROM messages m
        WHERE m.project_id = ${senderProject.id} AND (m.thread_id = ${threadId}::text OR m.id = ${seedId}::int)
          AND NOT (m.sender_id = ${sender.id} AND m.ack_required AND m.subject = ${requestSubject(sender)})
          AND (m.sender_id = ${sender.id} OR EXISTS (SELECT 1 FROM message_recipients v WHERE v.message_id = m.id AND v.agent_id = ${sender.id}))
          AND (m.sender_id = r.id OR EXISTS (SELECT 1 FROM message_recipients p WHERE p.message_id = m.id AND p.agent_id = r.id
                                             AND (p.kind <> 'bcc' OR m.sender_id = ${sender.id}))))) AS in_thread
    FROM unnest(${ids}::int[]) AS r(id)
    CROSS JOIN LATERAL (
      SELECT EXISTS (SELECT 1 FROM agent_links l
                     WHERE l.a_project_id = ${sender.projectId} AND l.a_agent_id = ${sender.id} AND l.b_agent_id = r.id
                       AND l.status = 'approved' AND l.expires_ts > ${now}) AS linked
    ) l`;
  return new Map(rows.map((row) => [row.id, row]));
}

function address(check: ContactCheck, agent: Agent, project: Project): string {
  return project.id === check.senderProject.id ? agent.name : `project:${project.slug}#${agent.name}`;
}

/**
 * Refuses the send (nothing written) unless every recipient may be reached: CONTACT_BLOCKED for a
 * block_all recipient (nothing bypasses it), AGENT_RETIRED for a retired one no heuristic allows,
 * CONTACT_REQUIRED for the rest, after filing pending requests when `autoContact` is on.
 */
export async function enforceContactPolicy(ctx: ServiceContext, check: ContactCheck): Promise<void> {
  if (!ctx.config.contacts.enforcementEnabled) return;
  const others = [...new Map(check.recipients.filter((r) => r.agent.id !== check.sender.id).map((r) => [r.agent.id, r])).values()];

  const blockAll = others.filter((r) => r.agent.contactPolicy === "block_all");
  if (blockAll.length) throw contactBlocked(blockAll.map((r) => address(check, r.agent, r.project)));

  const pending = others.filter((r) => r.agent.contactPolicy !== "open" || r.agent.retiredAt !== null);
  if (!pending.length) return;

  const now = new Date();
  const ttl = ctx.config.contacts.autoTtlSeconds;
  const recentSince = ttl > 0 && pending.some((r) => r.agent.contactPolicy === "auto") ? new Date(now.getTime() - ttl * 1000) : null;
  const facts = await contactFacts(ctx.db, check, pending.map((r) => r.agent.id), recentSince, now);

  const byPolicy = (agent: Agent, fact: Facts) => agent.contactPolicy === "open" || fact.linked || (agent.contactPolicy === "auto" && fact.recent);
  const undecided = pending.filter(({ agent }) => {
    const fact = facts.get(agent.id)!;
    return !fact.in_thread && (agent.retiredAt !== null || !byPolicy(agent, fact));
  });
  // Overlapping reservations are the one heuristic left; only the uncommon case pays its query.
  const local = undecided.filter((r) => r.project.id === check.senderProject.id).map((r) => r.agent.id);
  const overlapping = local.length ? await overlappingHolders(ctx.db, check.senderProject.id, check.sender.id, local, now) : new Set<number>();

  const refused: typeof pending = [];
  for (const recipient of undecided) {
    const { agent } = recipient;
    if (overlapping.has(agent.id)) continue;
    if (agent.retiredAt !== null) {
      throw new AppError("AGENT_RETIRED", `Agent '${agent.name}' is retired and no longer receives mail.`, { recipient: agent.name });
    }
    refused.push(recipient);
  }
  if (refused.length) await refuse(ctx, check, refused);
}

async function refuse(ctx: ServiceContext, check: ContactCheck, refused: { agent: Agent; project: Project }[]): Promise<never> {
  const names = refused.map((r) => address(check, r.agent, r.project));
  const requested: string[] = [];
  if (check.autoContact) {
    for (const recipient of refused) {
      await fileContactRequest(ctx, {
        from: check.sender,
        fromProject: check.senderProject,
        to: recipient.agent,
        toProject: recipient.project,
        reason: "",
        ttlSeconds: REQUEST_TTL_SECONDS,
      });
      requested.push(address(check, recipient.agent, recipient.project));
    }
  }
  const suggested = refused.map((r) => ({
    tool: "request_contact",
    arguments: { project_key: check.senderProject.slug, from_agent: check.sender.name, to_agent: address(check, r.agent, r.project) },
  }));
  throw new AppError(
    "CONTACT_REQUIRED",
    `Contact approval required for recipients: ${names.join(", ")}. ` +
      `Call request_contact(project_key='${check.senderProject.slug}', from_agent='${check.sender.name}', to_agent='${names[0]}') ` +
      `and have the recipient call respond_contact(..., accept=true); or reuse a thread_id you already share with them.` +
      (requested.length ? ` Pending contact requests were created for: ${requested.join(", ")}.` : ""),
    { recipients_blocked: names, auto_contact_requested: requested, suggested_tool_calls: suggested },
  );
}
