import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { isJSONRPCRequest, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Command } from "../command";
import { authHeaders, describeRemoteFailure, mcpEndpoint, SERVER_OPTIONS } from "../remote";

/**
 * `mailroom mcp-stdio`: for clients that only start local processes. Every JSON-RPC message from
 * stdin goes to the server's /api/mcp as it is, and every answer back to stdout as it is, so
 * tools/list, calls, resources and errors are the server's own. When the server cannot be reached,
 * a request gets a JSON-RPC error naming why (the client shows it) instead of hanging.
 */
export const mcpStdioCommand: Command = {
  name: "mcp-stdio",
  summary: "Speak MCP over stdio and forward it to the server over HTTP (for clients that only start processes)",
  description: "Uses MAILROOM_URL (or --url) and MAILROOM_TOKEN. Stdout carries only the protocol; diagnostics go to stderr.",
  options: { ...SERVER_OPTIONS },
  examples: ['{"mcpServers": {"mailroom": {"command": "npx", "args": ["mailroom", "mcp-stdio"], "env": {"MAILROOM_URL": "http://127.0.0.1:3000"}}}}'],
  async run(values, io) {
    const endpoint = mcpEndpoint(values);
    const http = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: authHeaders() } });
    const stdio = new StdioServerTransport();
    const closed = new Promise<void>((resolve) => {
      stdio.onclose = resolve;
      io.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    // The transport's onerror has already logged the failure to stderr.
    const fail = (message: JSONRPCMessage, error: unknown) => {
      if (isJSONRPCRequest(message)) void stdio.send({ jsonrpc: "2.0", id: message.id, error: { code: -32000, message: describeRemoteFailure(error, endpoint) } });
    };
    http.onmessage = (message) => void stdio.send(message);
    http.onerror = (error) => io.err(`mailroom mcp-stdio: ${describeRemoteFailure(error, endpoint)}\n`);
    stdio.onmessage = (message) => void http.send(message).catch((error: unknown) => fail(message, error));
    await http.start();
    await stdio.start();
    process.stdin.on("end", () => void stdio.close());
    await closed;
    await http.close().catch(() => undefined);
    await stdio.close().catch(() => undefined);
    return 0;
  },
};
