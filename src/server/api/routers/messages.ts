import { z } from "zod";
import { dashboardMailboxInput, overseerSendInput } from "@/server/schemas/messages";
import { projectKey } from "@/server/schemas/common";
import { operatorInbox, operatorMessage, operatorOutbox, operatorSearch, operatorThread } from "@/server/services/messages/dashboard";
import { overseerSend } from "@/server/services/messages/overseer";
import { adminProcedure, router, writeProcedure } from "../trpc";

// The dashboard's mail procedures: the human overseer reads any agent's mail of a project and
// writes as HumanOverseer. Agents use the MCP tools instead.

export const messagesRouter = router({
  inbox: adminProcedure.input(dashboardMailboxInput).query(({ ctx, input }) => operatorInbox(ctx, input)),
  outbox: adminProcedure.input(dashboardMailboxInput).query(({ ctx, input }) => operatorOutbox(ctx, input)),
  thread: adminProcedure
    .input(z.strictObject({ project_key: projectKey, thread_id: z.string().min(1).max(128) }))
    .query(({ ctx, input }) => operatorThread(ctx, input)),
  get: adminProcedure
    .input(z.strictObject({ project_key: projectKey, message_id: z.number().int().positive() }))
    .query(({ ctx, input }) => operatorMessage(ctx, input)),
  search: adminProcedure
    .input(z.strictObject({ project_key: projectKey, query: z.string().max(1000), limit: z.number().int().min(1).max(200).default(20) }))
    .query(({ ctx, input }) => operatorSearch(ctx, input)),
  overseerSend: writeProcedure.input(overseerSendInput).mutation(({ ctx, input }) => overseerSend(ctx, input)),
});
