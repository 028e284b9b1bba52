import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Env } from "@/env";
import { CommandFailure, type OptionSpec, type OptionValues } from "./command";
import { knownFailure } from "./failure";

// Commands that act on a running server (agents' shells and hooks, the stdio bridge) speak MCP over
// HTTP to it, exactly as an agent's client does: MAILROOM_URL (default this machine's PORT) and
// MAILROOM_TOKEN as the bearer token. Every failure becomes one line without a stack.

export const SERVER_OPTIONS: Record<string, OptionSpec> = {
  url: { type: "string", value: "<url>", description: "The server (default $MAILROOM_URL, else http://127.0.0.1:$PORT)" },
};

/**
 * The environment, read when a command runs rather than when the CLI loads: a bad variable then
 * fails that command with one line, and never --help or a prompt hook.
 */
export async function clientEnv(): Promise<Env> {
  try {
    return (await import("@/env")).env;
  } catch (error) {
    throw new CommandFailure(knownFailure(error) ?? "invalid environment");
  }
}

/** The server's MCP endpoint: `<url>/api/mcp` unless the URL already names a path. */
export function mcpEndpoint(values: OptionValues, env: Env): URL {
  const base = (values.url as string | undefined) ?? env.MAILROOM_URL ?? `http://127.0.0.1:${env.PORT}`;
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new CommandFailure(`'${base}' is not a URL (--url or MAILROOM_URL)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CommandFailure(`'${base}' is not an http(s) URL (--url or MAILROOM_URL)`);
  return url.pathname === "/" || url.pathname === "" ? new URL("/api/mcp", url) : url;
}

/** The server's base URL (the MCP endpoint without /api/mcp), for its other routes and the guard's hook. */
export function serverBase(values: OptionValues, env: Env): string {
  return mcpEndpoint(values, env).href.replace(/\/api\/mcp\/?$/, "");
}

export function authHeaders(env: Env): Record<string, string> {
  return env.MAILROOM_TOKEN ? { authorization: `Bearer ${env.MAILROOM_TOKEN}` } : {};
}

/** One line for the server refusing a request with this HTTP status. */
export function httpRefusal(status: number | undefined, endpoint: URL): string {
  const where = endpoint.origin;
  if (status === 401) return `the server at ${where} refused the credentials (401): set MAILROOM_TOKEN to a valid token`;
  if (status === 403) return `the server at ${where} refused the call (403): the token lacks the role or project scope`;
  if (status === 404) return `nothing at ${endpoint.origin}${endpoint.pathname} (404): check MAILROOM_URL`;
  if (status === 429) return `the server at ${where} is rate-limiting this token (429); try again shortly`;
  return `the server at ${where} answered HTTP ${status ?? "error"}`;
}

/** One line for a failure to talk to the server. */
export function describeRemoteFailure(error: unknown, endpoint: URL): string {
  const where = endpoint.origin;
  if (error instanceof StreamableHTTPError) return httpRefusal(error.code, endpoint);
  if ((error as { name?: string })?.name === "TimeoutError" || (error as { cause?: { name?: string } })?.cause?.name === "TimeoutError") {
    return `the server at ${where} did not answer in time`;
  }
  // The server's own JSON-RPC error (an unknown resource, a refused argument): its message as it is.
  if (error instanceof McpError) return error.message.replace(/^MCP error -?\d+: /, "");
  const causeCode = (error as { cause?: { code?: string } })?.cause?.code;
  if (causeCode === "ECONNREFUSED") return `cannot reach Mailroom at ${where} (connection refused): start it with \`mailroom serve\` or set MAILROOM_URL`;
  if (causeCode === "ENOTFOUND" || causeCode === "EAI_AGAIN") return `cannot reach Mailroom at ${where} (host not found): check MAILROOM_URL`;
  if (causeCode) return `cannot reach Mailroom at ${where} (${causeCode})`;
  if (error instanceof Error && /401|Unauthorized/i.test(error.message)) return `the server at ${where} refused the credentials (401): set MAILROOM_TOKEN to a valid token`;
  return `cannot talk to Mailroom at ${where} (${error instanceof Error ? error.name : typeof error})`;
}

export interface Remote {
  client: Client;
  endpoint: URL;
  /** A tool's structured result; a tool error fails the command with the tool's own message. */
  call<T = Record<string, unknown>>(name: string, args: Record<string, unknown>): Promise<T>;
  /** A resource's JSON. */
  read<T = unknown>(uri: string): Promise<T>;
  close(): Promise<void>;
}

export async function connectRemote(values: OptionValues, signal: AbortSignal): Promise<Remote> {
  const env = await clientEnv();
  return connectTo(mcpEndpoint(values, env), authHeaders(env), signal);
}

/** An MCP session with the server at `endpoint`, sending `headers` with every request. */
export async function connectTo(endpoint: URL, headers: Record<string, string>, signal: AbortSignal): Promise<Remote> {
  const client = new Client({ name: "mailroom-cli", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers, signal } });
  try {
    await client.connect(transport);
  } catch (error) {
    await client.close().catch(() => undefined);
    throw new CommandFailure(describeRemoteFailure(error, endpoint));
  }
  const guarded = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof CommandFailure) throw error;
      throw new CommandFailure(describeRemoteFailure(error, endpoint));
    }
  };
  return {
    client,
    endpoint,
    call: <T>(name: string, args: Record<string, unknown>) =>
      guarded(async () => {
        const result = (await client.callTool({ name, arguments: args }, undefined, { signal })) as CallToolResult;
        if (result.isError) {
          const first = result.content[0];
          throw new CommandFailure(first?.type === "text" ? first.text : `${name} failed`);
        }
        return result.structuredContent as T;
      }),
    read: <T>(uri: string) =>
      guarded(async () => {
        const result = await client.readResource({ uri }, { signal });
        const first = result.contents[0];
        if (!first || !("text" in first)) throw new CommandFailure(`${uri}: empty answer`);
        return JSON.parse(first.text) as T;
      }),
    close: () => client.close(),
  };
}

export async function withRemote<T>(values: OptionValues, signal: AbortSignal, fn: (remote: Remote) => Promise<T>): Promise<T> {
  const remote = await connectRemote(values, signal);
  try {
    return await fn(remote);
  } finally {
    await remote.close().catch(() => undefined);
  }
}
