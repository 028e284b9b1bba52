import { AppError } from "@/server/errors";
import { MAIL_EVENTS_CHANNEL, visibleMessages } from "@/server/db/mail-sql";
import { wirePayload } from "@/server/events/bus";
import type { MessageActionInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { isoTsOrNull } from "../format";
import { resolveProject } from "../projects/projects";
import { agentViewer } from "./viewer";

async function visibleTarget(ctx: ServiceContext, input: MessageActionInput, action: string) {
  const project = await resolveProject(ctx.db, input.project_key);
  const { agent } = await agentViewer(ctx, project, input.agent_name, input.registration_token, action);
  const [message] = await visibleMessages(ctx.db, {
    projectId: project.id,
    viewerId: agent.id,
    ids: [input.message_id],
    includeBodies: false,
    limit: 1,
    order: "desc",
  });
  if (!message) {
    throw new AppError("NOT_FOUND", `Message ${input.message_id} not found or not visible to '${agent.name}'.`, { field: "message_id" });
  }
  return { agent, message };
}

async function notify(ctx: ServiceContext, type: "read" | "ack", projectId: number, messageId: number, agentId: number, senderId: number) {
  const payload = wirePayload({ type, projectId, messageId, agentIds: [agentId], senderId });
  await ctx.db.$executeRaw`SELECT pg_notify(${MAIL_EVENTS_CHANNEL}, ${payload})`;
}

/** Sets read_ts once; later calls return the first timestamp. The sender alone gets read:false. */
export async function markMessageRead(ctx: ServiceContext, input: MessageActionInput) {
  const { agent, message } = await visibleTarget(ctx, input, "mark_message_read");
  const key = { messageId: message.id, agentId: agent.id };
  const changed = await ctx.db.messageRecipient.updateMany({ where: { ...key, readTs: null }, data: { readTs: new Date() } });
  const row = await ctx.db.messageRecipient.findUnique({ where: { messageId_agentId: key } });
  if (changed.count) await notify(ctx, "read", message.project_id, message.id, agent.id, message.sender_id);
  return { message_id: message.id, read: row?.readTs != null, read_at: isoTsOrNull(row?.readTs) };
}

/** Sets read_ts (if unset) then ack_ts (if unset); idempotent, whether or not ack was required. */
export async function acknowledgeMessage(ctx: ServiceContext, input: MessageActionInput) {
  const { agent, message } = await visibleTarget(ctx, input, "acknowledge_message");
  const key = { messageId: message.id, agentId: agent.id };
  const now = new Date();
  const [read, acked] = await ctx.db.$transaction([
    ctx.db.messageRecipient.updateMany({ where: { ...key, readTs: null }, data: { readTs: now } }),
    ctx.db.messageRecipient.updateMany({ where: { ...key, ackTs: null }, data: { ackTs: now } }),
  ]);
  const row = await ctx.db.messageRecipient.findUnique({ where: { messageId_agentId: key } });
  // Acknowledging unread mail reads it too: watchers hear both.
  if (read.count) await notify(ctx, "read", message.project_id, message.id, agent.id, message.sender_id);
  if (acked.count) await notify(ctx, "ack", message.project_id, message.id, agent.id, message.sender_id);
  return {
    message_id: message.id,
    acknowledged: row?.ackTs != null,
    acknowledged_at: isoTsOrNull(row?.ackTs),
    read_at: isoTsOrNull(row?.readTs),
  };
}
