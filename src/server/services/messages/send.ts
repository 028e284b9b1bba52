import { AppError } from "@/server/errors";
import type { SendMessageInput } from "@/server/schemas/messages";
import type { AgentContext } from "../context";
import { prepareAttachments } from "../attachments/input";
import { defineOperation } from "@/server/operations/define";
import { sendMessageInput, sendResultOutput } from "@/server/schemas/messages";
import { deliver, replayIdempotent, type SendResult } from "./deliver";
import type { RoutedDelivery } from "./routing";
import { asNameList, normalizeThreadId, normalizeTopic, truncateSubject } from "./validation";

const BROADCAST_WINDOW_MS = 30 * 24 * 3600 * 1000;

export const sendMessage = defineOperation({
  name: "send_message",
  description:
    "Send Markdown mail to agents (to/cc/bcc, or broadcast). Needs sender_token. Returns {deliveries:[{project, payload}], count}. Pass idempotency_key to make retries safe.",
  input: sendMessageInput,
  output: sendResultOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  fields: { agent: "sender_name", token: "sender_token" },
  tool: { profile: "core", title: "Send message" },
  handler: send,
});

async function send(ctx: AgentContext, input: SendMessageInput): Promise<SendResult> {
  const { project, agent: sender } = ctx;
  const topic = normalizeTopic(input.topic);
  const lists = { to: asNameList(input.to), cc: asNameList(input.cc), bcc: asNameList(input.bcc) };
  if (input.broadcast && lists.to.length) {
    throw new AppError("INVALID_ARGUMENT", "broadcast=true and a non-empty 'to' are mutually exclusive; leave 'to' empty to broadcast.", {
      field: "to",
    });
  }
  if (input.broadcast && (lists.cc.length || lists.bcc.length)) {
    throw new AppError("INVALID_ARGUMENT", "broadcast=true already reaches every agent; cc and bcc must be empty.", { field: "cc" });
  }
  const threadId = normalizeThreadId(input.thread_id);

  if (input.idempotency_key) {
    const replay = await replayIdempotent(ctx, sender, input.idempotency_key, "send_message");
    if (replay) return replay;
  }
  const attachments = await prepareAttachments(ctx, project, input.attachments, input.attachment_paths);

  let routed: RoutedDelivery[] | undefined;
  if (input.broadcast) {
    // Every agent active in the last 30 days, except the sender, retired and block_all agents.
    const agents = await ctx.db.agent.findMany({
      where: {
        projectId: project.id,
        id: { not: sender.id },
        retiredAt: null,
        contactPolicy: { not: "block_all" },
        lastActiveTs: { gte: new Date(Date.now() - BROADCAST_WINDOW_MS) },
      },
      orderBy: { id: "asc" },
    });
    routed = agents.length ? [{ project, recipients: agents.map((agent) => ({ agent, kind: "to" as const })) }] : [];
  }

  return deliver(ctx, {
    project,
    sender,
    lists,
    routed,
    subject: truncateSubject(input.subject),
    bodyMd: input.body_md,
    importance: input.importance || "normal",
    ackRequired: input.ack_required,
    threadId,
    topic,
    idempotency: input.idempotency_key ? { key: input.idempotency_key, tool: "send_message" } : undefined,
    contacts: { autoContact: input.auto_contact_if_blocked ?? ctx.config.contacts.autoHandshakeOnBlock },
    attachments,
  });
}
