import { z } from "zod";
import { defineOperation } from "@/server/operations/define";
import { agentOutput, projectOutput } from "@/server/schemas/common";
import { whoisInput } from "@/server/schemas/agents";
import { recentCommitOutput } from "@/server/schemas/archive";
import { projectLookupInput } from "@/server/schemas/projects";
import { agentRecentCommits, type RecentCommit } from "../archive/commits";
import { projectView, type ProjectView } from "../projects/projects";
import { agentView, type AgentView } from "./views";

export interface WhoisResult extends AgentView {
  recent_commits?: RecentCommit[];
}

/** whois authenticates as the agent looked up, as upstream: over HTTP it is "who am I". */
export const whois = defineOperation({
  name: "whois",
  description: "Profile of an agent; authenticates as that agent (pass its registration_token).",
  input: whoisInput,
  output: agentOutput.extend({ recent_commits: z.array(recentCommitOutput).optional() }),
  permission: "read",
  kind: "query",
  scope: "agent",
  tool: { profile: "core", title: "Who is" },
  handler: async (ctx, input): Promise<WhoisResult> => ({
    ...agentView(ctx.agent),
    ...(input.include_recent_commits ? { recent_commits: await agentRecentCommits(ctx, ctx.agent.name, input.commit_limit) } : {}),
  }),
});

export type AgentWithUnread = AgentView & { unread_count: number };

export interface ProjectAgents {
  project: { slug: string; human_key: string };
  agents: AgentWithUnread[];
  retired_agents: AgentWithUnread[];
}

const agentWithUnread = agentOutput.extend({ unread_count: z.number().int() });

/** Active and retired agents of a project, most recently active first, with unread counts. */
export const listAgents = defineOperation({
  name: "resource://agents",
  description: "A project's agents (most recently active first) with unread counts, and its retired agents.",
  input: projectLookupInput,
  output: z.strictObject({
    project: z.strictObject({ slug: z.string(), human_key: z.string() }),
    agents: z.array(agentWithUnread),
    retired_agents: z.array(agentWithUnread),
  }),
  permission: "read",
  kind: "query",
  scope: "project",
  resource: "resource://agents/{project_key}",
  async handler(ctx): Promise<ProjectAgents> {
    const { project } = ctx;
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
  },
});

export type ProjectDetail = ProjectView & { agents: AgentView[] };

/** A project with all its agents, retired ones included (resource://project/{slug}). */
export const getProject = defineOperation({
  name: "resource://project",
  description: "One project (slug or human key) with all its agents.",
  input: projectLookupInput,
  output: projectOutput.extend({ agents: z.array(agentOutput) }),
  permission: "read",
  kind: "query",
  scope: "project",
  resource: "resource://project/{slug}",
  resourceFields: { slug: "project_key" },
  async handler(ctx): Promise<ProjectDetail> {
    const agents = await ctx.db.agent.findMany({ where: { projectId: ctx.project.id }, orderBy: { id: "asc" } });
    return { ...projectView(ctx.project), agents: agents.map(agentView) };
  },
});
