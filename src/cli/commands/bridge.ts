import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { isJSONRPCErrorResponse, isJSONRPCRequest, isJSONRPCResultResponse, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Command } from "../command";
import { authHeaders, clientEnv, describeRemoteFailure, mcpEndpoint, SERVER_OPTIONS } from "../remote";

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
    const env = await clientEnv();
    const endpoint = mcpEndpoint(values, env);
    const http = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: authHeaders(env) } });
    const stdio = new StdioServerTransport();
    // Requests sent and not yet answered: when stdin ends (a client that pipes its requests in and
    // closes), their answers are still waited for before the bridge closes, up to a minute.
    const pending = new Set<string | number>();
    let drained: (() => void) | undefined;
    const answered = (id: string | number) => {
      pending.delete(id);
      if (pending.size === 0) drained?.();
    };
    let inputEnded = false;
    const closed = new Promise<void>((resolve) => {
      stdio.onclose = resolve;
      io.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    const fail = (message: JSONRPCMessage, error: unknown) => {
      if (!isJSONRPCRequest(message)) return;
      answered(message.id);
      void stdio.send({ jsonrpc: "2.0", id: message.id, error: { code: -32000, message: describeRemoteFailure(error, endpoint) } });
    };
    let initializeId: string | number | undefined;
    http.onmessage = (message) => {
      if ((isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) && message.id !== undefined) answered(message.id);
      // Later requests carry the negotiated MCP-Protocol-Version header, as the spec asks of HTTP clients.
      if (isJSONRPCResultResponse(message) && message.id === initializeId && typeof message.result.protocolVersion === "string") {
        http.setProtocolVersion(message.result.protocolVersion);
      }
      void stdio.send(message);
    };
    // The transport's onerror reports the failure; after the input ended, aborted leftovers are not news.
    http.onerror = (error) => {
      if (!inputEnded) io.err(`mailroom mcp-stdio: ${describeRemoteFailure(error, endpoint)}\n`);
    };
    stdio.onmessage = (message) => {
      if (isJSONRPCRequest(message)) {
        pending.add(message.id);
        if (message.method === "initialize") initializeId = message.id;
      }
      void http.send(message).catch((error: unknown) => fail(message, error));
    };
    await http.start();
    await stdio.start();
    process.stdin.on("end", () => {
      const finish = () => {
        inputEnded = true;
        void stdio.close();
      };
      if (pending.size === 0) return finish();
      drained = finish;
      setTimeout(finish, 60_000).unref();
    });
    await closed;
    inputEnded = true;
    await http.close().catch(() => undefined);
    await stdio.close().catch(() => undefined);
    return 0;
  },
};
