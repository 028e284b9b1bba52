import type { IncomingMessage, ServerResponse } from "node:http";
import type { Handlers } from "./handlers";

// Serving the framework-free handlers from node:http: the production server (server.mts) answers
// the API this way, in front of Next, and the tests serve the same handlers without building Next.

const API_PATHS = new Set(["/api/mcp", "/api/health", "/api/ready", "/api/events"]);

export function isApiPath(pathname: string): boolean {
  return API_PATHS.has(pathname) || pathname.startsWith("/api/trpc/");
}

/** The handler for an API path; undefined for everything else (pages, assets, auth). */
export function apiRoute(handlers: Handlers, request: Request): Promise<Response> | Response {
  const { pathname } = new URL(request.url);
  if (pathname === "/api/mcp") return handlers.mcp(request);
  if (pathname.startsWith("/api/trpc/")) return handlers.trpc(request);
  if (pathname === "/api/health") return handlers.health();
  if (pathname === "/api/ready") return handlers.ready();
  if (pathname === "/api/events") return handlers.events(request);
  return new Response(JSON.stringify({ error: { type: "NOT_FOUND", message: `No route ${pathname}` } }), {
    status: 404,
    headers: { "content-type": "application/json" },
  });
}

async function toRequest(req: IncomingMessage, signal: AbortSignal): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((item) => headers.append(key, item));
    else if (value !== undefined) headers.set(key, value);
  }
  const body = chunks.length && req.method !== "GET" && req.method !== "HEAD" ? Buffer.concat(chunks) : undefined;
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
  return new Request(url, { method: req.method, headers, body, signal });
}

/** Writes the response as it is produced (SSE streams too) and stops reading it when the client goes away. */
async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
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

/** Answers one node:http request with the API handlers. */
export function serveApi(handlers: Handlers, req: IncomingMessage, res: ServerResponse): void {
  // As in Next, a request's signal aborts when its client disconnects before the answer is done.
  const aborter = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) aborter.abort();
  });
  toRequest(req, aborter.signal)
    .then((request) => apiRoute(handlers, request))
    .then((response) => writeResponse(res, response))
    .catch((error: unknown) => {
      console.error("[http] request failed:", error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "INTERNAL_ERROR", message: "Internal error; the server log has the details." } }));
    });
}
