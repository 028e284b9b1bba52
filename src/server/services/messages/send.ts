import { AppError } from "@/server/errors";
import type { SendMessageInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { resolveProject } from "../projects/projects";
import { deliver, replayIdempotent, type SendResult } from "./deliver";
import type { RoutedDelivery } from "./routing";
import { agentViewer } from "./viewer";
import { asNameList, normalizeThreadId, normalizeTopic, truncateSubject } from "./validation";

const BROADCAST_WINDOW_MS = 30 * 24 * 3600 * 1000;

export async function sendMessage(ctx: ServiceContext, input: SendMessageInput): Promise<SendResult> {
  const project = await resolveProject(ctx.db, input.project_key);
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
  if (input.attachment_paths?.length) {
    throw new AppError("INVALID_ARGUMENT", "attachment_paths is not supported by this server yet; link files in body_md instead.", {
      field: "attachment_paths",
    });
  }
  const threadId = normalizeThreadId(input.thread_id);
  const { agent: sender } = await agentViewer(ctx, project, input.sender_name, input.sender_token, "send_message", "sender_token");

  if (input.idempotency_key) {
    const replay = await replayIdempotent(ctx, sender, input.idempotency_key, "send_message");
    if (replay) return replay;
  }

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
  });
}
