import type { Agent } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import { authenticateAgent, requireAgent } from "../agents/authenticate";
import { hashToken } from "../agents/tokens";
import type { ProjectContext } from "../context";

// Lifecycle operations need the admin role (upstream lets the agent itself do them); the role is
// what authorises them, so an admin without the agent's token (a dead agent's, say) can still act.
// A token that is given is still checked, so a client passing the wrong one hears about it.

/** The agent a lifecycle operation acts on; `token`, when given, must be that agent's. */
export async function lifecycleTarget(ctx: ProjectContext, name: string, token: string | undefined, action: string): Promise<Agent> {
  const agent = await requireAgent(ctx.db, ctx.project, name);
  if (token) authenticateAgent(ctx, agent, token, { action, tokenParam: "registration_token" });
  return agent;
}

/** Project-wide lifecycle: a token, when given, must belong to some agent of the project. */
export async function checkProjectToken(ctx: ProjectContext, token: string | undefined): Promise<void> {
  if (!token) return;
  // Looked up by its hash: only hashes are stored, and a hash reveals nothing to time.
  const holder = await ctx.db.agent.findFirst({ where: { projectId: ctx.project.id, registrationTokenHash: hashToken(token) }, select: { id: true } });
  if (!holder) {
    throw new AppError("AUTHENTICATION_REQUIRED", `Invalid registration_token for project '${ctx.project.slug}'.`, { field: "registration_token" });
  }
}
