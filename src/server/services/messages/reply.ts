import { AppError } from "@/server/errors";
import { recipientsOf, visibleMessages } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import { replyMessageInput, replyResultOutput, type ReplyMessageInput } from "@/server/schemas/messages";
import type { AgentContext } from "../context";
import { prepareAttachments } from "../attachments/input";
import { deliver, replayIdempotent, type DeliveryPayload, type SendResult } from "./deliver";
import { asNameList, truncateSubject } from "./validation";

export type ReplyResult = Partial<DeliveryPayload> &
  Omit<SendResult, "verified_sender"> & { thread_id: string; reply_to: number; verified_sender?: true };

function prefixed(subject: string, prefix: string): string {
  const trimmedPrefix = prefix.trim();
  if (!trimmedPrefix) return subject;
  return subject.trim().toLowerCase().startsWith(trimmedPrefix.toLowerCase()) ? subject : `${trimmedPrefix} ${subject}`;
}

/**
 * reply_message: continues the original's thread (its thread_id, or its id as a string), inherits
 * importance, ack_required and topic, and goes to the original sender unless told otherwise.
 */
export const replyMessage = defineOperation({
  name: "reply_message",
  description: "Reply in a message's thread (Re: subject, inherited importance/ack/topic; to defaults to the original sender). Needs sender_token.",
  input: replyMessageInput,
  output: replyResultOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  fields: { agent: "sender_name", token: "sender_token" },
  tool: { profile: "core", title: "Reply" },
  handler: reply,
});

async function reply(ctx: AgentContext, input: ReplyMessageInput): Promise<ReplyResult> {
  const { project, agent: sender } = ctx;
  const [original] = await visibleMessages(ctx.db, {
    projectId: project.id,
    viewerId: sender.id,
    ids: [input.message_id],
    includeBodies: false,
    limit: 1,
    order: "desc",
  });
  if (!original) {
    throw new AppError("NOT_FOUND", `Message ${input.message_id} not found or not visible to '${sender.name}'.`, { field: "message_id" });
  }
  const threadId = original.thread_id ?? String(original.id);
  const replyTo = original.id;

  if (input.idempotency_key) {
    const replay = await replayIdempotent(ctx, sender, input.idempotency_key, "reply_message");
    if (replay) return { ...replay.deliveries[0]?.payload, ...replay, thread_id: threadId, reply_to: replyTo };
  }

  let to: string[];
  if (input.to === undefined || input.to === null) {
    if (original.sender_id === sender.id) {
      to = (await recipientsOf(ctx.db, [original.id])).filter((row) => row.kind === "to").map((row) =>
        row.project_id === project.id ? row.name : `project:${row.project_slug}#${row.name}`,
      );
    } else {
      to = [original.sender_project_id === project.id ? original.sender_name : `project:${original.sender_project_slug}#${original.sender_name}`];
    }
  } else {
    to = asNameList(input.to);
  }
  const lists = { to, cc: asNameList(input.cc), bcc: asNameList(input.bcc) };
  if (!lists.to.length && !lists.cc.length && !lists.bcc.length) {
    return { thread_id: threadId, reply_to: replyTo, deliveries: [], count: 0 };
  }

  const attachments = await prepareAttachments(ctx, project, input.attachments, undefined);
  const result = await deliver(ctx, {
    project,
    sender,
    lists,
    subject: truncateSubject(prefixed(original.subject, input.subject_prefix)),
    bodyMd: input.body_md,
    importance: original.importance,
    ackRequired: original.ack_required,
    threadId,
    topic: original.topic,
    idempotency: input.idempotency_key ? { key: input.idempotency_key, tool: "reply_message" } : undefined,
    // The thread's participants are allowed by the thread rule; a reply files no contact requests.
    contacts: { autoContact: false },
    attachments,
  });
  return { ...result.deliveries[0]?.payload, ...result, thread_id: threadId, reply_to: replyTo };
}
