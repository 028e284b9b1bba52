import type { Agent, Project } from "@/generated/prisma/client";
import { withTransaction, type ServiceContext } from "../context";
import { isoTsOrNull } from "../format";
import { deliver, type DeliveryPayload } from "../messages/deliver";
import { upsertRequest, type LinkState } from "./links";
import { contactBlocked, linkExpiry } from "./policy";

export interface ContactRequestResult {
  from: string;
  from_project: string;
  to: string;
  to_project: string;
  status: string;
  expires_ts: string | null;
  notification_message?: DeliveryPayload;
}

export interface ContactRequest {
  from: Agent;
  fromProject: Project;
  to: Agent;
  toProject: Project;
  reason: string;
  ttlSeconds: number;
}

export function requestSubject(from: Agent): string {
  return `Contact request from ${from.name}`;
}

/** Whether the requester's change warrants a "Contact request from A" mail (§2.2's upsert table). */
async function shouldNotify(ctx: ServiceContext, request: ContactRequest, link: LinkState, now: Date): Promise<boolean> {
  if (link.status !== "pending") return false;
  const previous = link.previous;
  const livePending = previous?.status === "pending" && previous.expiresTs !== null && previous.expiresTs > now;
  if (!livePending) return true;
  const earlier = await ctx.db.message.findFirst({
    where: { senderId: request.from.id, subject: requestSubject(request.from), recipients: { some: { agentId: request.to.id } } },
    select: { id: true },
  });
  return earlier === null;
}

/**
 * Files (or refreshes) the pending link A→B and, when the table says so, mails B an ack-required
 * "Contact request from A" in B's project, in one transaction. A block_all target gets neither.
 */
export async function fileContactRequest(ctx: ServiceContext, request: ContactRequest): Promise<ContactRequestResult> {
  const { from, to } = request;
  if (to.contactPolicy === "block_all") throw contactBlocked([to.name]);
  const now = new Date();
  return withTransaction(ctx, async (tx) => {
    const link = await upsertRequest(tx.db, from, to, request.reason, linkExpiry(now, request.ttlSeconds), now);
    const result: ContactRequestResult = {
      from: from.name,
      from_project: request.fromProject.humanKey,
      to: to.name,
      to_project: request.toProject.humanKey,
      status: link.status,
      expires_ts: isoTsOrNull(link.expiresTs),
    };
    if (!(await shouldNotify(tx, request, link, now))) return result;
    const sent = await deliver(tx, {
      project: request.fromProject,
      sender: from,
      lists: { to: [], cc: [], bcc: [] },
      routed: [{ project: request.toProject, recipients: [{ agent: to, kind: "to" }] }],
      subject: requestSubject(from),
      bodyMd: request.reason || `${from.name} requests permission to contact ${to.name}.`,
      importance: "normal",
      ackRequired: true,
      threadId: null,
      topic: null,
    });
    return { ...result, notification_message: sent.deliveries[0]!.payload };
  });
}
