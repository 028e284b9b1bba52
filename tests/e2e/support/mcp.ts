import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/**
 * An MCP SDK client connected (initialize done) to the app's /api/mcp over Streamable HTTP;
 * `headers` go with every request (e.g. `authorization: Bearer <token>` for a server in token mode).
 */
export async function connectMcp(baseUrl: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "mailroom-e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL("/api/mcp", baseUrl), { requestInit: { headers } }));
  return client;
}

export async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** Calls a tool and returns its structured result; a tool error fails the test with its text. */
export async function callOk<T = Record<string, unknown>>(client: Client, name: string, args: Record<string, unknown>): Promise<T> {
  const result = await callTool(client, name, args);
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

/** The text of a tool's first content block. */
export function resultText(result: CallToolResult): string {
  const first = result.content[0];
  return first && first.type === "text" ? first.text : "";
}

/** A project path no other test (or earlier run against a shared server) uses. */
export function uniqueProjectPath(label: string): string {
  return `/tmp/mailroom-e2e/${label}-${randomBytes(4).toString("hex")}`;
}

export interface ProjectResult {
  id: number;
  slug: string;
  human_key: string;
  created_at: string;
}

export interface AgentResult {
  id: number;
  name: string;
  program: string;
  model: string;
  registration_token: string | null;
  [field: string]: unknown;
}
