import { AppError } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import {
  HARD_DELETE_CONFIRMATION,
  agentLifecycleInput,
  agentStatusOutput,
  hardDeleteAgentInput,
  hardDeleteAgentOutput,
  type AgentLifecycleInput,
  type HardDeleteAgentInput,
} from "@/server/schemas/lifecycle";
import { cleanUpAfterDelete } from "../attachments/store";
import { withTransaction, type ProjectContext } from "../context";
import type { Db } from "@/server/db/client";
import { agentView } from "../agents/views";
import { isoTs } from "../format";
import { lifecycleTarget } from "./authorize";

/** The agent's profile as it now stands, queued for the archive (profile.json) in the change's transaction. */
async function queueProfile(db: Db, ctx: ProjectContext, agentId: number): Promise<void> {
  const agent = await db.agent.findUniqueOrThrow({ where: { id: agentId } });
  await db.archiveOutbox.create({ data: { projectId: ctx.project.id, kind: "agent_profile", payload: { project: ctx.project.slug, agent: { ...agentView(agent) } } } });
}

/** Longest stored task description (register_agent's bound). */
const TASK_MAX = 2048;

export function requireConfirmation(confirmation: string, what: string): void {
  if (confirmation !== HARD_DELETE_CONFIRMATION) {
    throw new AppError("INVALID_ARGUMENT", `confirmation must be exactly '${HARD_DELETE_CONFIRMATION}' to ${what}; nothing was deleted.`, {
      field: "confirmation",
    });
  }
}

/** Retired agents keep their mail but receive no more: sends to them fail with AGENT_RETIRED. */
export const retireAgent = defineOperation({
  name: "retire_agent",
  description: "Retire an agent (admin): it stops receiving mail and is listed under retired_agents. unretire_agent undoes it.",
  input: agentLifecycleInput,
  output: agentStatusOutput(["retired"]),
  permission: "admin",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Retire agent", idempotent: true },
  async handler(ctx, input: AgentLifecycleInput) {
    const agent = await lifecycleTarget(ctx, input.agent_name, input.registration_token, "retire_agent");
    // The first retirement's time stays: retiring again changes nothing.
    await withTransaction(ctx, async ({ db }) => {
      const { count } = await db.agent.updateMany({ where: { id: agent.id, retiredAt: null }, data: { retiredAt: new Date() } });
      if (count) await queueProfile(db, ctx, agent.id);
    });
    return { status: "retired" as const, agent_name: agent.name, project_key: ctx.project.humanKey };
  },
});

export const unretireAgent = defineOperation({
  name: "unretire_agent",
  description: "Bring a retired agent back (admin): it receives mail again.",
  input: agentLifecycleInput,
  output: agentStatusOutput(["active"]),
  permission: "admin",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Unretire agent", idempotent: true },
  async handler(ctx, input: AgentLifecycleInput) {
    const agent = await lifecycleTarget(ctx, input.agent_name, input.registration_token, "unretire_agent");
    // Active from now: without the bump, auto-retire would take back a long-idle agent at once.
    await withTransaction(ctx, async ({ db }) => {
      await db.agent.update({ where: { id: agent.id }, data: { retiredAt: null, lastActiveTs: new Date() } });
      await queueProfile(db, ctx, agent.id);
    });
    return { status: "active" as const, agent_name: agent.name, project_key: ctx.project.humanKey };
  },
});

/** As upstream: block_all plus a tag on the task; the agent may still send. */
export const deregisterAgent = defineOperation({
  name: "deregister_agent",
  description: "Deregister an agent (admin): contact policy block_all and a [DEREGISTERED at …] task tag. It can still send.",
  input: agentLifecycleInput,
  output: agentStatusOutput(["deregistered"]),
  permission: "admin",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Deregister agent", idempotent: true },
  async handler(ctx, input: AgentLifecycleInput) {
    const agent = await lifecycleTarget(ctx, input.agent_name, input.registration_token, "deregister_agent");
    const now = new Date();
    const tag = `[DEREGISTERED at ${isoTs(now)}] `;
    // One statement: tagged once (deregistering again keeps the first tag instead of stacking
    // them), and block_all again in case the policy was changed since.
    await withTransaction(ctx, async ({ db }) => {
      await db.$executeRaw`
        UPDATE agents SET
          contact_policy = 'block_all',
          task_description = CASE WHEN deregistered_at IS NULL THEN left(${tag} || task_description, ${TASK_MAX}) ELSE task_description END,
          deregistered_at = COALESCE(deregistered_at, ${now})
        WHERE id = ${agent.id}`;
      await queueProfile(db, ctx, agent.id);
    });
    return { status: "deregistered" as const, agent_name: agent.name, project_key: ctx.project.humanKey };
  },
});

interface AgentDeleteCounts {
  message_recipients: number;
  sent_message_recipients: number;
  messages_sent: number;
  file_reservations: number;
  agent_links: number;
  window_identities: number;
}

/**
 * Deletes the agent and everything that is its: its recipient rows, the messages it sent (with
 * their recipient rows; cross-project copies too, since a message cannot outlive its sender), its
 * reservations, build slots, links both ways, credentials bound to it, and window identities shown
 * under its name. Attachment blobs no remaining message refers to go afterwards.
 */
export const hardDeleteAgent = defineOperation({
  name: "hard_delete_agent",
  description: "Irreversibly delete an agent and its mail, reservations and links (admin). confirmation must be 'I UNDERSTAND'.",
  input: hardDeleteAgentInput,
  output: hardDeleteAgentOutput,
  permission: "admin",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Hard-delete agent", destructive: true },
  async handler(ctx: ProjectContext, input: HardDeleteAgentInput) {
    requireConfirmation(input.confirmation, "hard-delete an agent");
    const agent = await lifecycleTarget(ctx, input.agent_name, input.registration_token, "hard_delete_agent");
    const counts = await withTransaction(ctx, async ({ db }) => {
      // The row lock holds off sends to or from the agent while it is counted and deleted.
      await db.$queryRaw`SELECT id FROM agents WHERE id = ${agent.id} FOR UPDATE`;
      const [row] = await db.$queryRaw<AgentDeleteCounts[]>`
        SELECT
          (SELECT count(*)::int FROM message_recipients WHERE agent_id = ${agent.id}) AS message_recipients,
          (SELECT count(*)::int FROM message_recipients r JOIN messages m ON m.id = r.message_id
             WHERE m.sender_id = ${agent.id} AND r.agent_id <> ${agent.id}) AS sent_message_recipients,
          (SELECT count(*)::int FROM messages WHERE sender_id = ${agent.id}) AS messages_sent,
          (SELECT count(*)::int FROM file_reservations WHERE agent_id = ${agent.id}) AS file_reservations,
          (SELECT count(*)::int FROM agent_links WHERE a_agent_id = ${agent.id} OR b_agent_id = ${agent.id}) AS agent_links`;
      const windows = await db.windowIdentity.deleteMany({ where: { projectId: ctx.project.id, displayName: { equals: agent.name, mode: "insensitive" } } });
      await db.agent.delete({ where: { id: agent.id } });
      return { ...row!, window_identities: windows.count };
    });
    await cleanUpAfterDelete(ctx);
    return {
      status: "hard_deleted" as const,
      agent_name: agent.name,
      project_key: ctx.project.humanKey,
      deleted_counts: { ...counts, agent: 1, archive_files_removed: 0, archive_dirs_removed: 0 },
      filesystem_errors: [],
    };
  },
});
