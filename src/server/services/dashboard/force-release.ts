import { Prisma as P } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import { dashboardForceReleaseInput, dashboardForceReleaseOutput } from "@/server/schemas/dashboard";
import { deliver } from "../messages/deliver";
import { overseerAgent } from "../messages/overseer";
import { routeRecipients } from "../messages/routing";
import { releaseWhere } from "../reservations/events";

/**
 * The overseer releases any active reservation from the dashboard. Unlike the agents'
 * force_release_file_reservation it does not ask for staleness: an admin's judgement overrides
 * the heuristic (a holder that is alive but stuck). The holder is told by mail from
 * HumanOverseer, in the same transaction-free way as a notice: the release stands if mail fails.
 */
export const dashboardForceRelease = defineOperation({
  name: "dashboard_force_release",
  description: "Release any active file reservation of the project (admin); the holder is told by mail from HumanOverseer.",
  input: dashboardForceReleaseInput,
  output: dashboardForceReleaseOutput,
  permission: "admin",
  kind: "mutation",
  scope: "project",
  async handler(ctx, input) {
    const row = await ctx.db.fileReservation.findFirst({
      where: { id: input.file_reservation_id, projectId: ctx.project.id },
      include: { agent: { select: { name: true } } },
    });
    if (!row) {
      throw new AppError("NOT_FOUND", `File reservation id=${input.file_reservation_id} not found for project '${ctx.project.slug}'.`, {
        field: "file_reservation_id",
      });
    }
    const now = new Date();
    const released = await releaseWhere(ctx.db, "force_released", now, P.sql`id = ${row.id} AND expires_ts > ${now}`);
    const result = { released: released.length, file_reservation_id: row.id, agent: row.agent.name, path_pattern: row.pathPattern, notified: false };
    if (released.length === 0 || !input.notify_previous) return result;
    const overseer = await overseerAgent(ctx);
    const lists = { to: [row.agent.name], cc: [], bcc: [] };
    try {
      await deliver(ctx, {
        project: ctx.project,
        sender: overseer,
        lists,
        routed: await routeRecipients(ctx, ctx.project, overseer, lists),
        subject: `[file-reservations] The overseer released your lock on ${row.pathPattern}`.slice(0, 200),
        bodyMd: [
          `The human overseer released your file reservation on \`${row.pathPattern}\` in ${ctx.project.humanKey}.`,
          ...(input.note ? ["", `Note: ${input.note}`] : []),
          "",
          "Reserve the paths again with file_reservation_paths if you still need them.",
        ].join("\n"),
        importance: "high",
        ackRequired: false,
        threadId: null,
        topic: null,
      });
      return { ...result, notified: true };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return result;
    }
  },
});
