import type { Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import { recipientMessages, recipientsOf, visibleMessages, type RecipientQuery } from "@/server/db/mail-sql";
import type { FetchInboxInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { resolveProject } from "../projects/projects";
import { inboxItem, messageBase, stateItem, withRecipients } from "./views";
import { agentViewer, groupByMessage, recipientLists, viewerId, type Viewer } from "./viewer";
import { clampLimit, normalizeTopic, parseTimestamp } from "./validation";

/**
 * fetch_inbox: received mail (to, cc and bcc), newest first; reading it changes no state. With a
 * since_id cursor it reads oldest first, so advancing the cursor to the last id seen never skips
 * a message.
 */
export async function fetchInbox(ctx: ServiceContext, input: FetchInboxInput) {
  const project = await resolveProject(ctx.db, input.project_key);
  const limit = clampLimit(input.limit);
  const since = parseTimestamp(input.since_ts);
  const topic = input.topic === undefined || input.topic === null ? null : normalizeTopic(input.topic);
  const { agent } = await agentViewer(ctx, project, input.agent_name, input.registration_token, "fetch_inbox");
  const rows = await recipientMessages(ctx.db, {
    agentId: agent.id,
    limit,
    includeBodies: input.include_bodies,
    urgentOnly: input.urgent_only,
    since,
    sinceId: input.since_id ?? null,
    order: input.since_id === undefined || input.since_id === null ? "desc" : "asc",
    topic,
  });
  return rows.map((row) => inboxItem(row, input.include_bodies));
}

// ----- agent-scoped resources (resource://inbox/{agent}?project=…&agent_token=…) -----

export interface AgentResourceParams {
  agent: string;
  query: URLSearchParams;
  resource: string;
}

function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new AppError("INVALID_ARGUMENT", `${name} must be a whole number; got '${raw}'.`, { field: name });
  return value;
}

function boolParam(query: URLSearchParams, name: string, fallback: boolean): boolean {
  const raw = query.get(name);
  if (raw === null || raw === "") return fallback;
  return ["1", "true", "yes", "t", "y"].includes(raw.toLowerCase());
}

/** Resources ignore an unparseable since_ts, as upstream does. */
function lenientTimestamp(query: URLSearchParams): Date | null {
  try {
    return parseTimestamp(query.get("since_ts"));
  } catch {
    return null;
  }
}

async function resourceViewer(ctx: ServiceContext, { agent, query, resource }: AgentResourceParams): Promise<{ project: Project; viewer: Viewer & { kind: "agent" } }> {
  const projectKey = query.get("project");
  if (!projectKey) throw new AppError("INVALID_ARGUMENT", `project parameter is required for ${resource} resource.`, { field: "project" });
  const project = await resolveProject(ctx.db, projectKey);
  const viewer = await agentViewer(ctx, project, agent, query.get("agent_token"), `resource://${resource}`, "agent_token");
  return { project, viewer };
}

type ViewName = "inbox" | "mailbox" | "urgent-unread" | "ack-required" | "acks-stale" | "ack-overdue";

/** The inbox resource and its views: one recipient-side query with different filters. */
export async function recipientView(ctx: ServiceContext, view: ViewName, params: AgentResourceParams) {
  const { project, viewer } = await resourceViewer(ctx, params);
  const { query } = params;
  const base: RecipientQuery = {
    agentId: viewer.agent.id,
    limit: clampLimit(intParam(query, "limit", view === "ack-overdue" ? 50 : 20)),
    includeBodies: view === "inbox" && boolParam(query, "include_bodies", false),
  };
  const extra: Record<string, unknown> = {};
  switch (view) {
    case "inbox":
      Object.assign(base, { urgentOnly: boolParam(query, "urgent_only", false), since: lenientTimestamp(query) });
      break;
    case "mailbox":
      break;
    case "urgent-unread":
      Object.assign(base, { urgentOnly: true, unreadOnly: true });
      break;
    case "ack-required":
      Object.assign(base, { ackPending: true });
      break;
    case "acks-stale": {
      const ttlSeconds = intParam(query, "ttl_seconds", 1800);
      extra.ttl_seconds = ttlSeconds;
      Object.assign(base, { ackPending: true, createdAtOrBefore: new Date(Date.now() - ttlSeconds * 1000) });
      break;
    }
    case "ack-overdue": {
      const ttlMinutes = intParam(query, "ttl_minutes", 60);
      extra.ttl_minutes = ttlMinutes;
      Object.assign(base, { ackPending: true, createdAtOrBefore: new Date(Date.now() - ttlMinutes * 60_000) });
      break;
    }
  }
  const rows = await recipientMessages(ctx.db, base);
  const now = Date.now();
  const messages = rows.map((row) => {
    if (view === "inbox") return inboxItem(row, base.includeBodies);
    const item = stateItem(row, false);
    return view === "acks-stale" || view === "ack-overdue"
      ? { ...item, age_seconds: Math.floor((now - row.created_ts.getTime()) / 1000) }
      : item;
  });
  return { project: project.humanKey, agent: viewer.agent.name, ...extra, count: messages.length, messages };
}

/** resource://outbox/{agent}: what the agent sent, newest first, with recipient lists. */
export async function outboxView(ctx: ServiceContext, params: AgentResourceParams) {
  const { project, viewer } = await resourceViewer(ctx, params);
  const includeBodies = boolParam(params.query, "include_bodies", false);
  return { project: project.humanKey, agent: viewer.agent.name, ...(await sentMessages(ctx, project, viewer, viewer.agent.id, {
    limit: clampLimit(intParam(params.query, "limit", 20)),
    includeBodies,
    since: lenientTimestamp(params.query),
  })) };
}

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
