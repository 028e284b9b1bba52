// Who is calling. Every surface turns its request into an Actor through resolveActor (see
// ./resolve-actor.ts) and every service receives it in its context.

export type Role = "read" | "write" | "admin";

export interface Actor {
  /** Stable label for logs and audit: "local", "user:3", "token:7", … */
  principal: string;
  kind: "local" | "user" | "token";
  roles: ReadonlySet<Role>;
  /** Slugs or human keys of the projects this actor may touch; "*" means all. */
  projectScopes: "*" | readonly string[];
  /** Set when the credential itself is bound to one agent (it then proves that agent's identity). */
  agent?: { id: number; projectId: number; name: string };
  /** The dashboard user signed in (kind "user"): tokens they create are theirs, and end with their account. */
  userId?: number;
  /** When the credential expires (seconds since the epoch); tokens minted for it never outlive it. */
  expiresAt?: number;
}

export function hasRole(actor: Actor, role: Role): boolean {
  if (actor.roles.has("admin")) return true;
  if (role === "read") return actor.roles.has("read") || actor.roles.has("write");
  return actor.roles.has(role);
}

export function canAccessProject(actor: Actor, project: { slug: string; humanKey: string }): boolean {
  return actor.projectScopes === "*" || actor.projectScopes.includes(project.slug) || actor.projectScopes.includes(project.humanKey);
}

/** The operator of a local, single-user install: everything is allowed. */
export const LOCAL_OPERATOR: Actor = {
  principal: "local",
  kind: "local",
  roles: new Set<Role>(["read", "write", "admin"]),
  projectScopes: "*",
};
