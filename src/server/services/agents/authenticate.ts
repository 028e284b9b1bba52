import type { Agent, Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import type { Prisma } from "@/server/db/client";
import type { ServiceContext } from "../context";
import { didYouMean, suggest } from "../similarity";
import { tokenMatches } from "./tokens";

export async function findAgent(db: Prisma, project: Project, name: string): Promise<Agent | null> {
  return db.agent.findUnique({ where: { projectId_nameKey: { projectId: project.id, nameKey: name.trim().toLowerCase() } } });
}

export async function requireAgent(db: Prisma, project: Project, name: string): Promise<Agent> {
  const agent = await findAgent(db, project, name);
  if (agent) return agent;
  const names = await db.agent.findMany({ where: { projectId: project.id }, select: { name: true }, take: 1000 });
  const hint = didYouMean(suggest(name, names.map((n) => n.name)));
  throw new AppError(
    "NOT_FOUND",
    `Agent '${name.trim()}' not found in project '${project.slug}'. Register it with register_agent.${hint}`,
    { field: "agent_name" },
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
      `${action} requires ${tokenParam} for agent '${agent.name}', unless this MCP session has already authenticated as that agent.`,
      { field: tokenParam },
    );
  }
  if (!tokenMatches(token, agent.registrationTokenHash)) {
    throw new AppError("AUTHENTICATION_REQUIRED", `Invalid ${tokenParam} for agent '${agent.name}'.`, { field: tokenParam });
  }
}
