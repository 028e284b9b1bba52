import type { ListAgentsInput, WhoisInput } from "@/server/schemas/agents";
import type { ServiceContext } from "../context";
import { projectView, resolveProject, type ProjectView } from "../projects/projects";
import { authenticateAgent, requireAgent } from "./authenticate";
import { agentView, type AgentView } from "./views";

export interface WhoisResult extends AgentView {
  recent_commits?: { hexsha: string; summary: string; authored_ts: string }[];
}

/** whois authenticates as the agent looked up, as upstream: over HTTP it is "who am I". */
export async function whois(ctx: ServiceContext, input: WhoisInput): Promise<WhoisResult> {
  const project = await resolveProject(ctx.db, input.project_key);
  const agent = await requireAgent(ctx.db, project, input.agent_name);
  authenticateAgent(ctx, agent, input.registration_token, { action: "whois", tokenParam: "registration_token" });
  // The Git archive is not written yet (the outbox is filled, its worker is a later change), so
  // there are no commits to list.
  return { ...agentView(agent), ...(input.include_recent_commits ? { recent_commits: [] } : {}) };
}

export type AgentWithUnread = AgentView & { unread_count: number };

export interface ProjectAgents {
  project: { slug: string; human_key: string };
  agents: AgentWithUnread[];
  retired_agents: AgentWithUnread[];
}

/** Active and retired agents of a project, most recently active first, with unread counts. */
export async function listAgents(ctx: ServiceContext, input: ListAgentsInput): Promise<ProjectAgents> {
  const project = await resolveProject(ctx.db, input.project_key);
  const [agents, unread] = await Promise.all([
    ctx.db.agent.findMany({ where: { projectId: project.id }, orderBy: [{ lastActiveTs: "desc" }, { id: "asc" }] }),
    ctx.db.messageRecipient.groupBy({
      by: ["agentId"],
      where: { readTs: null, agent: { projectId: project.id } },
      _count: { _all: true },
    }),
  ]);
  const unreadByAgent = new Map(unread.map((row) => [row.agentId, row._count._all]));
  const views = agents.map((agent) => ({ ...agentView(agent), unread_count: unreadByAgent.get(agent.id) ?? 0 }));
  return {
    project: { slug: project.slug, human_key: project.humanKey },
    agents: views.filter((agent) => !agent.retired_at),
    retired_agents: views.filter((agent) => agent.retired_at),
  };
}

export type ProjectDetail = ProjectView & { agents: AgentView[] };

/** A project with all its agents, retired ones included (resource://project/{slug}). */
export async function getProject(ctx: ServiceContext, input: ListAgentsInput): Promise<ProjectDetail> {
  const project = await resolveProject(ctx.db, input.project_key);
  const agents = await ctx.db.agent.findMany({ where: { projectId: project.id }, orderBy: { id: "asc" } });
  return { ...projectView(project), agents: agents.map(agentView) };
}
