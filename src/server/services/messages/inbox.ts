import { z } from "zod";
import type { Project } from "@/generated/prisma/client";
import { agentPendingCounts, recipientMessages, recipientsOf, visibleMessages, type MessageRow, type RecipientQuery } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import { inboxItemOutput, messageWithRecipientsOutput, stateItemOutput } from "@/server/schemas/common";
import {
  ackOverdueResourceInput,
  acksStaleResourceInput,
  fetchInboxInput,
  inboxItemsOutput,
  inboxResourceInput,
  mailboxResourceInput,
  outboxResourceInput,
  pendingResourceInput,
} from "@/server/schemas/messages";
import type { AgentContext, ServiceContext } from "../context";
import { withMessageCommits } from "../archive/commits";
import { inboxItem, messageBase, stateItem, withRecipients } from "./views";
import { groupByMessage, recipientLists, viewerId, type Viewer } from "./viewer";
import { clampLimit, normalizeTopic, parseTimestamp } from "./validation";

/**
 * fetch_inbox: received mail (to, cc and bcc), newest first; reading it changes no state. With a
 * since_id cursor it reads oldest first, so advancing the cursor to the last id seen never skips
 * a message.
 */
export const fetchInbox = defineOperation({
  name: "fetch_inbox",
  description: "Your received mail, newest first (no state change). Filters: urgent_only, since_ts, since_id cursor, topic.",
  input: fetchInboxInput,
  output: inboxItemsOutput,
  permission: "read",
  kind: "query",
  scope: "agent",
  tool: { profile: "core", title: "Fetch inbox" },
  async handler(ctx, input) {
    const limit = clampLimit(input.limit);
    const since = parseTimestamp(input.since_ts);
    const topic = input.topic === undefined || input.topic === null ? null : normalizeTopic(input.topic);
    const rows = await recipientMessages(ctx.db, {
      agentId: ctx.agent.id,
      limit,
      includeBodies: input.include_bodies,
      urgentOnly: input.urgent_only,
      since,
      sinceId: input.since_id ?? null,
      order: input.since_id === undefined || input.since_id === null ? "desc" : "asc",
      topic,
    });
    return rows.map((row) => inboxItem(row, input.include_bodies));
  },
});

// ----- agent-scoped resources (resource://inbox/{agent}?project=…&agent_token=…) -----

/** Resources ignore an unparseable since_ts, as upstream does. */
function lenientTimestamp(value: string | undefined): Date | null {
  try {
    return parseTimestamp(value);
  } catch {
    return null;
  }
}

const resourceFields = { project: "project", agent: "agent", token: "agent_token" } as const;

function recipientResult(ctx: AgentContext, rows: MessageRow[], item: (row: MessageRow) => object, extra: Record<string, unknown> = {}) {
  const messages = rows.map(item);
  return { project: ctx.project.humanKey, agent: ctx.agent.name, ...extra, count: messages.length, messages };
}

const recipientResultOutput = (item: z.ZodType) =>
  z.looseObject({ project: z.string(), agent: z.string(), count: z.number().int(), messages: z.array(item) });

const withAge = (row: MessageRow, now: number) => ({ ...stateItem(row, false), age_seconds: Math.floor((now - row.created_ts.getTime()) / 1000) });

export const inboxResource = defineOperation({
  name: "resource://inbox",
  description: "An agent's inbox. Query: project, agent_token, limit, since_ts, urgent_only, include_bodies.",
  input: inboxResourceInput,
  output: recipientResultOutput(inboxItemOutput),
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: resourceFields,
  resource: "resource://inbox/{agent}",
  async handler(ctx, input) {
    const query: RecipientQuery = {
      agentId: ctx.agent.id,
      limit: clampLimit(input.limit),
      includeBodies: input.include_bodies,
      urgentOnly: input.urgent_only,
      since: lenientTimestamp(input.since_ts),
    };
    return withMessageCommits(ctx, recipientResult(ctx, await recipientMessages(ctx.db, query), (row) => inboxItem(row, input.include_bodies)), "full");
  },
});

type ViewInput = z.ZodType<{ limit: number; project: string; agent: string; agent_token?: string | undefined }>;

interface RecipientViewSpec<I extends ViewInput> {
  name: string;
  description: string;
  input: I;
  output: z.ZodType;
  uri: string;
  /** The view's filters on the agent's received mail. */
  filter(input: z.output<I>, now: number): Partial<RecipientQuery>;
  item(row: MessageRow, now: number): object;
  extra?(input: z.output<I>): Record<string, unknown>;
  /** Each message's archive commit, in this shape (the reference's mailbox carries it). */
  commits?: "simple" | "full";
}

/** A resource over the agent's received mail with its read/ack state: mailbox and the views. */
function recipientView<I extends ViewInput>(spec: RecipientViewSpec<I>) {
  return defineOperation({
    name: spec.name,
    description: spec.description,
    input: spec.input,
    output: spec.output,
    permission: "read",
    kind: "query",
    scope: "agent",
    fields: resourceFields,
    resource: spec.uri,
    async handler(ctx, input) {
      const now = Date.now();
      const rows = await recipientMessages(ctx.db, { agentId: ctx.agent.id, limit: clampLimit(input.limit), includeBodies: false, ...spec.filter(input, now) });
      const result = recipientResult(ctx, rows, (row) => spec.item(row, now), spec.extra?.(input));
      return spec.commits ? withMessageCommits(ctx, result, spec.commits) : result;
    },
  });
}

const withState = (row: MessageRow) => stateItem(row, false);
const ageOutput = stateItemOutput.extend({ age_seconds: z.number().int() });

export const mailboxResource = recipientView({
  name: "resource://mailbox",
  description: "An agent's received mail with its read/ack state. Query: project, agent_token, limit.",
  input: mailboxResourceInput,
  output: recipientResultOutput(stateItemOutput),
  uri: "resource://mailbox/{agent}",
  filter: () => ({}),
  item: withState,
  commits: "simple",
});

export const urgentUnreadResource = recipientView({
  name: "resource://views/urgent-unread",
  description: "Unread high/urgent messages. Query: project, agent_token, limit.",
  input: mailboxResourceInput,
  output: recipientResultOutput(stateItemOutput),
  uri: "resource://views/urgent-unread/{agent}",
  filter: () => ({ urgentOnly: true, unreadOnly: true }),
  item: withState,
});

/** Mailroom's own view (not in the reference): what `mailroom inbox` lists, unread at any depth of the mailbox. */
export const unreadResource = recipientView({
  name: "resource://views/unread",
  description: "Your unread messages, newest first (reading this marks nothing read). Query: project, agent_token, limit.",
  input: mailboxResourceInput,
  output: recipientResultOutput(stateItemOutput),
  uri: "resource://views/unread/{agent}",
  filter: () => ({ unreadOnly: true }),
  item: withState,
});

/** Mailroom's own view: the counts a prompt hook prints, exact however deep the mail lies. */
export const pendingResource = defineOperation({
  name: "resource://views/pending",
  description: "How many of your messages are unread (and of those, high or urgent) and how many acks you owe. Query: project, agent_token.",
  input: pendingResourceInput,
  output: z.strictObject({ project: z.string(), agent: z.string(), unread: z.number().int(), urgent_unread: z.number().int(), ack_pending: z.number().int() }),
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: resourceFields,
  resource: "resource://views/pending/{agent}",
  async handler(ctx) {
    return { project: ctx.project.humanKey, agent: ctx.agent.name, ...(await agentPendingCounts(ctx.db, ctx.agent.id)) };
  },
});

export const ackRequiredResource = recipientView({
  name: "resource://views/ack-required",
  description: "Messages awaiting your acknowledgement. Query: project, agent_token, limit.",
  input: mailboxResourceInput,
  output: recipientResultOutput(stateItemOutput),
  uri: "resource://views/ack-required/{agent}",
  filter: () => ({ ackPending: true }),
  item: withState,
});

export const acksStaleResource = recipientView({
  name: "resource://views/acks-stale",
  description: "Acks pending for at least ttl_seconds (default 1800). Query: project, agent_token, ttl_seconds, limit.",
  input: acksStaleResourceInput,
  output: recipientResultOutput(ageOutput).extend({ ttl_seconds: z.number().int() }),
  uri: "resource://views/acks-stale/{agent}",
  filter: (input, now) => ({ ackPending: true, createdAtOrBefore: new Date(now - input.ttl_seconds * 1000) }),
  item: withAge,
  extra: (input) => ({ ttl_seconds: input.ttl_seconds }),
});

export const ackOverdueResource = recipientView({
  name: "resource://views/ack-overdue",
  description: "Acks pending for longer than ttl_minutes (default 60). Query: project, agent_token, ttl_minutes, limit (50).",
  input: ackOverdueResourceInput,
  output: recipientResultOutput(ageOutput).extend({ ttl_minutes: z.number().int() }),
  uri: "resource://views/ack-overdue/{agent}",
  filter: (input, now) => ({ ackPending: true, createdAtOrBefore: new Date(now - input.ttl_minutes * 60_000) }),
  item: withAge,
  extra: (input) => ({ ttl_minutes: input.ttl_minutes }),
});

/** resource://outbox/{agent}: what the agent sent, newest first, with recipient lists. */
export const outboxResource = defineOperation({
  name: "resource://outbox",
  description: "Messages an agent sent, with recipients. Query: project, agent_token, limit, since_ts, include_bodies.",
  input: outboxResourceInput,
  output: z.looseObject({ project: z.string(), agent: z.string(), count: z.number().int(), messages: z.array(messageWithRecipientsOutput) }),
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: resourceFields,
  resource: "resource://outbox/{agent}",
  async handler(ctx, input) {
    const viewer: Viewer = { kind: "agent", agent: ctx.agent };
    const sent = await sentMessages(ctx, ctx.project, viewer, ctx.agent.id, {
      limit: clampLimit(input.limit),
      includeBodies: input.include_bodies,
      since: lenientTimestamp(input.since_ts),
    });
    return withMessageCommits(ctx, { project: ctx.project.humanKey, agent: ctx.agent.name, ...sent }, "full");
  },
});

/** Messages sent by `senderId`, as `viewer` may see them (the sender itself, or the operator). */
export async function sentMessages(
  ctx: ServiceContext,
  project: Project,
  viewer: Viewer,
  senderId: number,
  options: { limit: number; includeBodies: boolean; since?: Date | null; beforeId?: number | null },
) {
  const rows = await visibleMessages(ctx.db, {
    projectId: project.id,
    viewerId: viewerId(viewer),
    senderId,
    beforeId: options.beforeId,
    includeBodies: options.includeBodies,
    limit: options.limit,
    order: "desc",
    since: options.since,
  });
  const recipients = groupByMessage(await recipientsOf(ctx.db, rows.map((row) => row.id)));
  const messages = rows.map((row) =>
    withRecipients(messageBase(row, options.includeBodies), recipientLists(recipients.get(row.id) ?? [], row.sender_id, viewer)),
  );
  return { count: messages.length, messages };
}
