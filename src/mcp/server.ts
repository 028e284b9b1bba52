import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import {
  CallToolRequestSchema,
  ErrorCode,
  McpError,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { hasRole } from "@/server/auth/actor";
import { AppError, toAppError } from "@/server/errors";
import type { ServiceContext } from "@/server/services/context";
import { describeIssues, type ToolDefinition } from "./registry";
import { resources } from "./resources";
import { tools } from "./tools";

export type ToolProfile = "full" | "core";

/** JSON-RPC code the MCP specification gives "resource not found". */
const RESOURCE_NOT_FOUND = -32002;

const SERVER_INFO = { name: "mailroom", version: "0.1.0" };
const INSTRUCTIONS =
  "Mailroom is mail for coding agents. Start with ensure_project(human_key=<repo path>) and register_agent; " +
  "keep the registration_token it returns and pass it on every agent-scoped call. Results are JSON.";

// tools/list is asked for on every connection, so each listing is computed once per profile.
const listings = new Map<ToolProfile, Tool[]>();

function toolListing(profile: ToolProfile): Tool[] {
  let listing = listings.get(profile);
  if (!listing) {
    listing = tools
      .filter((tool) => profile === "full" || tool.profile === "core")
      .map((tool) => ({
        name: tool.name,
        description: tool.description,
        inputSchema: z.toJSONSchema(tool.input, { io: "input" }) as Tool["inputSchema"],
        annotations: tool.annotations,
      }));
    listings.set(profile, listing);
  }
  return listing;
}

const toolsByName = new Map(tools.map((tool) => [tool.name, tool]));

// Each request gets its own protocol server (the transport is stateless); without this shared
// validator every one of them would build a new Ajv instance (~0.2 ms of CPU per request).
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/** A profile hides tools from calls as well as from the listing. */
function findTool(name: string, profile: ToolProfile): ToolDefinition | undefined {
  const tool = toolsByName.get(name);
  return tool && (profile === "full" || tool.profile === "core") ? tool : undefined;
}

function asStructured(result: unknown): Record<string, unknown> {
  return result !== null && typeof result === "object" && !Array.isArray(result)
    ? (result as Record<string, unknown>)
    : { result };
}

export function errorResult(error: AppError): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text: `${error.code}: ${error.message}` }],
    structuredContent: {
      error: { type: error.code, message: error.message, recoverable: error.recoverable, ...(error.data ? { data: error.data } : {}) },
    },
  };
}

async function callTool(ctx: ServiceContext, tool: ToolDefinition | undefined, name: string, args: unknown): Promise<CallToolResult> {
  try {
    if (!tool) throw new AppError("NOT_FOUND", `Unknown tool '${name}'.`);
    if (!hasRole(ctx.actor, tool.permission)) {
      throw new AppError("FORBIDDEN", `Tool '${name}' needs the ${tool.permission} role.`);
    }
    const parsed = tool.input.safeParse(args ?? {});
    if (!parsed.success) {
      throw new AppError("INVALID_ARGUMENT", `Invalid arguments for ${name}: ${describeIssues(parsed.error)}`);
    }
    const result = await tool.handler(ctx, parsed.data);
    return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: asStructured(result) };
  } catch (error) {
    const appError = toAppError(error);
    if (appError.code === "INTERNAL_ERROR" || appError.code === "DATABASE_UNAVAILABLE") {
      console.error(`[mcp] ${name} failed:`, error);
    }
    return errorResult(appError);
  }
}

async function readResource(ctx: ServiceContext, uri: string) {
  for (const resource of resources) {
    const matched = resource.match(uri);
    if (!matched) continue;
    if (!hasRole(ctx.actor, resource.permission)) {
      throw new AppError("FORBIDDEN", `Resource '${resource.name}' needs the ${resource.permission} role.`);
    }
    const result = await resource.handler(ctx, matched.params, matched.query);
    return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify(result) }] };
  }
  throw new AppError("NOT_FOUND", `Unknown resource '${uri}'.`);
}

/** A protocol server bound to one request's context (the transport is stateless). */
function createServer(ctx: ServiceContext, profile: ToolProfile): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: false }, resources: { listChanged: false } },
    instructions: INSTRUCTIONS,
    jsonSchemaValidator,
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: toolListing(profile) }));
  server.setRequestHandler(CallToolRequestSchema, (request) =>
    callTool(ctx, findTool(request.params.name, profile), request.params.name, request.params.arguments),
  );
  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: resources
      .filter((resource) => !resource.isTemplate)
      .map((resource) => ({ uri: resource.uriTemplate, name: resource.name, description: resource.description, mimeType: "application/json" })),
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: resources
      .filter((resource) => resource.isTemplate)
      .map((resource) => ({ uriTemplate: resource.uriTemplate, name: resource.name, description: resource.description, mimeType: "application/json" })),
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    try {
      return await readResource(ctx, request.params.uri);
    } catch (error) {
      const appError = toAppError(error);
      if (appError.code === "INTERNAL_ERROR") console.error(`[mcp] resource ${request.params.uri} failed:`, error);
      // Resource reads have no isError result: the JSON-RPC error carries the same message.
      const code =
        appError.code === "NOT_FOUND" ? RESOURCE_NOT_FOUND : appError.httpStatus < 500 ? ErrorCode.InvalidParams : ErrorCode.InternalError;
      throw new McpError(code, `${appError.code}: ${appError.message}`, { type: appError.code });
    }
  });
  return server;
}

/** Answers one Streamable HTTP POST in stateless JSON mode. */
export async function serveMcp(request: Request, ctx: ServiceContext, profile: ToolProfile): Promise<Response> {
  const server = createServer(ctx, profile);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request);
  } finally {
    await server.close();
  }
}
