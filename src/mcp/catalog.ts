import type { Tool, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Actor } from "@/server/auth/actor";
import { hasRole } from "@/server/auth/actor";
import { AppError, quote } from "@/server/errors";
import type { AnyOperation } from "@/server/operations/define";
import { registered } from "@/server/operations/registry";
import { INT32_MAX, agentName, projectKey, registrationToken } from "@/server/schemas/common";
import { LAZY_TOOL_ENTRY } from "./lazy-tool";
import { createProfileParser, type ToolProfile } from "./profiles";

export type { ToolProfile } from "./profiles";

// What the MCP surface serves, derived from the operation registry: tools are operations with a
// `tool` surface, resources those with a `resource` URI template.

export const toolOperations: readonly AnyOperation[] = registered.map(({ operation }) => operation).filter((operation) => operation.tool);

const toolsByName = new Map(toolOperations.map((operation) => [operation.name, operation]));

/** The profile MCP_TOOLS_PROFILE or ?profile= names (ToolProfileError when it names unknown tools). */
export const parseToolProfile = createProfileParser(toolOperations);

/** A profile hides tools from calls as well as from the listing; the lazy profile only from the listing. */
export function findTool(name: string, profile: ToolProfile): AnyOperation | undefined {
  const operation = toolsByName.get(name);
  return operation && (profile.lazy || profile.listed.has(name)) ? operation : undefined;
}

function annotations(operation: AnyOperation): ToolAnnotations {
  const surface = operation.tool!;
  // Hints equal to the MCP defaults (readOnly false, idempotent false) are left out, and so is the
  // display title: clients show the tool's name without it, and it cost every listing ~5 %.
  return operation.kind === "query"
    ? { readOnlyHint: true, openWorldHint: false }
    : {
        destructiveHint: surface.destructive ?? false,
        ...(surface.idempotent ? { idempotentHint: true } : {}),
        openWorldHint: false,
      };
}

type JsonNode = Record<string, unknown>;

/**
 * Arguments most tools share, whose shared description the server's instructions give once
 * (server.ts) instead of every tool repeating it; a tool that describes one differently keeps its own.
 */
const SHARED_DESCRIPTIONS: Readonly<Record<string, string | undefined>> = {
  project_key: projectKey.description,
  agent_name: agentName.description,
  registration_token: registrationToken.description,
};

/**
 * The input schema tools/list advertises: the zod schema's JSON Schema without what costs tokens on
 * every tool and tells a model nothing it needs. Left out (all still accepted or enforced, with
 * errors naming the field and the rule): the `$schema` URI; the compatibility `format` argument
 * (tooling/schemas lists it as global_optional); the shared descriptions of project_key,
 * agent_name and registration_token (the instructions say them once); `additionalProperties:
 * false`; the `null` alternative of optional arguments; the single-value form of `X or a list of
 * X`; string length and list size bounds; the Postgres integer range. Everything else is kept.
 */
export function advertisedSchema(operation: AnyOperation): Tool["inputSchema"] {
  const schema = z.toJSONSchema(operation.input, { io: "input" }) as JsonNode;
  delete schema.$schema;
  delete schema.additionalProperties;
  const properties = schema.properties as Record<string, JsonNode> | undefined;
  if (properties) {
    delete properties.format;
    for (const [name, property] of Object.entries(properties)) {
      properties[name] = compact(property);
      if (SHARED_DESCRIPTIONS[name] !== undefined && properties[name]!.description === SHARED_DESCRIPTIONS[name]) delete properties[name]!.description;
    }
  }
  if (Array.isArray(schema.required)) schema.required = schema.required.filter((name) => name !== "format");
  return schema as Tool["inputSchema"];
}

function compact(node: JsonNode): JsonNode {
  let result: JsonNode = { ...node };
  const anyOf = result.anyOf as JsonNode[] | undefined;
  if (anyOf) {
    // `X or a list of X` (recipients): the list alone is advertised; a single X is still accepted.
    const list = anyOf.find((branch) => branch.type === "array");
    const kept = anyOf.filter(
      (branch) => branch.type !== "null" && !(list && branch !== list && JSON.stringify(branch) === JSON.stringify(list.items)),
    );
    if (kept.length === 1) {
      delete result.anyOf;
      result = { ...compact(kept[0]!), ...result };
    } else {
      result.anyOf = kept.map(compact);
    }
  }
  if (Array.isArray(result.type)) {
    const types = result.type.filter((type) => type !== "null");
    result.type = types.length === 1 ? types[0] : types;
  }
  delete result.minLength;
  delete result.maxLength;
  delete result.maxItems;
  if (typeof result.maximum === "number" && result.maximum >= INT32_MAX) delete result.maximum;
  if (typeof result.minimum === "number" && result.minimum <= -INT32_MAX) delete result.minimum;
  if (result.items && typeof result.items === "object") result.items = compact(result.items as JsonNode);
  // Objects inside arguments (attachments' items) follow the same rules as the arguments themselves.
  if (result.additionalProperties === false) delete result.additionalProperties;
  if (result.properties && typeof result.properties === "object") {
    result.properties = Object.fromEntries(Object.entries(result.properties as Record<string, JsonNode>).map(([name, property]) => [name, compact(property)]));
  }
  return result;
}

// tools/list is asked for on every connection: each tool's entry is computed once.
const entries = new Map<AnyOperation, Tool>(
  toolOperations.map((operation) => [
    operation,
    { name: operation.name, description: operation.description, inputSchema: advertisedSchema(operation), annotations: annotations(operation) },
  ]),
);
const listings = new Map<string, Tool[]>();

/** A tool's tools/list entry. */
export function toolEntry(operation: AnyOperation): Tool {
  return entries.get(operation)!;
}

/** The tools this caller may call, in registry order, then the lazy profile's discovery tool. */
export function toolListing(profile: ToolProfile, actor: Actor): Tool[] {
  // What a caller may call depends on its roles alone, so the listing is cached per role set.
  const key = `${profile.key}|${[...actor.roles].sort().join(",")}`;
  let listing = listings.get(key);
  if (!listing) {
    listing = toolOperations
      .filter((operation) => profile.listed.has(operation.name) && hasRole(actor, operation.permission))
      .map((operation) => entries.get(operation)!);
    if (profile.lazy && hasRole(actor, "read")) listing.push(LAZY_TOOL_ENTRY);
    // Bounded: profiles come from ?profile=, one entry per distinct selection and role set.
    if (listings.size < 512) listings.set(key, listing);
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
    .split(/(\{[a-z][a-z0-9_]*\})/)
    .map((part) => {
      const placeholder = /^\{([a-z][a-z0-9_]*)\}$/.exec(part);
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
