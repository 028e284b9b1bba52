import type { Actor, Role } from "@/server/auth/actor";

// Callers of every kind, for tests that call as someone other than the local operator. A test
// server resolves the actor from the X-Test-Role header (see startTestServer's resolveActor).

export const ROLE_NAMES = ["none", "reader", "writer", "admin"] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

const ROLES: Record<RoleName, Role[]> = { none: [], reader: ["read"], writer: ["write"], admin: ["admin"] };

export function actorFor(role: RoleName, projectScopes: Actor["projectScopes"] = "*"): Actor {
  return { principal: `test:${role}`, kind: "token", roles: new Set(ROLES[role]), projectScopes };
}

export const ROLE_HEADER = "x-test-role";

/** resolveActor for a test server: the role named by the X-Test-Role header (none when absent). */
export async function actorFromTestHeader(request: Request): Promise<Actor> {
  const role = (request.headers.get(ROLE_HEADER) ?? "none") as RoleName;
  return actorFor(ROLE_NAMES.includes(role) ? role : "none");
}
