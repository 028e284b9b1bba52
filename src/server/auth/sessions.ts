import { decode } from "next-auth/jwt";
import type { User } from "@/generated/prisma/client";
import type { Db } from "@/server/db/client";
import { AppError } from "@/server/errors";
import type { Actor, Role } from "./actor";
import type { AuthConfig } from "./config";

// Dashboard sessions are next-auth's: a JWT session (stateless, so any instance reads it) in an
// encrypted cookie. Every request that carries one is checked against the user's row (through a
// cache of USER_CACHE_MS): a disabled user is refused on every instance within that.

/**
 * The session cookie's name: next-auth's `__Secure-` one when the server is reached over https
 * (PUBLIC_URL). Only that name is read: a cookie planted under the other name (from a sibling
 * subdomain, say) cannot sign the browser in as someone else.
 */
export function sessionCookieName(auth: Pick<AuthConfig, "secureCookies">): string {
  return auth.secureCookies ? "__Secure-next-auth.session-token" : "next-auth.session-token";
}
export const USER_CACHE_MS = 1_000;
export const DEFAULT_SESSION_MAX_AGE_S = 12 * 3600;
const CACHE_LIMIT = 10_000;
const ROLE_OF: Record<string, Role> = { reader: "read", writer: "write", admin: "admin" };

/** The named cookie's value from a Cookie header, or undefined. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}


export function userActor(user: Pick<User, "id" | "role" | "projectScopes">): Actor {
  const role = ROLE_OF[user.role] ?? "read";
  return { principal: `user:${user.id}`, kind: "user", userId: user.id, roles: new Set<Role>([role]), projectScopes: user.projectScopes.length ? user.projectScopes : "*" };
}

function sessionEnded(message: string): AppError {
  return new AppError("AUTHENTICATION_REQUIRED", message, { field: "session" });
}

type UserRow = Pick<User, "id" | "role" | "projectScopes" | "disabledAt">;

/** Turns a session cookie into the Actor of its user; throws AUTHENTICATION_REQUIRED when it no longer holds. */
export function createSessionReader(auth: AuthConfig): (cookie: string, db: Db) => Promise<Actor> {
  const users = new Map<number, { row: UserRow | null; until: number }>();
  return async (cookie, db) => {
    if (!auth.sessionSecret) throw sessionEnded("Dashboard sessions are not configured on this server.");
    let payload: Awaited<ReturnType<typeof decode>> = null;
    try {
      payload = await decode({ token: cookie, secret: auth.sessionSecret });
    } catch {
      // A cookie from another secret, tampered with or cut short reads as no session.
    }
    const uid = payload?.uid;
    if (typeof uid !== "number" || !Number.isSafeInteger(uid)) throw sessionEnded("Your session is not valid or has expired: sign in again.");
    // next-auth renews the cookie while the dashboard is open; a sign-in still ends this long after it was made.
    const signedInAt = payload?.signedInAt;
    if (typeof signedInAt !== "number" || Date.now() / 1000 - signedInAt > (auth.sessionMaxAgeSeconds ?? DEFAULT_SESSION_MAX_AGE_S)) {
      throw sessionEnded("Your session is not valid or has expired: sign in again.");
    }
    const now = Date.now();
    let cached = users.get(uid);
    if (!cached || cached.until <= now) {
      const row = await db.user.findUnique({ where: { id: uid }, select: { id: true, role: true, projectScopes: true, disabledAt: true } });
      if (users.size >= CACHE_LIMIT) users.clear();
      cached = { row, until: now + USER_CACHE_MS };
      users.set(uid, cached);
    }
    if (!cached.row || cached.row.disabledAt) throw sessionEnded("Your account has been disabled or removed: ask an admin.");
    return { ...userActor(cached.row), expiresAt: typeof payload?.exp === "number" ? payload.exp : undefined };
  };
}
