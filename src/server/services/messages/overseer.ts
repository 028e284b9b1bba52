import { z } from "zod";
import type { Agent } from "@/generated/prisma/client";
import { defineOperation } from "@/server/operations/define";
import { overseerSendInput } from "@/server/schemas/messages";
import { deliver } from "./deliver";
import { routeRecipients } from "./routing";
import { normalizeThreadId } from "./validation";
import { OVERSEER_NAME } from "@/lib/overseer";
import type { ProjectContext } from "../context";

export { OVERSEER_NAME } from "@/lib/overseer";
const PREAMBLE = "---\n\n🚨 MESSAGE FROM HUMAN OVERSEER 🚨\n\nThis message is from a human operator overseeing this project. Please prioritize it.\n\n---\n\n";

/** The project's HumanOverseer agent, created on first use with contact policy open. */
export async function overseerAgent(ctx: ProjectContext): Promise<Agent> {
  const nameKey = OVERSEER_NAME.toLowerCase();
  await ctx.db.agent.createMany({
    data: [{ projectId: ctx.project.id, name: OVERSEER_NAME, nameKey, program: "WebUI", model: "Human", contactPolicy: "open", taskDescription: "Human overseer" }],
    skipDuplicates: true,
  });
  return ctx.db.agent.findUniqueOrThrow({ where: { projectId_nameKey: { projectId: ctx.project.id, nameKey } } });
}

/**
 * A human writes from the dashboard as HumanOverseer: high importance, a preamble, and no contact
 * policy in the way (the overseer agent is created on first use with policy open).
 */
export const overseerSend = defineOperation({
  name: "overseer_send",
  description: "Write to agents as HumanOverseer (high importance, with the overseer preamble).",
  input: overseerSendInput,
  output: z.strictObject({ success: z.literal(true), message_id: z.number().int().nullable(), recipients: z.array(z.string()), sent_at: z.string().nullable() }),
  permission: "write",
  kind: "mutation",
  scope: "project",
  async handler(ctx, input) {
    const { project } = ctx;
    const threadId = normalizeThreadId(input.thread_id);
    const overseer = await overseerAgent(ctx);
    const routed = await routeRecipients(ctx, project, overseer, { to: input.recipients, cc: [], bcc: [] });
    const result = await deliver(ctx, {
      project,
      sender: overseer,
      lists: { to: input.recipients, cc: [], bcc: [] },
      routed,
      subject: input.subject,
      bodyMd: `${PREAMBLE}${input.body_md}`,
      importance: "high",
      ackRequired: false,
      threadId,
      topic: null,
    });
    const first = result.deliveries[0]?.payload;
    return {
      success: true as const,
      message_id: first?.id ?? null,
      recipients: result.deliveries.flatMap((delivery) => delivery.payload.to),
      sent_at: first?.created_ts ?? null,
    };
  },
});
