import { z } from "zod";
import type { MessageSummary } from "@/generated/prisma/client";
import { visibleMessages } from "@/server/db/mail-sql";
import { AppError } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import { timestamp } from "@/server/schemas/common";
import {
  fetchSummaryInput,
  summarizeRecentInput,
  summarizeThreadInput,
  type SummarizeRecentInput,
  type SummarizeThreadInput,
} from "@/server/schemas/messages";
import type { AgentContext } from "../context";
import { isoTs } from "../format";
import { refineSummary } from "./llm";
import { summarize, type SummarySource } from "./summary-heuristics";
import { threadMessages } from "./threads";
import type { Viewer } from "./viewer";

export function sources(messages: { id: number; subject: string; body_md?: string; from: string; created_ts: string }[]): SummarySource[] {
  return messages.map((message) => ({ ...message, body_md: message.body_md ?? "" }));
}

/** Threads one summarize_thread call may cover: each costs a query and a summary. */
export const MAX_THREADS_PER_SUMMARY = 20;

/** summarize_thread: one thread → {thread_id, summary, examples}; several → per-thread + aggregate. */
export const summarizeThread = defineOperation({
  name: "summarize_thread",
  description: "Summarise one thread, or several (comma-separated ids): participants, key points, action items, mentions.",
  input: summarizeThreadInput,
  output: z.union([
    z.looseObject({ thread_id: z.string(), summary: z.looseObject({}), examples: z.array(z.unknown()) }),
    z.looseObject({ threads: z.array(z.looseObject({ thread_id: z.string(), summary: z.looseObject({}) })), aggregate: z.looseObject({}) }),
  ]),
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: { agentOptional: true },
  tool: { profile: "extended", title: "Summarize thread" },
  handler: summarizeThreads,
});

async function summarizeThreads(ctx: AgentContext, input: SummarizeThreadInput) {
  const { project } = ctx;
  const viewer: Viewer = { kind: "agent", agent: ctx.agent };
  const ids = [...new Set(input.thread_id.split(",").map((id) => id.trim()).filter(Boolean))];
  if (ids.length > MAX_THREADS_PER_SUMMARY) {
    throw new AppError("INVALID_ARGUMENT", `thread_id names ${ids.length} threads; at most ${MAX_THREADS_PER_SUMMARY} per call.`, { field: "thread_id" });
  }
  const useLlm = input.llm_mode && ctx.config.llm !== undefined;
  // No thread named: upstream's clients get an empty digest, not an error.
  if (ids.length === 0) return { threads: [], aggregate: { top_mentions: [], action_items: [], key_points: [] } };

  if (ids.length === 1) {
    const { threadId, messages } = await threadMessages(ctx, project, viewer, ids[0]!, true);
    const heuristic = summarize(sources(messages));
    const refined = useLlm ? await refineSummary(ctx.config, heuristic, sources(messages), input.llm_model) : undefined;
    return {
      thread_id: threadId,
      summary: refined ? { ...refined.summary, ...(refined.error ? { llm_error: refined.error } : {}) } : heuristic,
      examples: input.include_examples
        ? messages.slice(0, 3).map((message) => ({ id: message.id, subject: message.subject, from: message.from, created_ts: message.created_ts }))
        : [],
    };
  }

  const threads = [];
  const mentionTotals = new Map<string, number>();
  const actionItems: string[] = [];
  const keyPoints: string[] = [];
  for (const id of ids) {
    const { threadId, messages } = await threadMessages(ctx, project, viewer, id, true, input.per_thread_limit);
    const summary = summarize(sources(messages));
    threads.push({ thread_id: threadId, summary });
    for (const mention of summary.mentions) mentionTotals.set(mention.name, (mentionTotals.get(mention.name) ?? 0) + mention.count);
    actionItems.push(...summary.action_items);
    keyPoints.push(...summary.key_points);
  }
  return {
    threads,
    aggregate: {
      top_mentions: [...mentionTotals.entries()]
        .map(([name, count]) => ({ name, count }))
        .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
        .slice(0, 10),
      action_items: actionItems.slice(0, 25),
      key_points: keyPoints.slice(0, 25),
    },
  };
}

function summaryView(row: MessageSummary) {
  return {
    id: row.id,
    summary_text: row.summaryText,
    start_ts: isoTs(row.startTs),
    end_ts: isoTs(row.endTs),
    source_message_count: row.sourceMessageCount,
    source_thread_ids: Array.isArray(row.sourceThreadIds) ? row.sourceThreadIds : [],
    llm_model: row.llmModel,
    cost_usd: row.costUsd,
    created_ts: isoTs(row.createdTs),
  };
}

const summaryOutput = z.looseObject({
  summary_text: z.string(),
  start_ts: timestamp,
  end_ts: timestamp,
  source_message_count: z.number().int(),
  source_thread_ids: z.array(z.unknown()),
  llm_model: z.string().nullable(),
  cost_usd: z.number().nullable(),
  created_ts: timestamp,
});

const CACHE_TOLERANCE_MS = 5 * 60_000;
const MAX_RECENT = 500;

/**
 * summarize_recent: the last N hours of the caller's visible mail, grouped by thread, summarised
 * and stored. Unlike upstream it needs the agent's token and never reads other agents' mail;
 * stored summaries are kept per agent.
 */
export const summarizeRecent = defineOperation({
  name: "summarize_recent",
  description: "Summarise your visible mail of the last since_hours across threads; stored for fetch_summary.",
  input: summarizeRecentInput,
  output: summaryOutput.extend({ id: z.number().int().nullable(), cached: z.boolean() }),
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "extended", title: "Summarize recent" },
  handler: summarizeWindow,
});

async function summarizeWindow(ctx: AgentContext, input: SummarizeRecentInput) {
  const { project, agent } = ctx;
  const end = new Date();
  const start = new Date(end.getTime() - input.since_hours * 3600_000);
  const cached = await ctx.db.messageSummary.findFirst({
    where: {
      projectId: project.id,
      agentId: agent.id,
      startTs: { gte: new Date(start.getTime() - CACHE_TOLERANCE_MS), lte: new Date(start.getTime() + CACHE_TOLERANCE_MS) },
      endTs: { gte: new Date(end.getTime() - CACHE_TOLERANCE_MS), lte: new Date(end.getTime() + CACHE_TOLERANCE_MS) },
    },
    orderBy: { id: "desc" },
  });
  if (cached) return { ...summaryView(cached), cached: true };

  const max = Math.min(input.max_messages, MAX_RECENT);
  const rows = await visibleMessages(ctx.db, {
    projectId: project.id,
    viewerId: agent.id,
    since: start,
    includeBodies: true,
    limit: max + 1,
    order: "asc",
  });
  if (rows.length === 0) {
    return {
      id: null,
      cached: false,
      summary_text: `No activity in the last ${input.since_hours} hours.`,
      start_ts: isoTs(start),
      end_ts: isoTs(end),
      source_message_count: 0,
      source_thread_ids: [],
      llm_model: null,
      cost_usd: null,
      created_ts: isoTs(end),
    };
  }
  const truncated = rows.length > max;
  const used = rows.slice(0, max);
  const messages: SummarySource[] = used.map((row) => ({
    id: row.id,
    subject: row.subject,
    body_md: row.body_md ?? "",
    from: row.sender_name,
    created_ts: isoTs(row.created_ts),
  }));
  const threadIds = [...new Set(used.map((row) => row.thread_id ?? `msg-${row.id}`))];
  const heuristic = summarize(messages, { keyPoints: 20, actionItems: 20 });
  const combined = {
    participants: heuristic.participants,
    key_points: heuristic.key_points,
    action_items: heuristic.action_items,
    total_messages: heuristic.total_messages,
    total_threads: threadIds.length,
    open_actions: heuristic.open_actions,
    done_actions: heuristic.done_actions,
    ...(truncated ? { truncated: true, truncation_note: `Only the first ${max} messages of the window were summarised.` } : {}),
  };
  const refined = input.llm_mode && ctx.config.llm ? await refineSummary(ctx.config, combined, messages, input.llm_model) : undefined;
  const stored = await ctx.db.messageSummary.create({
    data: {
      projectId: project.id,
      agentId: agent.id,
      summaryText: JSON.stringify(refined?.summary ?? combined),
      startTs: start,
      endTs: end,
      sourceMessageCount: used.length,
      sourceThreadIds: threadIds,
      llmModel: refined?.model ?? null,
    },
  });
  return { ...summaryView(stored), cached: false };
}

/** fetch_summary: the caller's stored summaries whose window ended within since_hours, newest first. */
export const fetchSummary = defineOperation({
  name: "fetch_summary",
  description: "Your stored summaries whose window ended in the last since_hours, newest first.",
  input: fetchSummaryInput,
  output: z.array(summaryOutput),
  permission: "read",
  kind: "query",
  scope: "agent",
  tool: { profile: "extended", title: "Fetch summaries" },
  async handler(ctx, input) {
    const rows = await ctx.db.messageSummary.findMany({
      where: { projectId: ctx.project.id, agentId: ctx.agent.id, endTs: { gte: new Date(Date.now() - input.since_hours * 3600_000) } },
      orderBy: [{ endTs: "desc" }, { id: "desc" }],
      take: input.limit,
    });
    return rows.map(summaryView);
  },
});
