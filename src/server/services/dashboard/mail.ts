import { z } from "zod";
import { canAccessProject } from "@/server/auth/actor";
import { operatorMail, recipientsOf, deliveriesOf } from "@/server/db/mail-sql";
import { AppError } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import { dashboardMailInput, dashboardMailOutput, dashboardReceiptsOutput } from "@/server/schemas/dashboard";
import { dashboardMessageInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { isoTs, isoTsOrNull } from "../format";
import { attachmentMetas } from "../attachments/meta";
import { resolveProject } from "../projects/projects";

/** The projects a listing may show: null when the actor sees every project. */
async function visibleProjectIds(ctx: ServiceContext, projectKey: string | undefined): Promise<number[] | null> {
  if (projectKey !== undefined) return [(await resolveProject(ctx, projectKey)).id];
  if (ctx.actor.projectScopes === "*") return null;
  const projects = await ctx.db.project.findMany({ select: { id: true, slug: true, humanKey: true } });
  return projects.filter((project) => canAccessProject(ctx.actor, project)).map((project) => project.id);
}

/**
 * The overseer's mail list: every project's (the unified inbox) or one project's, newest first,
 * each message with its recipients' read and ack state. Admin, like the other reads of every
 * agent's mail.
 */
export const dashboardMail = defineOperation({
  name: "dashboard_mail",
  description: "Mail of one project or of every visible project, newest first, with each recipient's read/ack state (before_id pages).",
  input: dashboardMailInput,
  output: dashboardMailOutput,
  permission: "admin",
  kind: "query",
  scope: "global",
  async handler(ctx, input) {
    const projectIds = await visibleProjectIds(ctx, input.project_key);
    if (projectIds?.length === 0) return { messages: [], next_before_id: null };
    // One row more than asked tells whether an older page exists.
    const rows = await operatorMail(ctx.db, { projectIds, limit: input.limit + 1, beforeId: input.before_id });
    const page = rows.slice(0, input.limit);
    const recipients = await recipientsOf(
      ctx.db,
      page.map((row) => row.id),
    );
    return {
      messages: page.map((row) => ({
        id: row.id,
        project: row.project_slug,
        thread_id: row.thread_id,
        topic: row.topic,
        subject: row.subject,
        importance: row.importance,
        ack_required: row.ack_required,
        created_ts: isoTs(row.created_ts),
        from: row.sender_name,
        attachments: attachmentMetas(row.attachments).length,
        recipients: recipients
          .filter((recipient) => recipient.message_id === row.id)
          .map((recipient) => ({ agent: recipient.name, kind: recipient.kind, read_at: isoTsOrNull(recipient.read_ts), ack_at: isoTsOrNull(recipient.ack_ts) })),
      })),
      next_before_id: rows.length > input.limit ? page[page.length - 1]!.id : null,
    };
  },
});

/**
 * The deliveries of a cross-project send the actor may see: a project-scoped admin learns nothing
 * of the copies (and bcc lists) in projects outside its scopes.
 */
async function visibleDeliveries(ctx: ServiceContext, messageId: number): Promise<number[]> {
  const ids = await deliveriesOf(ctx.db, messageId);
  if (ctx.actor.projectScopes === "*") return ids;
  const rows = await ctx.db.message.findMany({ where: { id: { in: ids } }, select: { id: true, project: { select: { slug: true, humanKey: true } } } });
  return rows.filter((row) => canAccessProject(ctx.actor, row.project)).map((row) => row.id);
}

/** Every recipient of a message (all deliveries of a cross-project send) with delivered, read and ack state. */
export const dashboardReceipts = defineOperation({
  name: "dashboard_receipts",
  description: "A message's recipients with their read and acknowledged times (every delivery of a cross-project send the caller may see).",
  input: dashboardMessageInput,
  output: dashboardReceiptsOutput,
  permission: "admin",
  kind: "query",
  scope: "project",
  async handler(ctx, input): Promise<z.infer<typeof dashboardReceiptsOutput>> {
    const message = await ctx.db.message.findFirst({ where: { id: input.message_id, projectId: ctx.project.id }, select: { id: true } });
    if (!message) throw new AppError("NOT_FOUND", `Message ${input.message_id} not found in project '${ctx.project.slug}'.`, { field: "message_id" });
    const rows = await recipientsOf(ctx.db, await visibleDeliveries(ctx, message.id));
    return rows.map((row) => ({ agent: row.name, project: row.project_slug, kind: row.kind, read_at: isoTsOrNull(row.read_ts), ack_at: isoTsOrNull(row.ack_ts) }));
  },
});
