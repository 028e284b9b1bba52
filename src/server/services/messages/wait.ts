import { z } from "zod";
import { AppError } from "@/server/errors";
import { recipientMessages } from "@/server/db/mail-sql";
import { waitForEvent, type MailEvent } from "@/server/events/bus";
import { defineOperation } from "@/server/operations/define";
import { inboxItemOutput } from "@/server/schemas/common";
import { waitForMailInput, type WaitForMailInput } from "@/server/schemas/messages";
import type { AgentContext } from "../context";
import { inboxItem } from "./views";
import { clampLimit } from "./validation";

/**
 * wait_for_mail: returns at once when matching mail is waiting (unread, or newer than since_id),
 * otherwise blocks until a new message for the agent commits (on this instance or any other
 * sharing the database) or the timeout passes. Saves agents from polling fetch_inbox.
 */
export const waitForMail = defineOperation({
  name: "wait_for_mail",
  description:
    "Block until you have mail (unread, or newer than since_id) or timeout_seconds (≤60) pass; returns at once if mail is waiting. Use instead of polling fetch_inbox.",
  input: waitForMailInput,
  output: z.strictObject({
    agent: z.string(),
    woke: z.enum(["mail", "timeout"]),
    waited_ms: z.number().int(),
    count: z.number().int(),
    messages: z.array(inboxItemOutput),
  }),
  permission: "read",
  kind: "query",
  scope: "agent",
  tool: { profile: "core", title: "Wait for mail" },
  handler: wait,
});

async function wait(ctx: AgentContext, input: WaitForMailInput) {
  if (!ctx.events) throw new AppError("INTERNAL_ERROR", "wait_for_mail needs the event bus.");
  const { agent } = ctx;
  const limit = clampLimit(input.limit);
  const started = Date.now();
  const query = () =>
    recipientMessages(ctx.db, {
      agentId: agent.id,
      limit,
      includeBodies: input.include_bodies,
      urgentOnly: input.urgent_only,
      ...(input.since_id === undefined || input.since_id === null ? { unreadOnly: true } : { sinceId: input.since_id, order: "asc" as const }),
    });
  const result = (woke: "mail" | "timeout", rows: Awaited<ReturnType<typeof query>>) => ({
    agent: agent.name,
    woke,
    waited_ms: Date.now() - started,
    count: rows.length,
    messages: rows.map((row) => inboxItem(row, input.include_bodies)),
  });

  // Subscribe before looking, so mail committed between the look and the wait is not missed. A
  // wake-up can bring nothing that matches (an urgent_only wait woken by normal mail, a message
  // already read by another session): then keep waiting until the deadline.
  const deadline = started + input.timeout_seconds * 1000;
  const accept = (event: MailEvent) => event.type === "message" && event.agentIds.includes(agent.id);
  for (;;) {
    const wake = waitForEvent(ctx.events, accept, Math.max(0, deadline - Date.now()), ctx.signal);
    const waiting = await query();
    if (waiting.length) {
      wake.cancel();
      return result("mail", waiting);
    }
    if (!(await wake.promise)) {
      // A notification can be lost (the LISTEN connection was being re-established when the
      // mail committed): look once more before reporting that nothing came.
      const last = ctx.signal?.aborted ? [] : await query();
      return last.length ? result("mail", last) : result("timeout", []);
    }
  }
}
