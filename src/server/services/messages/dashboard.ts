import { z } from "zod";
import { recipientMessages } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import { messageWithRecipientsOutput, stateItemOutput } from "@/server/schemas/common";
import { dashboardMailboxInput, dashboardMessageInput, dashboardSearchInput, dashboardThreadInput, messagesWithRecipientsOutput } from "@/server/schemas/messages";
import { requireAgent } from "../agents/authenticate";
import { sentMessages } from "./inbox";
import { searchAs, searchHitsOutput } from "./search";
import { readMessage, threadMessages } from "./threads";
import { sources } from "./summaries";
import { summarize } from "./summary-heuristics";
import { stateItem } from "./views";
import type { Viewer } from "./viewer";

// The human overseer's reads for the dashboard: any agent's mail in a project. Reading every
// agent's mail is an admin operation.

const OPERATOR: Viewer = { kind: "operator" };

export const operatorInbox = defineOperation({
  name: "dashboard_inbox",
  description: "Any agent's received mail with read/ack state, newest first (before_id pages).",
  input: dashboardMailboxInput,
  output: z.strictObject({ project: z.string(), agent: z.string(), messages: z.array(stateItemOutput) }),
  permission: "admin",
  kind: "query",
  scope: "project",
  async handler(ctx, input) {
    const agent = await requireAgent(ctx.db, ctx.project, input.agent_name);
    const rows = await recipientMessages(ctx.db, { agentId: agent.id, limit: input.limit, includeBodies: false, beforeId: input.before_id });
    return { project: ctx.project.slug, agent: agent.name, messages: rows.map((row) => stateItem(row, false)) };
  },
});

export const operatorOutbox = defineOperation({
  name: "dashboard_outbox",
  description: "Any agent's sent mail with recipients, newest first (before_id pages).",
  input: dashboardMailboxInput,
  output: z.strictObject({ project: z.string(), agent: z.string(), count: z.number().int(), messages: messagesWithRecipientsOutput }),
  permission: "admin",
  kind: "query",
  scope: "project",
  async handler(ctx, input) {
    const agent = await requireAgent(ctx.db, ctx.project, input.agent_name);
    const sent = await sentMessages(ctx, ctx.project, OPERATOR, agent.id, { limit: input.limit, includeBodies: false, beforeId: input.before_id });
    return { project: ctx.project.slug, agent: agent.name, ...sent };
  },
});

export const operatorThread = defineOperation({
  name: "dashboard_thread",
  description: "A whole thread, oldest first, with bodies and its heuristic summary.",
  input: dashboardThreadInput,
  output: z.strictObject({
    project: z.string(),
    thread_id: z.string(),
    messages: messagesWithRecipientsOutput,
    summary: z.strictObject({
      participants: z.array(z.string()),
      key_points: z.array(z.string()),
      action_items: z.array(z.string()),
      total_messages: z.number().int(),
      open_actions: z.number().int(),
      done_actions: z.number().int(),
      mentions: z.array(z.strictObject({ name: z.string(), count: z.number().int() })),
      code_references: z.array(z.string()),
    }),
  }),
  permission: "admin",
  kind: "query",
  scope: "project",
  async handler(ctx, input) {
    const { threadId, messages } = await threadMessages(ctx, ctx.project, OPERATOR, input.thread_id, true);
    // summarize_thread's heuristic digest (no LLM call on a page load): participants, key points, action items.
    return { project: ctx.project.slug, thread_id: threadId, messages, summary: summarize(sources(messages)) };
  },
});

export const operatorMessage = defineOperation({
  name: "dashboard_message",
  description: "One message with body and all its recipients.",
  input: dashboardMessageInput,
  output: messageWithRecipientsOutput,
  permission: "admin",
  kind: "query",
  scope: "project",
  handler: (ctx, input) => readMessage(ctx, ctx.project, OPERATOR, input.message_id),
});

export const operatorSearch = defineOperation({
  name: "dashboard_search",
  description: "Full-text search of a whole project's mail, with filters (sender, recipient, importance, thread, topic, dates).",
  input: dashboardSearchInput,
  output: searchHitsOutput,
  permission: "admin",
  kind: "query",
  scope: "project",
  handler: (ctx, input) =>
    searchAs(ctx, ctx.project.id, OPERATOR, {
      query: input.query,
      limit: input.limit,
      sender: input.sender,
      recipient: input.recipient,
      importance: input.importance,
      threadId: input.thread_id,
      topic: input.topic,
      since: input.since_ts,
      until: input.until_ts,
    }),
});
