import { z } from "zod";
import { AppError } from "@/server/errors";
import type { MessageReceiptsInput } from "@/server/schemas/messages";
import type { AgentContext } from "../context";
import { deliveriesOf, recipientsOf } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import { timestamp } from "@/server/schemas/common";
import { messageReceiptsInput } from "@/server/schemas/messages";
import { isoTs, isoTsOrNull } from "../format";

/**
 * get_message_receipts: per-recipient delivery, read and ack times of a message, for its sender
 * only. Every delivery of a cross-project send (one message row per project) is included.
 */
export const getMessageReceipts = defineOperation({
  name: "get_message_receipts",
  description: "For a message you sent: each recipient's delivered/read/acknowledged times.",
  input: messageReceiptsInput,
  output: z.strictObject({
    message_id: z.number().int(),
    subject: z.string(),
    ack_required: z.boolean(),
    created_ts: timestamp,
    recipients: z.array(
      z.strictObject({
        agent: z.string(),
        project: z.string(),
        kind: z.string(),
        delivered_at: timestamp,
        read_at: timestamp.nullable(),
        acknowledged_at: timestamp.nullable(),
      }),
    ),
    summary: z.strictObject({ total: z.number().int(), read: z.number().int(), acknowledged: z.number().int() }),
  }),
  permission: "read",
  kind: "query",
  scope: "agent",
  tool: { profile: "extended", title: "Message receipts" },
  handler: receipts,
});

async function receipts(ctx: AgentContext, input: MessageReceiptsInput) {
  const { agent } = ctx;
  const message = await ctx.db.message.findFirst({ where: { id: input.message_id, senderId: agent.id } });
  if (!message) {
    throw new AppError("NOT_FOUND", `Message ${input.message_id} not found among messages sent by '${agent.name}'.`, { field: "message_id" });
  }
  const rows = await recipientsOf(ctx.db, await deliveriesOf(ctx.db, message.id));
  const recipients = rows.map((row) => ({
    agent: row.name,
    project: row.project_slug,
    kind: row.kind,
    delivered_at: isoTs(message.createdTs),
    read_at: isoTsOrNull(row.read_ts),
    acknowledged_at: isoTsOrNull(row.ack_ts),
  }));
  return {
    message_id: message.id,
    subject: message.subject,
    ack_required: message.ackRequired,
    created_ts: isoTs(message.createdTs),
    recipients,
    summary: {
      total: recipients.length,
      read: recipients.filter((r) => r.read_at).length,
      acknowledged: recipients.filter((r) => r.acknowledged_at).length,
    },
  };
}
