import type { Agent, Project } from "@/generated/prisma/client";
import { AppError, quote } from "@/server/errors";
import type { Db } from "@/server/db/client";
import type { ProjectContext, ServiceContext } from "../context";
import { didYouMean, suggest } from "../similarity";
import { tokenMatches } from "./tokens";

export async function findAgent(db: Db, project: Project, name: string): Promise<Agent | null> {
  return db.agent.findUnique({ where: { projectId_nameKey: { projectId: project.id, nameKey: name.trim().toLowerCase() } } });
}

export async function requireAgent(db: Db, project: Project, name: string, field = "agent_name"): Promise<Agent> {
  const agent = await findAgent(db, project, name);
  if (agent) return agent;
  const names = await db.agent.findMany({ where: { projectId: project.id }, select: { name: true }, take: 1000 });
  const hint = didYouMean(suggest(name, names.map((n) => n.name)));
  throw new AppError(
    "NOT_FOUND",
    `Agent '${quote(name.trim())}' not found in project '${project.slug}'. Register it with register_agent.${hint}`,
    { field },
  );
}

export interface AuthenticateOptions {
  /** What the caller is trying to do, for the error text ("whois", "send_message", …). */
  action: string;
  /** The argument that carries the token on this tool (registration_token, sender_token, …). */
  tokenParam: string;
}

/**
 * Proves the caller is `agent`: a credential bound to that agent, or its registration token.
 * The phrases match mcp_agent_mail's, which clients look for.
 */
export function authenticateAgent(
  ctx: ServiceContext,
  agent: Agent,
  token: string | null | undefined,
  { action, tokenParam }: AuthenticateOptions,
): void {
  if (ctx.actor.agent?.id === agent.id) return;
  if (!agent.registrationTokenHash) {
    throw new AppError(
      "AUTHENTICATION_REQUIRED",
      `Agent '${agent.name}' does not have a registration token; re-register it to mint one.`,
      { field: tokenParam },
    );
  }
  if (!token) {
    throw new AppError(
      "AUTHENTICATION_REQUIRED",
      `${action} requires ${tokenParam} for agent '${agent.name}': pass the token register_agent returned on every call (this server keeps no sessions).`,
      { field: tokenParam },
    );
  }
  if (!tokenMatches(token, agent.registrationTokenHash)) {
    throw new AppError("AUTHENTICATION_REQUIRED", `Invalid ${tokenParam} for agent '${agent.name}'.`, { field: tokenParam });
  }
}

export interface ActingAgentRequest {
  /** The operation, for the error text ("fetch_inbox requires registration_token …"). */
  action: string;
  name: string | null | undefined;
  /** The agent called `name`, when the caller already read it (null: there is none). */
  named?: Agent | null;
  token: string | null | undefined;
  /** The input fields the name and token came in, named in every error. */
  nameField: string;
  tokenField: string;
  /** The name may be omitted when the credential is bound to an agent of the project. */
  optional: boolean;
}

/** The agent an agent-scoped operation acts as, proven by its token or a credential bound to it. */
export async function actingAgent(ctx: ProjectContext, request: ActingAgentRequest): Promise<Agent> {
  const name = request.name?.trim();
  if (!name) {
    const bound = ctx.actor.agent;
    if (request.optional && bound && bound.projectId === ctx.project.id) return requireAgent(ctx.db, ctx.project, bound.name, request.nameField);
    throw new AppError(
      "AUTHENTICATION_REQUIRED",
      `${request.action} requires ${request.nameField} and ${request.tokenField}: results only cover what that agent may see.`,
      { field: request.nameField },
    );
  }
  const agent = request.named ?? (await requireAgent(ctx.db, ctx.project, name, request.nameField));
  authenticateAgent(ctx, agent, request.token, { action: request.action, tokenParam: request.tokenField });
  return agent;
}
