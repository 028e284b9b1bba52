import { randomBytes } from "node:crypto";
import type { User } from "@/generated/prisma/client";
import { hashPassword, verifyPassword } from "@/server/auth/passwords";
import { sha256 } from "@/server/auth/tokens";
import type { Db } from "@/server/db/client";
import { AppError } from "@/server/errors";
import { isoTs, isoTsOrNull } from "../format";

// Dashboard users: created by an admin (tRPC `users.create`, `mailroom user create`) or, on a
// server with none yet, through a one-time setup link printed at start. Passwords are scrypt
// hashes (src/server/auth/passwords.ts); a user without one signs in through OIDC only.

/** How long a printed setup link works. */
export const SETUP_LINK_TTL_MS = 24 * 3600_000;
/** First key of the advisory lock that serialises first-admin creation (no two first admins). */
const SETUP_LOCK_CLASS = 0x5345_5455; // "SETU"

export interface NewUser {
  email: string;
  name: string;
  password?: string;
  role: string;
  projects?: string[];
}

export function userView(user: User) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    projects: user.projectScopes.length ? user.projectScopes : null,
    created_at: isoTs(user.createdAt),
    last_login_at: isoTsOrNull(user.lastLoginAt),
    disabled_at: isoTsOrNull(user.disabledAt),
  };
}

export async function createUser(db: Db, input: NewUser): Promise<User> {
  const existing = await db.user.findUnique({ where: { email: input.email }, select: { id: true } });
  if (existing) throw new AppError("CONFLICT", `A user with email '${input.email}' already exists.`, { field: "email" });
  const passwordHash = input.password ? await hashPassword(input.password) : "";
  return db.user.create({ data: { email: input.email, name: input.name, passwordHash, role: input.role, projectScopes: input.projects ?? [] } });
}

/**
 * The user these credentials prove, or null. The same scrypt work is done for an unknown email,
 * a disabled user and a wrong password, so the answer's timing tells nothing.
 */
export async function authenticateUser(db: Db, email: string, password: string): Promise<User | null> {
  const user = await db.user.findUnique({ where: { email: email.trim().toLowerCase() } });
  const valid = await verifyPassword(password, user?.passwordHash);
  if (!user || !valid || user.disabledAt) return null;
  return db.user.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } });
}

/**
 * A one-time link's secret for creating the first admin, or undefined once any user exists.
 * Each start of a server without users prints a new one; all of them stop working once the
 * first admin exists.
 */
export async function createSetupLink(db: Db): Promise<string | undefined> {
  if ((await db.user.count()) > 0) return undefined;
  const token = randomBytes(24).toString("base64url");
  await db.setupLink.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  await db.setupLink.create({ data: { tokenHash: sha256(token), expiresAt: new Date(Date.now() + SETUP_LINK_TTL_MS) } });
  return token;
}

/** Creates the first admin with a setup link's secret; refused once any user exists. */
export async function completeSetup(db: Db, token: string, input: Omit<NewUser, "role" | "projects">): Promise<User> {
  const passwordHash = await hashPassword(input.password ?? "");
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SETUP_LOCK_CLASS}::int, 0)`;
    const link = await tx.setupLink.findUnique({ where: { tokenHash: sha256(token) } });
    if (!link || link.expiresAt < new Date() || (await tx.user.count()) > 0) {
      throw new AppError("AUTHENTICATION_REQUIRED", "This setup link is not valid: it has expired or been used, or an admin already exists. Ask an admin for an account, or run `mailroom user create`.", { field: "token" });
    }
    await tx.setupLink.deleteMany({});
    return tx.user.create({ data: { email: input.email, name: input.name, passwordHash, role: "admin" } });
  });
}
