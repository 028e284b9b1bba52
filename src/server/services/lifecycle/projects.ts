import { defineOperation } from "@/server/operations/define";
import {
  hardDeleteProjectInput,
  hardDeleteProjectOutput,
  projectLifecycleInput,
  projectStatusOutput,
  type HardDeleteProjectInput,
  type ProjectLifecycleInput,
} from "@/server/schemas/lifecycle";
import { cleanUpAfterDelete } from "../attachments/store";
import { withTransaction, type ProjectContext } from "../context";
import { requireConfirmation } from "./agents";
import { checkProjectToken } from "./authorize";

/** Archived projects keep everything readable but take no new mail (see ./guards.ts). */
export const archiveProject = defineOperation({
  name: "archive_project",
  description: "Archive a project (admin): its mail stays readable, new mail is refused. unarchive_project undoes it.",
  input: projectLifecycleInput,
  output: projectStatusOutput,
  permission: "admin",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Archive project", idempotent: true },
  async handler(ctx, input: ProjectLifecycleInput) {
    await checkProjectToken(ctx, input.registration_token);
    await ctx.db.project.updateMany({ where: { id: ctx.project.id, archivedAt: null }, data: { archivedAt: new Date() } });
    return { status: "archived" as const, project_key: ctx.project.humanKey, slug: ctx.project.slug };
  },
});

export const unarchiveProject = defineOperation({
  name: "unarchive_project",
  description: "Unarchive a project (admin): it takes mail again.",
  input: projectLifecycleInput,
  output: projectStatusOutput,
  permission: "admin",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Unarchive project", idempotent: true },
  async handler(ctx, input: ProjectLifecycleInput) {
    await checkProjectToken(ctx, input.registration_token);
    await ctx.db.project.update({ where: { id: ctx.project.id }, data: { archivedAt: null } });
    return { status: "active" as const, project_key: ctx.project.humanKey, slug: ctx.project.slug };
  },
});

interface ProjectDeleteCounts {
  agents: number;
  messages: number;
  message_recipients: number;
  file_reservations: number;
  agent_links: number;
  window_identities: number;
  message_summaries: number;
  product_links: number;
}

/**
 * Deletes the project and every row tied to it. Foreign keys cascade from the project and its
 * agents, so this counts first and then deletes the one project row, with the project locked so
 * no send lands in between. Messages its agents sent into other projects go too (they cannot
 * outlive their sender); unprocessed archive work for the project is dropped. Attachment blobs no
 * remaining message refers to go afterwards.
 */
export const hardDeleteProject = defineOperation({
  name: "hard_delete_project",
  description: "Irreversibly delete a project with all its agents, mail and reservations (admin). confirmation must be 'I UNDERSTAND'.",
  input: hardDeleteProjectInput,
  output: hardDeleteProjectOutput,
  permission: "admin",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Hard-delete project", destructive: true },
  async handler(ctx: ProjectContext, input: HardDeleteProjectInput) {
    requireConfirmation(input.confirmation, "hard-delete a project");
    await checkProjectToken(ctx, input.registration_token);
    const id = ctx.project.id;
    const counts = await withTransaction(ctx, async ({ db }) => {
      await db.$queryRaw`SELECT id FROM projects WHERE id = ${id} FOR UPDATE`;
      const [row] = await db.$queryRaw<ProjectDeleteCounts[]>`
        WITH members AS (SELECT id FROM agents WHERE project_id = ${id}),
        doomed AS (SELECT id FROM messages WHERE project_id = ${id} OR sender_id IN (SELECT id FROM members))
        SELECT
          (SELECT count(*)::int FROM members) AS agents,
          (SELECT count(*)::int FROM doomed) AS messages,
          (SELECT count(*)::int FROM message_recipients
             WHERE message_id IN (SELECT id FROM doomed) OR agent_id IN (SELECT id FROM members)) AS message_recipients,
          (SELECT count(*)::int FROM file_reservations WHERE project_id = ${id}) AS file_reservations,
          (SELECT count(*)::int FROM agent_links
             WHERE a_agent_id IN (SELECT id FROM members) OR b_agent_id IN (SELECT id FROM members)) AS agent_links,
          (SELECT count(*)::int FROM window_identities WHERE project_id = ${id}) AS window_identities,
          (SELECT count(*)::int FROM message_summaries WHERE project_id = ${id}) AS message_summaries,
          (SELECT count(*)::int FROM product_project_links WHERE project_id = ${id}) AS product_links`;
      await db.archiveOutbox.deleteMany({ where: { projectId: id, processedTs: null } });
      await db.project.delete({ where: { id } });
      return row!;
    });
    await cleanUpAfterDelete(ctx);
    return {
      status: "hard_deleted" as const,
      project_key: ctx.project.humanKey,
      deleted_counts: { ...counts, sibling_suggestions: 0, project: 1, archive_files_removed: 0, archive_dirs_removed: 0 },
      filesystem_errors: [],
    };
  },
});
