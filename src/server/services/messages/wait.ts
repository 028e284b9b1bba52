import { AppError } from "@/server/errors";
import { recipientMessages } from "@/server/db/mail-sql";
import { waitForEvent, type MailEvent } from "@/server/events/bus";
import type { WaitForMailInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { resolveProject } from "../projects/projects";
import { inboxItem } from "./views";
import { agentViewer } from "./viewer";
import { clampLimit } from "./validation";

/**
 * wait_for_mail: returns at once when matching mail is waiting (unread, or newer than since_id),
 * otherwise blocks until a new message for the agent commits (on this instance or any other
 * sharing the database) or the timeout passes. Saves agents from polling fetch_inbox.
 */
export async function waitForMail(ctx: ServiceContext, input: WaitForMailInput) {
  if (!ctx.events) throw new AppError("INTERNAL_ERROR", "wait_for_mail needs the event bus.");
  const project = await resolveProject(ctx.db, input.project_key);
  const { agent } = await agentViewer(ctx, project, input.agent_name, input.registration_token, "wait_for_mail");
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
