import { z } from "zod";
import type { Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import { recipientsOf, visibleMessages } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import { messageWithRecipientsOutput } from "@/server/schemas/common";
import { fetchTopicInput, messageResourceInput, messagesWithRecipientsOutput, threadResourceInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { messageBase, withRecipients } from "./views";
import { groupByMessage, recipientLists, viewerId, type Viewer } from "./viewer";
import { clampLimit, normalizeThreadId, parseTimestamp } from "./validation";

const THREAD_LIMIT = 1000;

/** A thread's visible messages, oldest first: thread_id = id, or the seed message with that numeric id. */
export async function threadMessages(ctx: ServiceContext, project: Project, viewer: Viewer, threadIdRaw: string, includeBodies: boolean, limit = THREAD_LIMIT) {
  const threadId = normalizeThreadId(threadIdRaw);
  if (!threadId) throw new AppError("INVALID_THREAD_ID", "thread_id is required.", { field: "thread_id" });
  const rows = await visibleMessages(ctx.db, {
    projectId: project.id,
    viewerId: viewerId(viewer),
    thread: { id: threadId, seedId: /^\d+$/.test(threadId) ? Number(threadId) : null },
    includeBodies,
    limit,
    order: "asc",
  });
  const recipients = groupByMessage(await recipientsOf(ctx.db, rows.map((row) => row.id)));
  const messages = rows.map((row) =>
    withRecipients(messageBase(row, includeBodies), recipientLists(recipients.get(row.id) ?? [], row.sender_id, viewer)),
  );
  return { threadId, rows, messages };
}

export async function readMessage(ctx: ServiceContext, project: Project, viewer: Viewer, messageId: number) {
  const [row] = await visibleMessages(ctx.db, {
    projectId: project.id,
    viewerId: viewerId(viewer),
    ids: [messageId],
    includeBodies: true,
    limit: 1,
    order: "desc",
  });
  if (!row) throw new AppError("NOT_FOUND", `Message ${messageId} not found or not visible.`, { field: "message_id" });
  const recipients = await recipientsOf(ctx.db, [row.id]);
  return {
    ...withRecipients(messageBase(row, true), recipientLists(recipients, row.sender_id, viewer)),
    ...(row.kind ? { kind: row.kind } : {}),
  };
}

const viewerFields = { project: "project", agent: "agent", token: "agent_token", agentOptional: true } as const;

/** resource://message/{id}?project=…&agent=…&agent_token=… */
export const messageResource = defineOperation({
  name: "resource://message",
  description: "One message with body, if visible to the agent. Query: project, agent, agent_token.",
  input: messageResourceInput,
  output: messageWithRecipientsOutput,
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: viewerFields,
  resource: "resource://message/{message_id}",
  handler: (ctx, input) => readMessage(ctx, ctx.project, { kind: "agent", agent: ctx.agent }, input.message_id),
});

/** resource://thread/{id}?project=…&agent=…&agent_token=…&include_bodies=… */
export const threadResource = defineOperation({
  name: "resource://thread",
  description: "A thread's visible messages, oldest first. Query: project, agent, agent_token, include_bodies.",
  input: threadResourceInput,
  output: z.strictObject({ project: z.string(), thread_id: z.string(), messages: messagesWithRecipientsOutput }),
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: viewerFields,
  resource: "resource://thread/{thread_id}",
  async handler(ctx, input) {
    const { threadId, messages } = await threadMessages(ctx, ctx.project, { kind: "agent", agent: ctx.agent }, input.thread_id, input.include_bodies);
    return { project: ctx.project.humanKey, thread_id: threadId, messages };
  },
});

/** fetch_topic: visible messages tagged with the topic (case-insensitive), newest first. */
export const fetchTopic = defineOperation({
  name: "fetch_topic",
  description: "Messages tagged with a topic that you can see, newest first.",
  input: fetchTopicInput,
  output: messagesWithRecipientsOutput,
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: { agentOptional: true },
  tool: { profile: "extended", title: "Fetch topic" },
  async handler(ctx, input) {
    const topic = input.topic_name.trim();
    if (!topic) throw new AppError("INVALID_ARGUMENT", "topic_name must not be blank.", { field: "topic_name" });
    const viewer: Viewer = { kind: "agent", agent: ctx.agent };
    const rows = await visibleMessages(ctx.db, {
      projectId: ctx.project.id,
      viewerId: ctx.agent.id,
      topic,
      since: parseTimestamp(input.since_ts),
      includeBodies: input.include_bodies,
      limit: clampLimit(Math.max(input.limit, 1)),
      order: "desc",
    });
    const recipients = groupByMessage(await recipientsOf(ctx.db, rows.map((row) => row.id)));
    return rows.map((row) =>
      withRecipients(messageBase(row, input.include_bodies), recipientLists(recipients.get(row.id) ?? [], row.sender_id, viewer)),
    );
  },
});
