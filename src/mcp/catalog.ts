import type { Tool, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Actor } from "@/server/auth/actor";
import { hasRole } from "@/server/auth/actor";
import { AppError, quote } from "@/server/errors";
import type { AnyOperation } from "@/server/operations/define";
import { registered } from "@/server/operations/registry";

// What the MCP surface serves, derived from the operation registry: tools are operations with a
// `tool` surface, resources those with a `resource` URI template.

export type ToolProfile = "full" | "core";

export const toolOperations: readonly AnyOperation[] = registered.map(({ operation }) => operation).filter((operation) => operation.tool);

const toolsByName = new Map(toolOperations.map((operation) => [operation.name, operation]));

function inProfile(operation: AnyOperation, profile: ToolProfile): boolean {
  return profile === "full" || operation.tool?.profile === "core";
}

/** A profile hides tools from calls as well as from the listing. */
export function findTool(name: string, profile: ToolProfile): AnyOperation | undefined {
  const operation = toolsByName.get(name);
  return operation && inProfile(operation, profile) ? operation : undefined;
}

function annotations(operation: AnyOperation): ToolAnnotations {
  const surface = operation.tool!;
  return operation.kind === "query"
    ? { title: surface.title, readOnlyHint: true, openWorldHint: false }
    : {
        title: surface.title,
        readOnlyHint: false,
        destructiveHint: surface.destructive ?? false,
        idempotentHint: surface.idempotent ?? false,
        openWorldHint: false,
      };
}

// tools/list is asked for on every connection: each tool's entry is computed once.
const entries = new Map<AnyOperation, Tool>(
  toolOperations.map((operation) => [
    operation,
    {
      name: operation.name,
      description: operation.description,
      inputSchema: z.toJSONSchema(operation.input, { io: "input" }) as Tool["inputSchema"],
      annotations: annotations(operation),
    },
  ]),
);
const listings = new Map<string, Tool[]>();

/** The tools this caller may call, in registry order. */
export function toolListing(profile: ToolProfile, actor: Actor): Tool[] {
  // What a caller may call depends on its roles alone, so the listing is cached per role set.
  const key = `${profile}:${[...actor.roles].sort().join(",")}`;
  let listing = listings.get(key);
  if (!listing) {
    listing = toolOperations
      .filter((operation) => inProfile(operation, profile) && hasRole(actor, operation.permission))
      .map((operation) => entries.get(operation)!);
    listings.set(key, listing);
  }
  return listing;
}

export interface CompiledResource {
  operation: AnyOperation;
  uriTemplate: string;
  /** The name clients see: the template's last fixed segment (`inbox`, `urgent-unread`, …). */
  name: string;
  isTemplate: boolean;
  /** The operation's input for this URI, or undefined when the URI is not this resource's. */
  match(uri: string): Record<string, string> | undefined;
}

function decode(value: string, field: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new AppError("INVALID_ARGUMENT", `${quote(field)}: malformed %-encoding in the resource URI.`, { field });
  }
}

function compile(operation: AnyOperation): CompiledResource {
  const uriTemplate = operation.resource!;
  const placeholders: string[] = [];
  const pattern = uriTemplate
    .split(/(\{[a-z_]+\})/)
    .map((part) => {
      const placeholder = /^\{([a-z_]+)\}$/.exec(part);
      if (!placeholder) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      placeholders.push(placeholder[1]!);
      return "([^/?#]+)";
    })
    .join("");
  const regex = new RegExp(`^${pattern}(?:\\?([^#]*))?$`);
  const rename = operation.resourceFields ?? {};
  const fixed = uriTemplate.replace(/^resource:\/\//, "").split("/").filter((segment) => !segment.startsWith("{"));
  return {
    operation,
    uriTemplate,
    name: fixed[fixed.length - 1]!,
    isTemplate: placeholders.length > 0,
    match(uri) {
      const found = regex.exec(uri);
      if (!found) return undefined;
      const input: Record<string, string> = {};
      placeholders.forEach((placeholder, index) => {
        input[rename[placeholder] ?? placeholder] = decode(found[index + 1]!, placeholder);
      });
      for (const pair of (found[placeholders.length + 1] ?? "").split("&")) {
        if (!pair) continue;
        const equals = pair.indexOf("=");
        const key = decode((equals < 0 ? pair : pair.slice(0, equals)).replace(/\+/g, " "), "query");
        const value = equals < 0 ? "" : decode(pair.slice(equals + 1).replace(/\+/g, " "), key);
        if (key in input) throw new AppError("INVALID_ARGUMENT", `${quote(key)}: given more than once.`, { field: key });
        // An empty value means "not given", as for tool arguments.
        if (value !== "") input[key] = value;
      }
      return input;
    },
  };
}

export const resources: readonly CompiledResource[] = registered
  .map(({ operation }) => operation)
  .filter((operation) => operation.resource)
  .map(compile);
