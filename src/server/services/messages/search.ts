import { z } from "zod";
import { AppError, quote } from "@/server/errors";
import { searchMessages as searchSql } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import { timestamp } from "@/server/schemas/common";
import { searchMessagesInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { findAgent } from "../agents/authenticate";
import { messageBase } from "./views";
import { viewerId, type Viewer } from "./viewer";
import { normalizeThreadId, parseTimestamp } from "./validation";

const NOTHING_TO_SEARCH = new Set(["*", "**", "***", ".", "..", "...", "?", "??", "???", "and", "or", "not"]);

/**
 * Cleans a query for websearch_to_tsquery the way mcp_agent_mail does for FTS5: empty or
 * wildcard-only queries mean "no results"; leading `*` and a trailing ` *` go; hyphenated ids
 * (POL-358) are quoted so they match as one token rather than "POL minus 358".
 */
export function sanitizeSearchQuery(raw: string): string | null {
  let query = raw.trim().replace(/\s+/g, " ");
  if (!query || NOTHING_TO_SEARCH.has(query.toLowerCase())) return null;
  query = query.replace(/^\*+\s*/, "").replace(/\s+\*$/, "").trim();
  if (!query || NOTHING_TO_SEARCH.has(query.toLowerCase())) return null;
  const parts = query.match(/"[^"]*"|\S+/g) ?? [];
  const cleaned = parts.map((part) => (/^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+$/.test(part) ? `"${part}"` : part)).join(" ");
  return /[\p{L}\p{N}]/u.test(cleaned) ? cleaned : null;
}

export interface SearchOptions {
  query: string;
  limit: number;
  sender?: string | null;
  /** Only messages this agent received (the operator's search). */
  recipient?: string | null;
  topic?: string | null;
  threadId?: string | null;
  importance?: string[] | null;
  since?: string | null;
  until?: string | null;
}

export async function searchAs(ctx: ServiceContext, projectId: number, viewer: Viewer, options: SearchOptions) {
  const query = sanitizeSearchQuery(options.query);
  if (!query) return [];
  const agentId = async (name: string | null | undefined, field: "sender" | "recipient") => {
    if (!name?.trim()) return undefined;
    const project = await ctx.db.project.findUniqueOrThrow({ where: { id: projectId } });
    const agent = await findAgent(ctx.db, project, name);
    const label = field === "sender" ? "Sender" : "Recipient";
    if (!agent) throw new AppError("NOT_FOUND", `${label} '${quote(name.trim())}' not found in project '${project.slug}'.`, { field });
    return agent.id;
  };
  const senderId = await agentId(options.sender, "sender");
  const recipientId = await agentId(options.recipient, "recipient");
  const rows = await searchSql(ctx.db, {
    projectId,
    viewerId: viewerId(viewer),
    query,
    limit: Math.min(Math.max(options.limit, 1), 200),
    senderId,
    recipientId,
    topic: options.topic?.trim() || undefined,
    threadId: normalizeThreadId(options.threadId) ?? undefined,
    importance: options.importance ?? undefined,
    since: parseTimestamp(options.since, "since_ts"),
    until: parseTimestamp(options.until, "until_ts"),
  });
  return rows.map((row) => {
    const { id, subject, importance, ack_required, created_ts, thread_id, topic, from, from_project, from_project_slug, from_address } =
      messageBase(row, false);
    return {
      id,
      subject,
      importance,
      ack_required,
      created_ts,
      thread_id,
      topic,
      from,
      ...(from_project ? { from_project, from_project_slug, from_address } : {}),
      rank: Number(row.rank),
      snippet: row.snippet,
    };
  });
}

export const searchHitsOutput = z.array(
  z.looseObject({
    id: z.number().int(),
    subject: z.string(),
    importance: z.string(),
    ack_required: z.boolean(),
    created_ts: timestamp,
    thread_id: z.string().nullable(),
    topic: z.string().nullable(),
    from: z.string(),
    rank: z.number(),
    snippet: z.string(),
  }),
);

/** search_messages: ranked full-text hits among the messages the viewer can see. */
export const searchMessages = defineOperation({
  name: "search_messages",
  description: "Full-text search of mail you can see, best match first, with highlighted snippets.",
  input: searchMessagesInput,
  output: searchHitsOutput,
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: { agentOptional: true },
  tool: { profile: "core", title: "Search messages" },
  handler: (ctx, input) =>
    searchAs(ctx, ctx.project.id, { kind: "agent", agent: ctx.agent }, {
      query: input.query,
      limit: input.limit,
      sender: input.sender,
      threadId: input.thread_id,
      importance: input.importance,
      since: input.since_ts,
      until: input.until_ts,
    }),
});
