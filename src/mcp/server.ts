import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import {
  CallToolRequestSchema,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import { AppError, quote, toAppError } from "@/server/errors";
import { invoke, LONE_SURROGATE } from "@/server/operations/invoke";
import type { AnyOperation } from "@/server/operations/define";
import type { AgentContext, ServiceContext } from "@/server/services/context";
import { recordToolCall } from "@/server/services/tooling/metrics-recorder";
import { findTool, resources, toolListing, type ToolProfile } from "./catalog";
import { callExtendedTool } from "./lazy";
import { LAZY_TOOL_NAME } from "./lazy-tool";

export type { ToolProfile } from "./catalog";

/** JSON-RPC code the MCP specification gives "resource not found". */
const RESOURCE_NOT_FOUND = -32002;

const SERVER_INFO = { name: "mailroom", version: "0.1.0" };
const INSTRUCTIONS =
  "Mailroom is mail for coding agents. Start with ensure_project(human_key=<repo path>) and register_agent; " +
  "keep the registration_token it returns and pass it on every agent-scoped call. Results are JSON. " +
  "In every tool, project_key is the project's human_key (absolute path) or slug, agent_name is an agent's name (case-insensitive) " +
  "and registration_token is the token register_agent returned for that agent.";

// Each request gets its own protocol server (the transport is stateless); without this shared
// validator every one of them would build a new Ajv instance (~0.2 ms of CPU per request).
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/**
 * A JSON-RPC error as the SDK sends it: code and message as given. (McpError would prefix its
 * message with "MCP error <code>:", and the client's McpError adds the same prefix again.)
 */
export class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
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

function logIfUnexpected(what: string, error: unknown, appError: AppError): void {
  if (appError.code === "INTERNAL_ERROR" || appError.code === "DATABASE_UNAVAILABLE") console.error(`[mcp] ${what} failed:`, error);
}

interface Scoped {
  projectId?: number;
  agentName?: string;
}

/** The operation with a handler that notes the project and agent its scope resolved (for metrics). */
function observed(operation: AnyOperation, seen: Scoped): AnyOperation {
  return {
    ...operation,
    handler(scoped: Partial<AgentContext>, input: unknown) {
      seen.projectId = scoped.project?.id;
      seen.agentName = scoped.agent?.name;
      return operation.handler(scoped as AgentContext, input);
    },
  };
}

/** The agent a call names, when its scope was never reached (bounded: it is caller input). */
function claimedAgent(operation: AnyOperation, args: unknown): string | null {
  const value = (args as Record<string, unknown> | undefined)?.[operation.fields?.agent ?? "agent_name"];
  // Postgres text holds no NUL nor a lone surrogate (which cutting at 128 can also make), and one
  // such record would fail the whole batch it is written with.
  if (typeof value !== "string") return null;
  return value.replace(/\u0000/g, "").trim().slice(0, 128).replace(new RegExp(LONE_SURROGATE.source, "g"), "\uFFFD") || null;
}

function record(ctx: ServiceContext, tool: string, started: number, seen: Scoped, agent: string | null, error: AppError | undefined): void {
  recordToolCall(
    ctx.db,
    {
      tool,
      surface: "mcp",
      projectId: seen.projectId ?? null,
      agentName: seen.agentName ?? agent,
      durationMs: performance.now() - started,
      ok: !error,
      errorCode: error?.code ?? null,
      createdTs: new Date(),
    },
    ctx.config.toolMetricsRetentionDays,
  );
}

async function callTool(ctx: ServiceContext, profile: ToolProfile, name: string, args: unknown): Promise<CallToolResult> {
  const started = performance.now();
  const seen: Scoped = {};
  let failure: AppError | undefined;
  const lazy = profile.lazy && name === LAZY_TOOL_NAME;
  const operation = lazy ? undefined : findTool(name, profile);
  // A call made through the discovery tool is recorded once, under the tool it called.
  let proxied = false;
  try {
    if (lazy) {
      return await callExtendedTool(ctx, profile, args, (inner, innerArgs) => {
        proxied = true;
        return callTool(ctx, profile, inner, innerArgs);
      });
    }
    if (!operation) throw new AppError("NOT_FOUND", `Unknown tool '${quote(name)}'.`);
    const result = await invoke(observed(operation, seen), ctx, args);
    return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: asStructured(result) };
  } catch (error) {
    failure = toAppError(error);
    logIfUnexpected(quote(name), error, failure);
    return errorResult(failure);
  } finally {
    // Unknown tool names are caller input, not tools: they are not recorded.
    if (operation || (lazy && !proxied)) record(ctx, name, started, seen, operation ? claimedAgent(operation, args) : null, failure);
  }
}

async function readResource(ctx: ServiceContext, uri: string) {
  try {
    for (const resource of resources) {
      const input = resource.match(uri);
      if (!input) continue;
      const result = await invoke(resource.operation, ctx, input);
      return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify(result) }] };
    }
    throw new AppError("NOT_FOUND", `Unknown resource '${quote(uri)}'.`);
  } catch (error) {
    const appError = toAppError(error);
    logIfUnexpected(`resource ${quote(uri)}`, error, appError);
    // Resource reads have no isError result: the JSON-RPC error carries the same message.
    const code = appError.code === "NOT_FOUND" ? RESOURCE_NOT_FOUND : appError.httpStatus < 500 ? ErrorCode.InvalidParams : ErrorCode.InternalError;
    throw new JsonRpcError(code, `${appError.code}: ${appError.message}`, { type: appError.code });
  }
}

/** A protocol server bound to one request's context (the transport is stateless). */
function createServer(ctx: ServiceContext, profile: ToolProfile): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: false }, resources: { listChanged: false } },
    instructions: INSTRUCTIONS,
    jsonSchemaValidator,
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: toolListing(profile, ctx.actor) }));
  server.setRequestHandler(CallToolRequestSchema, (request) => callTool(ctx, profile, request.params.name, request.params.arguments));
  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: resources
      .filter((resource) => !resource.isTemplate)
      .map((resource) => ({ uri: resource.uriTemplate, name: resource.name, description: resource.operation.description, mimeType: "application/json" })),
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: resources
      .filter((resource) => resource.isTemplate)
      .map((resource) => ({
        uriTemplate: resource.uriTemplate,
        name: resource.name,
        description: resource.operation.description,
        mimeType: "application/json",
      })),
  }));
  server.setRequestHandler(ReadResourceRequestSchema, (request) => readResource(ctx, request.params.uri));
  return server;
}

/** Answers one Streamable HTTP POST in stateless JSON mode; `body` is the already-checked JSON-RPC payload. */
export async function serveMcp(request: Request, body: unknown, ctx: ServiceContext, profile: ToolProfile): Promise<Response> {
  const server = createServer(ctx, profile);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request, { parsedBody: body });
  } finally {
    await server.close();
  }
}
