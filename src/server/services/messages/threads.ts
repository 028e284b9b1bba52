import type { Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import { recipientsOf, visibleMessages } from "@/server/db/mail-sql";
import type { FetchTopicInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { resolveProject } from "../projects/projects";
import { messageBase, withRecipients } from "./views";
import { groupByMessage, optionalAgentViewer, recipientLists, viewerId, type Viewer } from "./viewer";
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

function viewerParams(query: URLSearchParams, resource: string) {
  const projectKey = query.get("project");
  if (!projectKey) throw new AppError("INVALID_ARGUMENT", `project parameter is required for ${resource} resource.`, { field: "project" });
  return { projectKey, agent: query.get("agent"), token: query.get("agent_token") };
}

/** resource://message/{id}?project=…&agent=…&agent_token=… */
export async function messageResource(ctx: ServiceContext, id: string, query: URLSearchParams) {
  const { projectKey, agent, token } = viewerParams(query, "message");
  const messageId = Number(id);
  if (!Number.isInteger(messageId) || messageId < 1) throw new AppError("INVALID_ARGUMENT", `Invalid message id '${id}'.`, { field: "message_id" });
  const project = await resolveProject(ctx.db, projectKey);
  const viewer = await optionalAgentViewer(ctx, project, agent, token, "resource://message");
  return readMessage(ctx, project, viewer, messageId);
}

/** resource://thread/{id}?project=…&agent=…&agent_token=…&include_bodies=… */
export async function threadResource(ctx: ServiceContext, id: string, query: URLSearchParams) {
  const { projectKey, agent, token } = viewerParams(query, "thread");
  const project = await resolveProject(ctx.db, projectKey);
  const viewer = await optionalAgentViewer(ctx, project, agent, token, "resource://thread");
  const includeBodies = ["1", "true", "yes"].includes((query.get("include_bodies") ?? "true").toLowerCase());
  const { threadId, messages } = await threadMessages(ctx, project, viewer, id, includeBodies);
  return { project: project.humanKey, thread_id: threadId, messages };
}

/** fetch_topic: visible messages tagged with the topic (case-insensitive), newest first. */
export async function fetchTopic(ctx: ServiceContext, input: FetchTopicInput) {
  const topic = input.topic_name.trim();
  if (!topic) throw new AppError("INVALID_ARGUMENT", "topic_name must not be blank.", { field: "topic_name" });
  const project = await resolveProject(ctx.db, input.project_key);
  const limit = Math.min(Math.max(input.limit, 1), 1000);
  const since = parseTimestamp(input.since_ts);
  const viewer = await optionalAgentViewer(ctx, project, input.agent_name, input.registration_token, "fetch_topic");
  const rows = await visibleMessages(ctx.db, {
    projectId: project.id,
    viewerId: viewer.agent.id,
    topic,
    since,
    includeBodies: input.include_bodies,
    limit: clampLimit(limit),
    order: "desc",
  });
  const recipients = groupByMessage(await recipientsOf(ctx.db, rows.map((row) => row.id)));
  return rows.map((row) =>
    withRecipients(messageBase(row, input.include_bodies), recipientLists(recipients.get(row.id) ?? [], row.sender_id, viewer)),
  );
}

