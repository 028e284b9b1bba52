import { AppError } from "@/server/errors";
import { deliveriesOf, recipientsOf } from "@/server/db/mail-sql";
import type { MessageReceiptsInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { isoTs, isoTsOrNull } from "../format";
import { resolveProject } from "../projects/projects";
import { agentViewer } from "./viewer";

/**
 * get_message_receipts: per-recipient delivery, read and ack times of a message, for its sender
 * only. Every delivery of a cross-project send (one message row per project) is included.
 */
export async function getMessageReceipts(ctx: ServiceContext, input: MessageReceiptsInput) {
  const project = await resolveProject(ctx.db, input.project_key);
  const { agent } = await agentViewer(ctx, project, input.agent_name, input.registration_token, "get_message_receipts");
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
