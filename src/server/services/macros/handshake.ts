import type { Agent, Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import { invoke } from "@/server/operations/invoke";
import { macroContactHandshakeInput, macroContactHandshakeOutput, type MacroContactHandshakeInput } from "@/server/schemas/macros";
import { authenticateAgent, requireAgent } from "../agents/authenticate";
import { upsertApproval } from "../contacts/links";
import { linkExpiry } from "../contacts/policy";
import { fileContactRequest, type ContactRequestResult } from "../contacts/request";
import type { ProjectContext } from "../context";
import { isoTsOrNull } from "../format";
import type { SendResult } from "../messages/deliver";
import { parseAddress } from "../messages/routing";
import { sendMessage } from "../messages/send";
import { resolveProject } from "../projects/projects";
import { inMacroTransaction } from "./transaction";

const ACTION = "macro_contact_handshake";

interface StepError {
  type: string;
  message: string;
}

interface ApprovedLink {
  from: string;
  from_project: string;
  to: string;
  to_project: string;
  status: string;
  expires_ts: string | null;
}

interface Response {
  from: string;
  to: string;
  approved: boolean;
  expires_ts: string | null;
  updated: number;
}

export interface HandshakeResult {
  request: ContactRequestResult | ApprovedLink;
  response: ApprovedLink | Response | null;
  welcome_message: SendResult | null;
  response_error?: StepError;
  welcome_error?: StepError;
}

function welcomeOf(input: MacroContactHandshakeInput): { subject: string; body: string } | null {
  const { welcome_subject: subject, welcome_body: body } = input;
  for (const [field, value] of [["welcome_subject", subject], ["welcome_body", body]] as const) {
    if (value !== null && value !== undefined && !value.trim()) throw new AppError("INVALID_ARGUMENT", `${field} must not be blank.`, { field });
  }
  if ((subject == null) !== (body == null)) {
    throw new AppError("INVALID_ARGUMENT", "welcome_subject and welcome_body go together: pass both or neither.", { field: subject == null ? "welcome_subject" : "welcome_body" });
  }
  if (subject == null || body == null) return null;
  if (!input.auto_accept) throw new AppError("INVALID_ARGUMENT", "A welcome message needs auto_accept=true.", { field: "auto_accept" });
  return { subject, body };
}

/** Requester and target, inferred when the project has one agent (requester) or two (the other is the target). */
async function parties(ctx: ProjectContext, input: MacroContactHandshakeInput): Promise<{ requester: Agent; target: Agent; targetProject: Project }> {
  let requesterName = input.requester ?? input.agent_name ?? null;
  let targetRaw = input.target ?? input.to_agent ?? null;
  if (!requesterName || !targetRaw) {
    const agents = await ctx.db.agent.findMany({ where: { projectId: ctx.project.id, retiredAt: null }, orderBy: { id: "asc" }, take: 3, select: { name: true } });
    if (!requesterName && agents.length === 1) requesterName = agents[0]!.name;
    if (!requesterName && agents.length === 2 && targetRaw) requesterName = agents.find((a) => a.name.toLowerCase() !== targetRaw!.toLowerCase())?.name ?? null;
    if (!targetRaw && agents.length === 2 && requesterName) targetRaw = agents.find((a) => a.name.toLowerCase() !== requesterName!.toLowerCase())?.name ?? null;
  }
  if (!requesterName) throw new AppError("INVALID_ARGUMENT", "requester (or agent_name) is required.", { field: "requester" });
  if (!targetRaw) throw new AppError("INVALID_ARGUMENT", "target (or to_agent) is required.", { field: "target" });
  const requester = await requireAgent(ctx.db, ctx.project, requesterName, "requester");
  authenticateAgent(ctx, requester, input.requester_registration_token, { action: ACTION, tokenParam: "requester_registration_token" });
  const address = parseAddress(targetRaw);
  const projectIdent = address.projectIdent ?? input.to_project;
  const targetProject = projectIdent ? await resolveProject(ctx, projectIdent, address.projectIdent ? "target" : "to_project") : ctx.project;
  const target = await requireAgent(ctx.db, targetProject, address.name, "target");
  if (target.id === requester.id) {
    throw new AppError("INVALID_ARGUMENT", `'${requester.name}' does not allow self-contact: requester and target must differ.`, { field: "target" });
  }
  return { requester, target, targetProject };
}

function targetAuthenticated(ctx: ProjectContext, target: Agent, token: string | undefined): StepError | null {
  try {
    authenticateAgent(ctx, target, token, { action: `${ACTION} with auto_accept`, tokenParam: "target_registration_token" });
    return null;
  } catch (error) {
    if (error instanceof AppError && error.code === "AUTHENTICATION_REQUIRED") return { type: error.code, message: error.message };
    throw error;
  }
}

/**
 * macro_contact_handshake: request contact, approve it when the target is authenticated too
 * (auto_accept), and send an optional welcome, all in one transaction.
 */
export const macroContactHandshake = defineOperation({
  name: "macro_contact_handshake",
  description:
    "Request contact with a target (any project) and, with auto_accept and the target's token, approve it and send an optional welcome. Returns {request, response, welcome_message}.",
  input: macroContactHandshakeInput,
  output: macroContactHandshakeOutput,
  permission: "write",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Contact handshake" },
  async handler(ctx, input: MacroContactHandshakeInput): Promise<HandshakeResult> {
    const welcome = welcomeOf(input);
    const { requester, target, targetProject } = await parties(ctx, input);
    const sameProject = targetProject.id === ctx.project.id;
    return inMacroTransaction(ctx, async (tx) => {
      const now = new Date();
      const approve = async () => isoTsOrNull(await upsertApproval(tx.db, requester, target, linkExpiry(now, input.ttl_seconds), now));
      if (input.auto_accept && sameProject && !welcome) {
        authenticateAgent(tx, target, input.target_registration_token, { action: `${ACTION} with auto_accept`, tokenParam: "target_registration_token" });
        const link = { from: requester.name, from_project: ctx.project.humanKey, to: target.name, to_project: targetProject.humanKey, status: "approved", expires_ts: await approve() };
        return { request: link, response: link, welcome_message: null };
      }
      const request = await fileContactRequest(tx, { from: requester, fromProject: ctx.project, to: target, toProject: targetProject, reason: input.reason, ttlSeconds: input.ttl_seconds });
      let approved = request.status === "approved";
      let response: Response | null = null;
      let response_error: StepError | undefined;
      if (input.auto_accept && !approved) {
        response_error = targetAuthenticated(tx, target, input.target_registration_token) ?? undefined;
        if (!response_error) {
          response = { from: requester.name, to: target.name, approved: true, expires_ts: await approve(), updated: 1 };
          approved = true;
        }
      }
      if (!welcome) return { request, response, welcome_message: null, ...(response_error ? { response_error } : {}) };
      if (!approved) {
        const welcome_error: StepError = { type: "CONTACT_APPROVAL_REQUIRED", message: `The welcome was not sent: ${target.name} has not approved contact from ${requester.name}.` };
        return { request, response, welcome_message: null, ...(response_error ? { response_error } : {}), welcome_error };
      }
      const welcome_message = await invoke(sendMessage, tx, {
        project_key: ctx.project.humanKey,
        sender_name: requester.name,
        sender_token: input.requester_registration_token,
        to: [sameProject ? target.name : `${target.name}@${targetProject.slug}`],
        subject: welcome.subject,
        body_md: welcome.body,
        thread_id: input.thread_id,
      });
      return { request, response, welcome_message, ...(response_error ? { response_error } : {}) };
    });
  },
});
