import type { Agent } from "@/generated/prisma/client";
import { defineOperation } from "@/server/operations/define";
import { invoke } from "@/server/operations/invoke";
import {
  macroPrepareThreadInput,
  macroPrepareThreadOutput,
  macroStartSessionInput,
  macroStartSessionOutput,
  type MacroPrepareThreadInput,
  type MacroStartSessionInput,
} from "@/server/schemas/macros";
import { AppError } from "@/server/errors";
import { authenticateAgent, findAgent, requireAgent } from "../agents/authenticate";
import { registerAgent, type RegisteredAgent } from "../agents/register";
import { agentView } from "../agents/views";
import type { ProjectContext, ServiceContext } from "../context";
import { fetchInbox } from "../messages/inbox";
import { summarizeThread } from "../messages/summaries";
import { normalizeThreadId } from "../messages/validation";
import { ensureProject, projectView } from "../projects/projects";
import { fileReservationPaths } from "../reservations/operations";
import { inMacroTransaction } from "./transaction";

function splitToken(registered: RegisteredAgent) {
  const { registration_token, ...agent } = registered;
  return { agent, registration_token };
}

/** macro_start_session: ensure project → register (or update) → reserve → inbox, in one transaction. */
export const macroStartSession = defineOperation({
  name: "macro_start_session",
  description:
    "Start a session in one call: ensure the project, register (or update) the agent, optionally reserve paths, fetch the inbox. Returns {project, agent, registration_token, file_reservations, inbox}.",
  input: macroStartSessionInput,
  output: macroStartSessionOutput,
  permission: "write",
  kind: "mutation",
  scope: "global",
  tool: { profile: "extended", title: "Start session" },
  handler: (ctx: ServiceContext, input: MacroStartSessionInput) =>
    inMacroTransaction(ctx, async (tx) => {
      const project = await invoke(ensureProject, tx, { human_key: input.human_key });
      const registered = await invoke(registerAgent, tx, {
        project_key: project.human_key,
        program: input.program,
        model: input.model,
        name: input.agent_name,
        task_description: input.task_description,
        registration_token: input.registration_token,
      });
      const { agent, registration_token } = splitToken(registered);
      const as = { project_key: project.human_key, agent_name: agent.name, registration_token: registration_token ?? undefined };
      const file_reservations = input.file_reservation_paths?.length
        ? await invoke(fileReservationPaths, tx, {
            ...as,
            paths: input.file_reservation_paths,
            ttl_seconds: input.file_reservation_ttl_seconds,
            exclusive: true,
            reason: input.file_reservation_reason,
          })
        : { granted: [], conflicts: [] };
      const inbox = await invoke(fetchInbox, tx, { ...as, limit: input.inbox_limit, include_bodies: false });
      return { project, agent, registration_token, file_reservations, inbox };
    }),
});

/** The agent prepare_thread acts as: an existing one authenticated, or a new one registered. */
async function preparedAgent(ctx: ProjectContext, input: MacroPrepareThreadInput): Promise<{ agent: Agent | RegisteredAgent; token: string | null }> {
  const existing = input.agent_name ? await findAgent(ctx.db, ctx.project, input.agent_name) : null;
  if (existing || !input.register_if_missing) {
    // Not registering: the name must exist and the caller must prove it (NOT_FOUND / AUTHENTICATION_REQUIRED).
    const agent = existing ?? (await requireAgent(ctx.db, ctx.project, input.agent_name ?? "", "agent_name"));
    authenticateAgent(ctx, agent, input.registration_token, { action: "macro_prepare_thread", tokenParam: "registration_token" });
    return { agent, token: input.registration_token ?? null };
  }
  const registered = await inMacroTransaction(ctx, (tx) =>
    invoke(registerAgent, tx, {
      project_key: ctx.project.humanKey,
      program: input.program,
      model: input.model,
      name: input.agent_name,
      task_description: input.task_description,
    }),
  );
  return { agent: registered, token: registered.registration_token };
}

/**
 * macro_prepare_thread: join a thread in one call. Its only write is registering a new agent (one
 * transaction); the summary and inbox are reads made after it, so an LLM call never holds a
 * transaction open.
 */
export const macroPrepareThread = defineOperation({
  name: "macro_prepare_thread",
  description:
    "Join a thread in one call: register or authenticate the agent, summarise the thread (what it may see), fetch the inbox. Returns {project, agent, registration_token, thread, inbox}.",
  input: macroPrepareThreadInput,
  output: macroPrepareThreadOutput,
  permission: "write",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Prepare thread" },
  async handler(ctx, input: MacroPrepareThreadInput) {
    const threadId = normalizeThreadId(input.thread_id);
    if (!threadId) throw new AppError("INVALID_ARGUMENT", "thread_id is required.", { field: "thread_id" });
    const { agent, token } = await preparedAgent(ctx, input);
    const view = "registration_token" in agent ? splitToken(agent).agent : agentView(agent);
    const as = { project_key: ctx.project.humanKey, agent_name: view.name, registration_token: token ?? undefined };
    const summary = await invoke(summarizeThread, ctx, {
      ...as,
      thread_id: threadId,
      include_examples: input.include_examples,
      llm_mode: input.llm_mode,
      llm_model: input.llm_model,
    });
    const single = summary as { thread_id: string; summary: Record<string, unknown>; examples: unknown[] };
    const inbox = await invoke(fetchInbox, ctx, { ...as, limit: input.inbox_limit, include_bodies: input.include_inbox_bodies });
    return {
      project: projectView(ctx.project),
      agent: view,
      registration_token: token,
      thread: { ...single, total_messages: Number(single.summary.total_messages ?? 0) },
      inbox,
    };
  },
});
