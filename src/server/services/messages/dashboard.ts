import { recipientMessages } from "@/server/db/mail-sql";
import type { DashboardMailboxInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { requireAgent } from "../agents/authenticate";
import { resolveProject } from "../projects/projects";
import { sentMessages } from "./inbox";
import { searchAs } from "./search";
import { readMessage, threadMessages } from "./threads";
import { stateItem } from "./views";
import { operatorViewer } from "./viewer";

// The human overseer's reads for the dashboard: any agent's mail in a project, admin role only.

export async function operatorInbox(ctx: ServiceContext, input: DashboardMailboxInput) {
  operatorViewer(ctx);
  const project = await resolveProject(ctx.db, input.project_key);
  const agent = await requireAgent(ctx.db, project, input.agent_name);
  const rows = await recipientMessages(ctx.db, { agentId: agent.id, limit: input.limit, includeBodies: false, beforeId: input.before_id });
  return { project: project.slug, agent: agent.name, messages: rows.map((row) => stateItem(row, false)) };
}

export async function operatorOutbox(ctx: ServiceContext, input: DashboardMailboxInput) {
  const viewer = operatorViewer(ctx);
  const project = await resolveProject(ctx.db, input.project_key);
  const agent = await requireAgent(ctx.db, project, input.agent_name);
  const sent = await sentMessages(ctx, project, viewer, agent.id, { limit: input.limit, includeBodies: false, beforeId: input.before_id });
  return { project: project.slug, agent: agent.name, ...sent };
}

export async function operatorThread(ctx: ServiceContext, input: { project_key: string; thread_id: string }) {
  const viewer = operatorViewer(ctx);
  const project = await resolveProject(ctx.db, input.project_key);
  const { threadId, messages } = await threadMessages(ctx, project, viewer, input.thread_id, true);
  return { project: project.slug, thread_id: threadId, messages };
}

export async function operatorMessage(ctx: ServiceContext, input: { project_key: string; message_id: number }) {
  const viewer = operatorViewer(ctx);
  const project = await resolveProject(ctx.db, input.project_key);
  return readMessage(ctx, project, viewer, input.message_id);
}

export async function operatorSearch(ctx: ServiceContext, input: { project_key: string; query: string; limit: number }) {
  const viewer = operatorViewer(ctx);
  const project = await resolveProject(ctx.db, input.project_key);
  return searchAs(ctx, project.id, viewer, { query: input.query, limit: input.limit });
}
