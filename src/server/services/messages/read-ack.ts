import { z } from "zod";
import { AppError } from "@/server/errors";
import { MAIL_EVENTS_CHANNEL, visibleMessages } from "@/server/db/mail-sql";
import { wirePayload } from "@/server/events/bus";
import { defineOperation } from "@/server/operations/define";
import { timestamp } from "@/server/schemas/common";
import { messageActionInput, type MessageActionInput } from "@/server/schemas/messages";
import { withTransaction, type AgentContext, type ServiceContext } from "../context";
import { isoTsOrNull } from "../format";

async function visibleTarget(ctx: AgentContext, input: MessageActionInput) {
  const { project, agent } = ctx;
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
export const markMessageRead = defineOperation({
  name: "mark_message_read",
  description: "Mark a message read (idempotent: returns the first read_at).",
  input: messageActionInput,
  output: z.strictObject({ message_id: z.number().int(), read: z.boolean(), read_at: timestamp.nullable() }),
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "core", title: "Mark read", idempotent: true },
  handler: markRead,
});

async function markRead(ctx: AgentContext, input: MessageActionInput) {
  const { agent, message } = await visibleTarget(ctx, input);
  const key = { messageId: message.id, agentId: agent.id };
  const changed = await ctx.db.messageRecipient.updateMany({ where: { ...key, readTs: null }, data: { readTs: new Date() } });
  const row = await ctx.db.messageRecipient.findUnique({ where: { messageId_agentId: key } });
  if (changed.count) await notify(ctx, "read", message.project_id, message.id, agent.id, message.sender_id);
  return { message_id: message.id, read: row?.readTs != null, read_at: isoTsOrNull(row?.readTs) };
}

/** Sets read_ts (if unset) then ack_ts (if unset); idempotent, whether or not ack was required. */
export const acknowledgeMessage = defineOperation({
  name: "acknowledge_message",
  description: "Acknowledge a message (also marks it read; idempotent).",
  input: messageActionInput,
  output: z.strictObject({ message_id: z.number().int(), acknowledged: z.boolean(), acknowledged_at: timestamp.nullable(), read_at: timestamp.nullable() }),
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "core", title: "Acknowledge", idempotent: true },
  handler: acknowledge,
});

async function acknowledge(ctx: AgentContext, input: MessageActionInput) {
  const { agent, message } = await visibleTarget(ctx, input);
  const key = { messageId: message.id, agentId: agent.id };
  const now = new Date();
  const [read, acked] = await withTransaction(ctx, ({ db }) =>
    Promise.all([
      db.messageRecipient.updateMany({ where: { ...key, readTs: null }, data: { readTs: now } }),
      db.messageRecipient.updateMany({ where: { ...key, ackTs: null }, data: { ackTs: now } }),
    ]),
  );
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
