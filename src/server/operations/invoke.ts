import { z } from "zod";
import { hasRole } from "@/server/auth/actor";
import { limitClassOf } from "@/server/auth/rate-limits";
import { AppError, quote } from "@/server/errors";
import { actingAgent } from "@/server/services/agents/authenticate";
import type { ServiceContext } from "@/server/services/context";
import { resolveProject, resolveScope } from "@/server/services/projects/projects";
import type { AnyOperation, ContextFor, Operation, Scope } from "./define";

// The one path every call takes, whatever surface it came through: permission, input, scope,
// handler. A surface adds nothing to it but its own framing of results and errors.

const MAX_ISSUES = 5;

/** `field: rule` for each problem, so the caller sees which argument broke which rule. */
export function describeIssues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  const shown = error.issues.slice(0, MAX_ISSUES).map((issue) => {
    const field = issue.path.length ? quote(issue.path.map(String).join(".")) : "(arguments)";
    return `${field}: ${quote(issue.message)}`;
  });
  const more = error.issues.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

/** The operation's permission, checked before anything about the input is looked at. */
function authorize(operation: AnyOperation, ctx: ServiceContext): void {
  if (!hasRole(ctx.actor, operation.permission)) {
    throw new AppError("FORBIDDEN", `${operation.name} needs the ${operation.permission} role.`);
  }
  if (operation.serverWide && ctx.actor.projectScopes !== "*") {
    throw new AppError("FORBIDDEN", `${operation.name} needs a credential for every project: this one is limited to its projects claim.`);
  }
}

/** No contract nests this deep; deeper input is refused before anything recurses into it. */
export const MAX_INPUT_DEPTH = 32;
/** A UTF-16 surrogate without its other half. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Postgres text cannot hold U+0000, nor a lone UTF-16 surrogate (no UTF-8 encoding exists: the
 * embedded database fails on it, Postgres silently stores U+FFFD): either is refused up front,
 * naming where, instead of failing inside the database. Walks at most `budget.left` values and
 * MAX_INPUT_DEPTH levels (bodies are size-capped, but 20 KB of brackets would overflow the stack).
 */
function rejectNul(value: unknown, path: string, budget: { left: number }, depth = 0): void {
  if (budget.left-- <= 0) return;
  if (typeof value === "string") {
    if (value.includes("\u0000")) {
      throw new AppError("INVALID_ARGUMENT", `${quote(path || "(arguments)")}: must not contain the NUL character (U+0000).`, { field: path });
    }
    if (LONE_SURROGATE.test(value)) {
      throw new AppError("INVALID_ARGUMENT", `${quote(path || "(arguments)")}: must be valid Unicode (it holds a lone surrogate, e.g. an unpaired \\uD800–\\uDFFF escape).`, { field: path });
    }
    return;
  }
  if (value === null || typeof value !== "object") return;
  if (depth >= MAX_INPUT_DEPTH) {
    throw new AppError("INVALID_ARGUMENT", `${quote(path || "(arguments)")}: nested more than ${MAX_INPUT_DEPTH} levels deep.`, { field: path });
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => rejectNul(item, `${path}[${index}]`, budget, depth + 1));
  } else {
    for (const [key, item] of Object.entries(value)) {
      rejectNul(key, path ? `${path}.(key)` : "(key)", budget, depth + 1);
      rejectNul(item, path ? `${path}.${key}` : key, budget, depth + 1);
    }
  }
}

/** Parses caller input with `schema`; INVALID_ARGUMENT names each field and the rule it broke. */
export function parseArguments<I extends z.ZodType>(schema: I, raw: unknown, what: string): z.output<I> {
  rejectNul(raw, "", { left: 100_000 });
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    const first = parsed.error.issues[0]?.path.map(String).join(".");
    throw new AppError("INVALID_ARGUMENT", `Invalid arguments for ${what}: ${describeIssues(parsed.error)}`, first ? { field: first } : undefined);
  }
  return parsed.data;
}

/** Resolves the project (within the actor's scopes) and the acting agent the operation's scope needs. */
async function enterScope<S extends Scope>(operation: AnyOperation, ctx: ServiceContext, input: Record<string, unknown>): Promise<ContextFor<S>> {
  if (operation.scope === "global") return ctx as ContextFor<S>;
  const fields = operation.fields ?? {};
  const projectField = fields.project ?? "project_key";
  if (operation.scope === "project") {
    const project = await resolveProject(ctx, input[projectField] as string, projectField);
    return { ...ctx, project } as ContextFor<S>;
  }
  const name = input[fields.agent ?? "agent_name"] as string | null | undefined;
  const { project, agent: named } = await resolveScope(ctx, input[projectField] as string, projectField, name ?? null);
  const agent = await actingAgent({ ...ctx, project }, {
    action: operation.name,
    name,
    named,
    token: input[fields.token ?? "registration_token"] as string | null | undefined,
    nameField: fields.agent ?? "agent_name",
    tokenField: fields.token ?? "registration_token",
    optional: fields.agentOptional ?? false,
  });
  return { ...ctx, project, agent } as ContextFor<S>;
}

/** Calls an operation as `ctx.actor`: permission, rate limit, then input, then scope, then the handler. */
export async function invoke<I extends z.ZodType, O, S extends Scope>(operation: Operation<I, O, "query" | "mutation", S>, ctx: ServiceContext, raw?: unknown): Promise<O> {
  authorize(operation, ctx);
  // Local mode's one principal (the machine's operator) is not limited.
  if (ctx.limits && ctx.actor.kind !== "local") await ctx.limits.consume(limitClassOf(operation), ctx.actor.principal);
  const input = parseArguments(operation.input, raw, operation.name);
  const scoped = await enterScope<S>(operation, ctx, input as Record<string, unknown>);
  return operation.handler(scoped, input);
}
