import { z } from "zod";
import { canAccessProject } from "@/server/auth/actor";
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

interface CountRow {
  project_id: number;
  count: bigint;
}

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
    const [projects, unread, reservations, slots, overdue] = await Promise.all([
      ctx.db.project.findMany({
        orderBy: { id: "asc" },
        include: { agents: { orderBy: [{ lastActiveTs: "desc" }, { id: "asc" }] } },
      }),
      ctx.db.messageRecipient.groupBy({ by: ["agentId"], where: { readTs: null }, _count: { _all: true } }),
      ctx.db.fileReservation.groupBy({ by: ["projectId"], where: { releasedTs: null, expiresTs: { gt: now } }, _count: { _all: true } }),
      ctx.db.buildSlot.groupBy({ by: ["projectId"], where: { releasedTs: null, expiresTs: { gt: now } }, _count: { _all: true } }),
      ctx.db.$queryRaw<CountRow[]>`
        SELECT m.project_id, count(*) AS count
        FROM messages m JOIN message_recipients r ON r.message_id = m.id
        WHERE m.ack_required AND r.ack_ts IS NULL AND m.created_ts < ${overdueBefore}
        GROUP BY m.project_id`,
    ]);
    const unreadByAgent = new Map(unread.map((row) => [row.agentId, row._count._all]));
    const byProject = (rows: { projectId: number; _count: { _all: number } }[]) => new Map(rows.map((row) => [row.projectId, row._count._all]));
    const reservationsByProject = byProject(reservations);
    const slotsByProject = byProject(slots);
    const overdueByProject = new Map(overdue.map((row) => [row.project_id, Number(row.count)]));
    return projects
      .filter((project) => canAccessProject(ctx.actor, project))
      .map((project) => ({
        ...projectView(project),
        agents: project.agents.map((agent) => ({ ...agentView(agent), unread_count: unreadByAgent.get(agent.id) ?? 0 })),
        active_reservations: reservationsByProject.get(project.id) ?? 0,
        active_build_slots: slotsByProject.get(project.id) ?? 0,
        ack_overdue: overdueByProject.get(project.id) ?? 0,
      }));
  },
});
