import { mintToken } from "@/server/auth/tokens";
import { AppError, quote } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import {
  createTokenInput,
  createTokenOutput,
  listTokensInput,
  listTokensOutput,
  revokeTokenInput,
  revokeTokenOutput,
} from "@/server/schemas/tokens";
import { findAgent } from "../agents/authenticate";
import { isoTs, isoTsOrNull } from "../format";
import { resolveProject } from "../projects/projects";

// API tokens for the dashboard's admin page and the CLI (tRPC only, admin role): create (shown
// once), list, revoke. The tokens themselves are JWTs (src/server/auth/tokens.ts).

export const createToken = defineOperation({
  name: "create_token",
  description: "Mint a bearer token (HS256 with JWT_SECRET) with roles, optional project scopes, a bound agent and an expiry. The token is shown once.",
  input: createTokenInput,
  output: createTokenOutput,
  permission: "admin",
  serverWide: true,
  kind: "mutation",
  scope: "global",
  async handler(ctx, input) {
    let agent: { project: string; name: string; id: number } | undefined;
    if (input.agent) {
      const project = await resolveProject(ctx, input.agent.project, "agent.project");
      const found = await findAgent(ctx.db, project, input.agent.name);
      if (!found) throw new AppError("NOT_FOUND", `Agent '${quote(input.agent.name)}' not found in project '${project.slug}'.`, { field: "agent.name" });
      agent = { project: project.slug, name: found.name, id: found.id };
      // A token could never prove an agent outside its own projects: refuse it now.
      if (input.projects && !input.projects.some((key) => key === project.slug || key === project.humanKey)) {
        throw new AppError("INVALID_ARGUMENT", `The agent's project '${project.slug}' must be one of the token's projects.`, { field: "agent.project" });
      }
    }
    // A token never mints one that outlives it (as register_agent's bearer_token): a short-lived
    // credential that leaked cannot be turned into a lasting one. A signed-in user's account
    // outlives their session, so their tokens take the lifetime asked for.
    let expiresInSeconds = input.expires_in_seconds;
    if (ctx.actor.kind === "token" && ctx.actor.expiresAt !== undefined) {
      expiresInSeconds = Math.max(1, Math.min(expiresInSeconds, ctx.actor.expiresAt - Math.floor(Date.now() / 1000)));
    }
    return mintToken(ctx.db, ctx.config.auth, { name: input.name, roles: input.roles, projects: input.projects, agent, expiresInSeconds, userId: ctx.actor.userId });
  },
});

export const listTokens = defineOperation({
  name: "list_tokens",
  description: "API tokens, newest first, without their secret.",
  input: listTokensInput,
  output: listTokensOutput,
  permission: "admin",
  serverWide: true,
  kind: "query",
  scope: "global",
  async handler(ctx, input) {
    const rows = await ctx.db.apiToken.findMany({
      where: input.include_revoked ? {} : { revokedAt: null },
      orderBy: { id: "desc" },
      take: input.limit,
      include: { agent: { select: { name: true, project: { select: { slug: true } } } } },
    });
    return {
      tokens: rows.map((row) => ({
        id: row.id,
        name: row.name,
        jti: row.jti,
        roles: row.roles,
        projects: row.projectScopes.length ? row.projectScopes : null,
        agent: row.agent ? { project: row.agent.project.slug, name: row.agent.name } : null,
        created_at: isoTs(row.createdAt),
        expires_at: isoTsOrNull(row.expiresAt),
        revoked_at: isoTsOrNull(row.revokedAt),
      })),
    };
  },
});

export const revokeToken = defineOperation({
  name: "revoke_token",
  description: "Revoke a token by its jti, minted here or elsewhere; every instance refuses it within a second.",
  input: revokeTokenInput,
  output: revokeTokenOutput,
  permission: "admin",
  serverWide: true,
  kind: "mutation",
  scope: "global",
  async handler(ctx, input) {
    const existing = await ctx.db.apiToken.findUnique({ where: { jti: input.jti }, select: { tokenHash: true, revokedAt: true } });
    const row = await ctx.db.apiToken.upsert({
      where: { jti: input.jti },
      // Revoking twice keeps the first time.
      update: existing?.revokedAt ? {} : { revokedAt: new Date() },
      create: { jti: input.jti, name: "(minted elsewhere)", roles: [], projectScopes: [], revokedAt: new Date() },
      select: { revokedAt: true, tokenHash: true },
    });
    return { jti: input.jti, revoked_at: isoTs(row.revokedAt!), minted_here: row.tokenHash !== null };
  },
});

export const tokenOperations = { create: createToken, list: listTokens, revoke: revokeToken } as const;
