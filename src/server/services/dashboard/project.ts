import { pendingCounts } from "@/server/db/mail-sql";
import { defineOperation } from "@/server/operations/define";
import {
  ACK_OVERDUE_MINUTES,
  ACTIVE_WINDOW_MINUTES,
  dashboardProjectInput,
  dashboardProjectOutput,
  type DashboardProject,
} from "@/server/schemas/dashboard";
import { isoTs, isoTsOrNull } from "../format";
import { listReservations } from "../reservations/resource";

/** Contact links and build slots listed at most (the most recent). */
const LIST_MAX = 500;

/** One project at a glance for the overseer: agents and their state, reservations, build slots, contacts. */
export const dashboardProject = defineOperation({
  name: "dashboard_project",
  description: "A project's agents (active/idle/retired, unread, overdue acks), active reservations with staleness, build slots and contact links.",
  input: dashboardProjectInput,
  output: dashboardProjectOutput,
  permission: "read",
  kind: "query",
  scope: "project",
  async handler(ctx): Promise<DashboardProject> {
    const { project } = ctx;
    const now = new Date();
    const [agents, reservations, slots, links] = await Promise.all([
      ctx.db.agent.findMany({ where: { projectId: project.id }, orderBy: [{ lastActiveTs: "desc" }, { id: "asc" }] }),
      listReservations(ctx, { project_key: project.slug, active_only: true, format: undefined }),
      ctx.db.buildSlot.findMany({
        where: { projectId: project.id, releasedTs: null, expiresTs: { gt: now } },
        include: { agent: { select: { name: true } } },
        orderBy: [{ slot: "asc" }, { acquiredTs: "asc" }],
        take: LIST_MAX,
      }),
      ctx.db.agentLink.findMany({
        where: { OR: [{ aProjectId: project.id }, { bProjectId: project.id }] },
        include: {
          aAgent: { select: { name: true, project: { select: { slug: true } } } },
          bAgent: { select: { name: true, project: { select: { slug: true } } } },
        },
        orderBy: [{ updatedTs: "desc" }, { id: "desc" }],
        take: LIST_MAX,
      }),
    ]);
    const overdueBefore = new Date(now.getTime() - ACK_OVERDUE_MINUTES * 60_000);
    const pending = new Map(
      (
        await pendingCounts(
          ctx.db,
          agents.map((agent) => agent.id),
          overdueBefore,
        )
      ).map((row) => [row.agent_id, row]),
    );
    const activeSince = now.getTime() - ACTIVE_WINDOW_MINUTES * 60_000;
    const named = (agent: { name: string; project: { slug: string } }) => (agent.project.slug === project.slug ? agent.name : `${agent.name}@${agent.project.slug}`);
    return {
      project: { slug: project.slug, human_key: project.humanKey, created_at: isoTs(project.createdAt), archived_at: isoTsOrNull(project.archivedAt) },
      agents: agents.map((agent) => ({
        id: agent.id,
        name: agent.name,
        program: agent.program,
        model: agent.model,
        task_description: agent.taskDescription,
        contact_policy: agent.contactPolicy,
        inception_ts: isoTs(agent.inceptionTs),
        last_active_ts: isoTs(agent.lastActiveTs),
        status: agent.retiredAt ? "retired" : agent.lastActiveTs.getTime() >= activeSince ? "active" : "idle",
        retired_at: isoTsOrNull(agent.retiredAt),
        unread: pending.get(agent.id)?.unread ?? 0,
        ack_overdue: pending.get(agent.id)?.ack_overdue ?? 0,
      })),
      reservations: reservations.map((row) => ({
        id: row.id,
        agent: row.agent,
        path_pattern: row.path_pattern,
        exclusive: row.exclusive,
        reason: row.reason,
        created_ts: row.created_ts,
        expires_ts: row.expires_ts,
        stale: row.stale,
        stale_reasons: row.stale_reasons,
      })),
      build_slots: slots.map((slot) => ({
        id: slot.id,
        slot: slot.slot,
        agent: slot.agent.name,
        branch: slot.branch,
        exclusive: slot.exclusive,
        acquired_ts: isoTs(slot.acquiredTs),
        expires_ts: isoTs(slot.expiresTs),
      })),
      contacts: links.map((link) => ({
        from: named(link.aAgent),
        to: named(link.bAgent),
        to_project: link.bAgent.project.slug,
        status: link.status,
        reason: link.reason,
        updated_ts: isoTs(link.updatedTs),
        expires_ts: isoTsOrNull(link.expiresTs),
      })),
      active_window_minutes: ACTIVE_WINDOW_MINUTES,
      ack_overdue_minutes: ACK_OVERDUE_MINUTES,
    };
  },
});
