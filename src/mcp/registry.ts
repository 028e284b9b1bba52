import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Role } from "@/server/auth/actor";
import type { ServiceContext } from "@/server/services/context";

// The single registry every MCP tool and resource comes from. A definition cannot exist without
// declaring the role it needs; the MCP server checks it before the input is even parsed.

export type Permission = Role;

export interface ToolDefinition<S extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  input: S;
  permission: Permission;
  annotations: ToolAnnotations;
  /** "core" tools are the ones a token-conscious client gets with the core profile. */
  profile: "core" | "extended";
  // Method syntax on purpose: it lets a list of differently-typed tools share one array type.
  handler(ctx: ServiceContext, input: z.output<S>): Promise<unknown> | unknown;
}

/** Identity function that keeps each tool's input type tied to its handler. */
export function defineTool<S extends z.ZodObject>(definition: ToolDefinition<S>): ToolDefinition<S> {
  return definition;
}

export interface ResourceDefinition {
  /** `resource://…` with `{name}` placeholders; query parameters are read from the URI's `?…`. */
  uriTemplate: string;
  name: string;
  description: string;
  permission: Permission;
  handler: (ctx: ServiceContext, params: Record<string, string>, query: URLSearchParams) => Promise<unknown> | unknown;
}

export function defineResource(definition: ResourceDefinition): ResourceDefinition {
  return definition;
}

export interface CompiledResource extends ResourceDefinition {
  isTemplate: boolean;
  match(uri: string): { params: Record<string, string>; query: URLSearchParams } | undefined;
}

export function compileResource(definition: ResourceDefinition): CompiledResource {
  const names: string[] = [];
  const pattern = definition.uriTemplate
    .split(/(\{[a-z_]+\})/)
    .map((part) => {
      const placeholder = /^\{([a-z_]+)\}$/.exec(part);
      if (!placeholder) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(placeholder[1]!);
      return "([^/?]+)";
    })
    .join("");
  const regex = new RegExp(`^${pattern}(?:\\?(.*))?$`);
  return {
    ...definition,
    isTemplate: names.length > 0,
    match(uri) {
      const found = regex.exec(uri);
      if (!found) return undefined;
      const params = Object.fromEntries(names.map((name, index) => [name, decodeURIComponent(found[index + 1]!)]));
      return { params, query: new URLSearchParams(found[names.length + 1] ?? "") };
    },
  };
}

/** `field: rule` for each problem, so the caller sees which argument broke which rule. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.join(".") : "(arguments)";
      return `${field}: ${issue.message}`;
    })
    .join("; ");
}
