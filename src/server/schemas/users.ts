import { z } from "zod";
import { TOKEN_ROLES } from "@/server/auth/jwt";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "@/server/auth/passwords";
import { projectKey } from "./common";

// Contracts of the dashboard's user accounts (src/server/services/users): people who sign in
// with a password (or through OIDC), each with one role and optional project scopes.

export const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ error: "must be an email address" }))
  .describe("The user's email address: what they sign in with.");

export const password = z
  .string()
  .min(PASSWORD_MIN_LENGTH, { error: `must be at least ${PASSWORD_MIN_LENGTH} characters` })
  .max(PASSWORD_MAX_LENGTH)
  .describe(`At least ${PASSWORD_MIN_LENGTH} characters.`);

export const userRole = z.enum(TOKEN_ROLES).describe("reader, writer or admin.");

export const createUserInput = z.strictObject({
  email,
  name: z.string().trim().max(100).default(""),
  password: password.optional().describe("Omitted: the user signs in through OIDC only."),
  role: userRole.default("reader"),
  projects: z.array(projectKey).min(1).max(100).optional().describe("Project slugs or human keys the user may see; omitted: all."),
});

export const userView = z.object({
  id: z.number().int(),
  email: z.string(),
  name: z.string(),
  role: z.string(),
  projects: z.array(z.string()).nullable(),
  created_at: z.string(),
  last_login_at: z.string().nullable(),
  disabled_at: z.string().nullable(),
});

export const listUsersInput = z.strictObject({
  include_disabled: z.boolean().default(false),
  limit: z.number().int().min(1).max(500).default(100),
});

export const listUsersOutput = z.object({ users: z.array(userView) });

export const setUserDisabledInput = z.strictObject({
  email,
  disabled: z.boolean().default(true).describe("false enables the user again."),
});

/** POST /api/setup: the first admin, created with the one-time link printed at first start. */
export const setupInput = z.strictObject({
  token: z.string().trim().min(20).max(200),
  email,
  name: z.string().trim().max(100).default(""),
  password,
});
