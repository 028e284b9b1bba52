import { z } from "zod";
import { TOKEN_ROLES } from "@/server/auth/jwt";
import { agentName, projectKey } from "./common";

// Contracts of the API token operations (src/server/services/tokens): bearer tokens minted with
// JWT_SECRET for agents and tools, listed without their secret, revoked by jti.

const MAX_TOKEN_LIFETIME_S = 5 * 365 * 86_400;
const DEFAULT_TOKEN_LIFETIME_S = 90 * 86_400;

export const tokenRoles = z.array(z.enum(TOKEN_ROLES)).min(1).max(3).describe("reader, writer and/or admin.");

export const createTokenInput = z.strictObject({
  name: z.string().trim().min(1).max(100).describe("Who or what the token is for; its `sub` claim."),
  roles: tokenRoles,
  projects: z.array(projectKey).min(1).max(100).optional().describe("Project slugs or human keys it may touch; omitted: all."),
  agent: z.strictObject({ project: projectKey, name: agentName }).optional().describe("The agent the token proves."),
  expires_in_seconds: z.number().int().min(60).max(MAX_TOKEN_LIFETIME_S).default(DEFAULT_TOKEN_LIFETIME_S).describe("Lifetime (default 90 days, at most 5 years)."),
});

export const createTokenOutput = z.object({
  id: z.number().int(),
  jti: z.string(),
  token: z.string().describe("Shown once: Mailroom keeps only its sha256."),
  expires_at: z.string().nullable(),
});

export const listTokensInput = z.strictObject({
  include_revoked: z.boolean().default(false),
  limit: z.number().int().min(1).max(500).default(100),
});

export const tokenView = z.object({
  id: z.number().int(),
  name: z.string(),
  jti: z.string().nullable(),
  roles: z.array(z.string()),
  projects: z.array(z.string()).nullable(),
  agent: z.object({ project: z.string(), name: z.string() }).nullable(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});

export const listTokensOutput = z.object({ tokens: z.array(tokenView) });

export const revokeTokenInput = z.strictObject({
  jti: z.string().trim().min(1).max(200).describe("The token's jti (from the list, or from a token minted elsewhere)."),
});

export const revokeTokenOutput = z.object({
  jti: z.string(),
  revoked_at: z.string(),
  /** Whether Mailroom minted it (false: a token minted elsewhere, now refused too). */
  minted_here: z.boolean(),
});
