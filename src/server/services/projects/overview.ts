import type { ServiceContext } from "../context";
import { agentView, type AgentView } from "../agents/views";
import { projectView, type ProjectView } from "./projects";

export type ProjectOverview = ProjectView & { agents: (AgentView & { unread_count: number })[] };

/** Every project with its agents and their unread counts, for the dashboard's front page. */
export async function projectsOverview(ctx: ServiceContext): Promise<ProjectOverview[]> {
  const [projects, unread] = await Promise.all([
    ctx.db.project.findMany({
      orderBy: { id: "asc" },
      include: { agents: { orderBy: [{ lastActiveTs: "desc" }, { id: "asc" }] } },
    }),
    ctx.db.messageRecipient.groupBy({ by: ["agentId"], where: { readTs: null }, _count: { _all: true } }),
  ]);
  const unreadByAgent = new Map(unread.map((row) => [row.agentId, row._count._all]));
  return projects.map((project) => ({
    ...projectView(project),
    agents: project.agents.map((agent) => ({ ...agentView(agent), unread_count: unreadByAgent.get(agent.id) ?? 0 })),
  }));
}
