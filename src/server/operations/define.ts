import type { z } from "zod";
import type { Role } from "@/server/auth/actor";
import type { AgentContext, ProjectContext, ServiceContext } from "@/server/services/context";

// An operation is the one definition of something a caller can do: its contract (zod input and
// output), who may do it (permission), where it acts (scope) and what it does (handler). MCP
// tools, MCP resources, tRPC procedures and the CLI are all derived from the registry of
// operations (./registry.ts); none of them declares a permission or resolves a project itself.

export type Permission = Role;

/**
 * global: no project; project: one project, resolved from an input field and checked against the
 * actor's project scopes; agent: additionally one of the project's agents, authenticated by its
 * token (or a credential bound to it) before the handler runs.
 */
export type Scope = "global" | "project" | "agent";

/** query: reads only (MCP readOnlyHint, tRPC query); mutation: may write (tRPC mutation). */
export type Kind = "query" | "mutation";

export type ContextFor<S extends Scope> = S extends "agent" ? AgentContext : S extends "project" ? ProjectContext : ServiceContext;

/** The input fields a scoped operation reads its project, agent and token from. */
export interface ScopeFields<I> {
  /** Default `project_key`. */
  project?: keyof I & string;
  /** Default `agent_name`. */
  agent?: keyof I & string;
  /** Default `registration_token`; named in every authentication error. */
  token?: keyof I & string;
  /**
   * Viewer operations may omit the agent's name when the caller's credential is bound to an agent
   * of the project; without either they fail naming the agent and token fields.
   */
  agentOptional?: boolean;
}

/** The reference's tool clusters (§2.1): what tool profiles and the tooling directory group tools by. */
export const TOOL_CLUSTERS = [
  "infrastructure",
  "identity",
  "messaging",
  "contact",
  "search",
  "file_reservations",
  "workflow_macros",
  "build_slots",
  "product_bus",
] as const;
export type ToolCluster = (typeof TOOL_CLUSTERS)[number];

export interface ToolSurface {
  /** "core" tools are the ones a token-conscious client gets with the core profile. */
  profile: "core" | "extended";
  /** Default: the reference's cluster for a tool of this name (src/mcp/clusters.ts). */
  cluster?: ToolCluster;
  title: string;
  /** Repeating the call with the same arguments changes nothing more (MCP idempotentHint). */
  idempotent?: boolean;
  /** The call may delete or overwrite data (MCP destructiveHint). */
  destructive?: boolean;
}

export interface Operation<I extends z.ZodType = z.ZodType, O = unknown, K extends Kind = Kind, S extends Scope = Scope> {
  /** Unique; the MCP tool name for tools, `resource://<name>` for resources. */
  name: string;
  description: string;
  input: I;
  /** The result's contract: checked against real results by the contract tests. */
  output: z.ZodType;
  permission: Permission;
  /**
   * Acts on the whole server rather than within projects (tokens, users): the caller's credential
   * must reach every project, so that a project-scoped admin cannot mint or manage credentials
   * that reach beyond its own projects.
   */
  serverWide?: boolean;
  kind: K;
  scope: S;
  fields?: ScopeFields<z.output<I>>;
  /** Served as an MCP tool named `name`. */
  tool?: ToolSurface;
  /** Served as an MCP resource: `resource://…` with `{field}` placeholders; query parameters are input fields too. */
  resource?: string;
  /** Placeholders of `resource` that fill an input field of another name ({slug} → project_key). */
  resourceFields?: Record<string, keyof z.output<I> & string>;
  // Method syntax on purpose: it lets differently-typed operations share one array type.
  handler(ctx: ContextFor<S>, input: z.output<I>): Promise<O> | O;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds operations of every input and output type
export type AnyOperation = Operation<any, any, Kind, Scope>;

/** Identity function that ties each operation's input, scope and handler types together. */
export function defineOperation<I extends z.ZodType, O, K extends Kind, S extends Scope>(operation: Operation<I, O, K, S>): Operation<I, O, K, S> {
  return operation;
}

export function isOperation(value: unknown): value is AnyOperation {
  return typeof value === "object" && value !== null && "handler" in value && "permission" in value && "input" in value;
}
