import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Database } from "@/server/db/client";
import { createEventBus, type EventBus } from "@/server/events/bus";
import { createHandlers, type Handlers } from "@/server/http/handlers";
import type { ServiceConfig } from "@/server/services/context";
import { testConfig } from "./context";

// Serves the app's own request handlers over real HTTP, so tests can use the MCP SDK client and
// the tRPC client against them without building Next.

async function toRequest(req: IncomingMessage, base: string, signal: AbortSignal): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((item) => headers.append(key, item));
    else if (value !== undefined) headers.set(key, value);
  }
  const body = chunks.length && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined;
  return new Request(new URL(req.url ?? "/", base), { method: req.method, headers, body, signal });
}

/** Writes the response as it is produced (SSE streams too) and stops reading it when the client goes away. */
async function send(res: ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.once("close", () => void reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      res.write(value);
    }
  } catch {
    // The client went away mid-stream (the reader was cancelled).
  }
  res.end();
}

function route(handlers: Handlers, request: Request): Promise<Response> | Response {
  const { pathname } = new URL(request.url);
  if (pathname === "/api/mcp") return handlers.mcp(request);
  if (pathname.startsWith("/api/trpc/")) return handlers.trpc(request);
  if (pathname === "/api/health") return handlers.health();
  if (pathname === "/api/ready") return handlers.ready();
  if (pathname === "/api/events") return handlers.events(request);
  return new Response("not found", { status: 404 });
}

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

export async function startTestServer(database: Database, config: Partial<ServiceConfig> = {}): Promise<TestServer> {
  let bus: Promise<EventBus> | undefined;
  const events = () => (bus ??= createEventBus(database, database.url));
  const handlers = createHandlers({ database: async () => database, events, config: { ...testConfig, ...config } });
  const server = createServer((req, res) => {
    const base = `http://${req.headers.host ?? "127.0.0.1"}`;
    // Like Next, a request's signal aborts when its client disconnects before the answer is done.
    const aborter = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) aborter.abort();
    });
    toRequest(req, base, aborter.signal)
      .then((request) => route(handlers, request))
      .then((response) => send(res, response))
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      if (bus) await (await bus).close();
    },
  };
}
