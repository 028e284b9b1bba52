import {
  CallToolRequestSchema,
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  InitializeRequestSchema,
  JSONRPCMessageSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  PingRequestSchema,
  ReadResourceRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { describeIssues } from "@/server/operations/invoke";

// The JSON-RPC envelope, checked before the SDK sees it. The SDK answers a request whose params do
// not fit its method with -32603 and a raw zod dump; a client deserves -32602 naming the field.
// Batches were removed from MCP in 2025-06-18; for older protocol versions they are bounded so one
// request cannot queue unbounded work.

/** The protocol version from which JSON-RPC batches are refused. */
export const BATCHLESS_SINCE = "2025-06-18";
/** Most messages in one batch under older protocol versions. */
export const MAX_BATCH = 8;

const REQUEST_SCHEMAS: Record<string, { safeParse(value: unknown): { success: boolean; error?: unknown } }> = {
  initialize: InitializeRequestSchema,
  ping: PingRequestSchema,
  "tools/list": ListToolsRequestSchema,
  "tools/call": CallToolRequestSchema,
  "resources/list": ListResourcesRequestSchema,
  "resources/templates/list": ListResourceTemplatesRequestSchema,
  "resources/read": ReadResourceRequestSchema,
};

type Issues = Parameters<typeof describeIssues>[0];
type JsonRpcId = string | number | null;

interface JsonRpcFailure {
  jsonrpc: "2.0";
  id: JsonRpcId;
  error: { code: number; message: string };
}

const failure = (id: JsonRpcId, code: number, message: string): JsonRpcFailure => ({ jsonrpc: "2.0", id, error: { code, message } });

function respond(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
}

function idOf(message: unknown): JsonRpcId {
  const id = (message as { id?: unknown } | null)?.id;
  return typeof id === "string" || typeof id === "number" ? id : null;
}

/** The reason a single message cannot be handed to the SDK, as a JSON-RPC error; undefined when it can. */
function check(message: unknown): JsonRpcFailure | undefined {
  const envelope = JSONRPCMessageSchema.safeParse(message);
  if (!envelope.success) return failure(idOf(message), -32600, `Invalid Request: not a JSON-RPC 2.0 message (${describeIssues(envelope.error as Issues)}).`);
  const { method } = message as { method?: unknown };
  if (typeof method !== "string" || idOf(message) === null) return undefined;
  // Own properties only: "constructor", "toString", … must not find Object.prototype's.
  const parsed = Object.hasOwn(REQUEST_SCHEMAS, method) ? REQUEST_SCHEMAS[method]!.safeParse(message) : undefined;
  if (parsed && !parsed.success) return failure(idOf(message), -32602, `Invalid params for ${method}: ${describeIssues(parsed.error as Issues)}`);
  return undefined;
}

function protocolVersion(request: Request, messages: unknown[]): string {
  const header = request.headers.get("mcp-protocol-version");
  if (header) return header;
  const initialize = messages.find((message) => (message as { method?: unknown } | null)?.method === "initialize") as
    | { params?: { protocolVersion?: unknown } }
    | undefined;
  const requested = initialize?.params?.protocolVersion;
  return typeof requested === "string" ? requested : DEFAULT_NEGOTIATED_PROTOCOL_VERSION;
}

/** The parsed body for the SDK, or the response that refuses it. */
export function checkPayload(request: Request, text: string): { body: unknown } | { refusal: Response } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { refusal: respond(400, failure(null, -32700, "Parse error: the request body is not valid JSON.")) };
  }
  if (!Array.isArray(body)) {
    const problem = check(body);
    return problem ? { refusal: respond(problem.error.code === -32602 ? 200 : 400, problem) } : { body };
  }
  const version = protocolVersion(request, body);
  if (version >= BATCHLESS_SINCE) {
    return {
      refusal: respond(400, failure(null, -32600, `Invalid Request: protocol ${version.slice(0, 20)} has no JSON-RPC batches; send one message per request.`)),
    };
  }
  if (body.length === 0 || body.length > MAX_BATCH) {
    return { refusal: respond(400, failure(null, -32600, `Invalid Request: a batch holds 1 to ${MAX_BATCH} messages; this one has ${body.length}.`)) };
  }
  const problems = body.map(check);
  if (problems.every((problem) => problem === undefined)) return { body };
  return {
    refusal: respond(
      200,
      body.map(
        (message, index) =>
          problems[index] ?? failure(idOf(message), -32600, "Invalid Request: not processed, another message of this batch is invalid."),
      ),
    ),
  };
}
