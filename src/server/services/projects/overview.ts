import { z } from "zod";
import { canAccessProject } from "@/server/auth/actor";
import { pendingCounts } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import { agentOutput, noInput, projectOutput } from "@/server/schemas/common";
import { ACK_OVERDUE_MINUTES } from "@/server/schemas/dashboard";
import { agentView, type AgentView } from "../agents/views";
import { projectView, type ProjectView } from "./projects";

export type ProjectOverview = ProjectView & {
  agents: (AgentView & { unread_count: number })[];
  active_reservations: number;
  active_build_slots: number;
  ack_overdue: number;
};

/** Every project with its agents and their unread counts, for the dashboard's front page. */
export const projectsOverview = defineOperation({
  name: "projects_overview",
  description: "Every project with its agents and their unread counts, active reservations and build slots, and overdue acks.",
  input: noInput,
  output: z.array(
    projectOutput.extend({
      agents: z.array(agentOutput.extend({ unread_count: z.number().int() })),
      active_reservations: z.number().int(),
      active_build_slots: z.number().int(),
      ack_overdue: z.number().int(),
    }),
  ),
  permission: "read",
  kind: "query",
  scope: "global",
  async handler(ctx): Promise<ProjectOverview[]> {
    const now = new Date();
    const overdueBefore = new Date(now.getTime() - ACK_OVERDUE_MINUTES * 60_000);
    const [projects, pending, reservations, slots] = await Promise.all([
      ctx.db.project.findMany({
        orderBy: { id: "asc" },
        include: { agents: { orderBy: [{ lastActiveTs: "desc" }, { id: "asc" }] } },
      }),
      pendingCounts(ctx.db, null, overdueBefore),
      ctx.db.fileReservation.groupBy({ by: ["projectId"], where: { releasedTs: null, expiresTs: { gt: now } }, _count: { _all: true } }),
      ctx.db.buildSlot.groupBy({ by: ["projectId"], where: { releasedTs: null, expiresTs: { gt: now } }, _count: { _all: true } }),
    ]);
    const pendingByAgent = new Map(pending.map((row) => [row.agent_id, row]));
    const byProject = (rows: { projectId: number; _count: { _all: number } }[]) => new Map(rows.map((row) => [row.projectId, row._count._all]));
    const reservationsByProject = byProject(reservations);
    const slotsByProject = byProject(slots);
    return projects
      .filter((project) => canAccessProject(ctx.actor, project))
      .map((project) => ({
        ...projectView(project),
        agents: project.agents.map((agent) => ({ ...agentView(agent), unread_count: pendingByAgent.get(agent.id)?.unread ?? 0 })),
        active_reservations: reservationsByProject.get(project.id) ?? 0,
        active_build_slots: slotsByProject.get(project.id) ?? 0,
        ack_overdue: project.agents.reduce((sum, agent) => sum + (pendingByAgent.get(agent.id)?.ack_overdue ?? 0), 0),
      }));
  },
});
