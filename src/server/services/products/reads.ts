import { z } from "zod";
import { recipientMessages } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import { fetchInboxProductInput, searchProductInput, summarizeThreadProductInput } from "@/server/schemas/products";
import { inboxItemsOutput } from "@/server/schemas/messages";
import { searchAs, searchHitsOutput } from "../messages/search";
import { refineSummary } from "../messages/llm";
import { summarize } from "../messages/summary-heuristics";
import { threadMessages } from "../messages/threads";
import { clampLimit, parseTimestamp } from "../messages/validation";
import { inboxItem } from "../messages/views";
import { productAccess, type ProductAccess } from "./access";
import { requireProduct } from "./products";

// Product reads: the project reads (search, inbox, thread) run in every linked project as each
// authenticated agent, and their results are merged (a message seen twice counts once).

/** Every (project, viewer) pair a product read covers. */
function pairs(access: ProductAccess) {
  return access.projects.flatMap((project) => access.seats.map(({ agent }) => ({ project, agent })));
}

function unique<T extends { id: number }>(items: T[]): T[] {
  const seen = new Set<number>();
  return items.filter((item) => !seen.has(item.id) && seen.add(item.id));
}

const SEARCH_MAX = 200;

export const searchMessagesProduct = defineOperation({
  name: "search_messages_product",
  description: "search_messages across the projects of a product where you are registered; hits add project_id.",
  input: searchProductInput,
  output: searchHitsOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  tool: { profile: "extended", title: "Search product messages" },
  async handler(ctx, input) {
    const product = await requireProduct(ctx.db, input.product_key);
    const access = await productAccess(ctx, product, { action: "search_messages_product", name: input.agent_name, token: input.registration_token });
    const limit = Math.min(Math.max(input.limit, 1), SEARCH_MAX);
    const hits = (
      await Promise.all(
        pairs(access).map(async ({ project, agent }) =>
          (await searchAs(ctx, project.id, { kind: "agent", agent }, { query: input.query, limit })).map((hit) => ({ ...hit, project_id: project.id })),
        ),
      )
    ).flat();
    return unique(hits.sort((a, b) => b.rank - a.rank || b.id - a.id)).slice(0, limit);
  },
});

export const fetchInboxProduct = defineOperation({
  name: "fetch_inbox_product",
  description: "fetch_inbox across the projects of a product where you are registered, newest first.",
  input: fetchInboxProductInput,
  output: inboxItemsOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  tool: { profile: "extended", title: "Fetch product inbox" },
  async handler(ctx, input) {
    const limit = clampLimit(input.limit);
    const since = parseTimestamp(input.since_ts);
    const product = await requireProduct(ctx.db, input.product_key);
    const { seats } = await productAccess(ctx, product, { action: "fetch_inbox_product", name: input.agent_name, token: input.registration_token });
    // An agent's received mail is in its own project: one inbox read per authenticated agent.
    const rows = (
      await Promise.all(
        seats.map(({ agent }) =>
          recipientMessages(ctx.db, { agentId: agent.id, limit, includeBodies: input.include_bodies, urgentOnly: input.urgent_only, since, order: "desc" }),
        ),
      )
    ).flat();
    return rows
      .sort((a, b) => b.created_ts.getTime() - a.created_ts.getTime() || b.id - a.id)
      .slice(0, limit)
      .map((row) => inboxItem(row, input.include_bodies));
  },
});

export const summarizeThreadProduct = defineOperation({
  name: "summarize_thread_product",
  description: "summarize_thread of one thread across the projects of a product where you are registered.",
  input: summarizeThreadProductInput,
  output: z.looseObject({ thread_id: z.string(), summary: z.looseObject({}), examples: z.array(z.unknown()) }),
  permission: "read",
  kind: "query",
  scope: "global",
  tool: { profile: "extended", title: "Summarize product thread" },
  async handler(ctx, input) {
    const product = await requireProduct(ctx.db, input.product_key);
    const access = await productAccess(ctx, product, { action: "summarize_thread_product", name: input.agent_name, token: input.registration_token });
    const parts = await Promise.all(
      pairs(access).map(({ project, agent }) =>
        threadMessages(ctx, project, { kind: "agent", agent }, input.thread_id, true, input.per_thread_limit ?? undefined),
      ),
    );
    const messages = unique(parts.flatMap((part) => part.messages))
      .sort((a, b) => a.created_ts.localeCompare(b.created_ts) || a.id - b.id)
      .map((message) => ({ id: message.id, subject: message.subject, body_md: message.body_md ?? "", from: message.from, created_ts: message.created_ts }));
    const heuristic = summarize(messages);
    const refined = input.llm_mode && ctx.config.llm ? await refineSummary(ctx.config, heuristic, messages, input.llm_model) : undefined;
    return {
      thread_id: parts[0]!.threadId,
      summary: refined ? { ...refined.summary, ...(refined.error ? { llm_error: refined.error } : {}) } : heuristic,
      examples: input.include_examples
        ? messages.slice(0, 3).map((message) => ({ id: message.id, subject: message.subject, from: message.from, created_ts: message.created_ts }))
        : [],
    };
  },
});
