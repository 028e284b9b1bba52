import type { Agent, Product, Project } from "@/generated/prisma/client";
import { canAccessProject } from "@/server/auth/actor";
import { AppError, quote } from "@/server/errors";
import type { ServiceContext } from "../context";
import { authenticateAgent } from "../agents/authenticate";

// Upstream's rule for product reads: the agent is authenticated in every linked project that has
// an agent of that name whose token (or, here, a credential bound to it) matches, and at least one
// must succeed. Tokens are per agent and project, so one token usually opens one seat. A read then
// covers every linked project through the eyes of the authenticated agents: a message is seen when
// one of them sent or received it, which includes what they sent to the other projects' agents.

export interface ProductSeat {
  project: Project;
  agent: Agent;
}

export interface ProductAccess {
  /** The linked projects within the actor's scopes. */
  projects: Project[];
  /** The agents the caller proved to be (at least one). */
  seats: ProductSeat[];
}

export async function productAccess(
  ctx: ServiceContext,
  product: Product,
  request: { action: string; name: string | null | undefined; token: string | null | undefined },
): Promise<ProductAccess> {
  const links = await ctx.db.productProjectLink.findMany({ where: { productId: product.id }, include: { project: true }, orderBy: { projectId: "asc" } });
  const projects = links.map((link) => link.project).filter((project) => canAccessProject(ctx.actor, project));
  const bound = ctx.actor.agent;
  const name = request.name?.trim() || (bound && projects.some((project) => project.id === bound.projectId) ? bound.name : undefined);
  if (!name) {
    throw new AppError("AUTHENTICATION_REQUIRED", `${request.action} requires agent_name and registration_token: results only cover what that agent may see.`, {
      field: "agent_name",
    });
  }
  const seats: ProductSeat[] = [];
  let refusal: AppError | undefined;
  const named = await ctx.db.agent.findMany({ where: { projectId: { in: projects.map((project) => project.id) }, nameKey: name.toLowerCase() } });
  for (const project of projects) {
    const agent = named.find((candidate) => candidate.projectId === project.id);
    if (!agent) continue;
    try {
      authenticateAgent(ctx, agent, request.token, { action: request.action, tokenParam: "registration_token" });
      seats.push({ project, agent });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      refusal ??= error;
    }
  }
  if (seats.length) return { projects, seats };
  if (refusal) throw refusal;
  throw new AppError("NOT_FOUND", `Agent '${quote(name)}' not found in any project linked to product '${quote(product.name)}'.`, { field: "agent_name" });
}
