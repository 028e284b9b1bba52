import { z } from "zod";
import { canAccessProject } from "@/server/auth/actor";
import { defineOperation } from "@/server/operations/define";
import { agentOutput, noInput, projectOutput } from "@/server/schemas/common";
import { agentView, type AgentView } from "../agents/views";
import { projectView, type ProjectView } from "./projects";

export type ProjectOverview = ProjectView & { agents: (AgentView & { unread_count: number })[] };

/** Every project with its agents and their unread counts, for the dashboard's front page. */
export const projectsOverview = defineOperation({
  name: "projects_overview",
  description: "Every project with its agents and their unread counts.",
  input: noInput,
  output: z.array(projectOutput.extend({ agents: z.array(agentOutput.extend({ unread_count: z.number().int() })) })),
  permission: "read",
  kind: "query",
  scope: "global",
  async handler(ctx): Promise<ProjectOverview[]> {
    const [projects, unread] = await Promise.all([
      ctx.db.project.findMany({
        orderBy: { id: "asc" },
        include: { agents: { orderBy: [{ lastActiveTs: "desc" }, { id: "asc" }] } },
      }),
      ctx.db.messageRecipient.groupBy({ by: ["agentId"], where: { readTs: null }, _count: { _all: true } }),
    ]);
    const unreadByAgent = new Map(unread.map((row) => [row.agentId, row._count._all]));
    return projects
      .filter((project) => canAccessProject(ctx.actor, project))
      .map((project) => ({
        ...projectView(project),
        agents: project.agents.map((agent) => ({ ...agentView(agent), unread_count: unreadByAgent.get(agent.id) ?? 0 })),
      }));
  },
});
