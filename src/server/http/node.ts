import type { IncomingMessage, ServerResponse } from "node:http";
import { env } from "@/env";
import { ATTACHMENTS_PATH } from "./attachments";
import { AUTH_MAX_BODY_BYTES, AUTH_PATH, SETUP_PATH } from "./auth-routes";
import { CLIENT_ADDRESS_HEADER, clientAddress } from "./client-address";
import type { Handlers } from "./handlers";

// Serving the framework-free handlers from node:http: the production server (server.mts) answers
// the API this way, in front of Next, and the tests serve the same handlers without building Next.

const API_PATHS = new Set(["/api/mcp", "/api/health", "/api/ready", "/api/metrics", "/api/events", SETUP_PATH]);

export function isApiPath(pathname: string): boolean {
  return API_PATHS.has(pathname) || pathname.startsWith("/api/trpc/") || pathname.startsWith(ATTACHMENTS_PATH) || pathname.startsWith(AUTH_PATH);
}

function isAuthPath(pathname: string): boolean {
  return pathname === SETUP_PATH || pathname.startsWith(AUTH_PATH);
}

/** The handler for an API path; undefined for everything else (pages, assets, auth). */
export function apiRoute(handlers: Handlers, request: Request): Promise<Response> | Response {
  const { pathname } = new URL(request.url);
  if (pathname === "/api/mcp") return handlers.mcp(request);
  if (pathname.startsWith("/api/trpc/")) return handlers.trpc(request);
  if (pathname === "/api/health") return handlers.health();
  if (pathname === "/api/ready") return handlers.ready();
  if (pathname === "/api/metrics") return handlers.metrics(request);
  if (pathname === "/api/events") return handlers.events(request);
  if (pathname.startsWith(ATTACHMENTS_PATH)) return handlers.attachment(request);
  if (pathname.startsWith(AUTH_PATH)) return handlers.auth(request);
  if (pathname === SETUP_PATH) return handlers.setup(request);
  return new Response(JSON.stringify({ error: { type: "NOT_FOUND", message: `No route ${pathname}` } }), {
    status: 404,
    headers: { "content-type": "application/json" },
  });
}

/** POST /api/mcp, tRPC mutations (POST /api/trpc/…) and sign-in forms take a body; no other request is ever read. */
function takesBody(method: string | undefined, pathname: string): boolean {
  return method === "POST" && (pathname === "/api/mcp" || pathname.startsWith("/api/trpc/") || isAuthPath(pathname));
}

/** Whether the request says a body follows (HTTP/1.1 frames one by Content-Length or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/**
 * An error body in the shape the route's clients read: a JSON-RPC error for MCP, the app's
 * `{ error: { type, message } }` everywhere else.
 */
export function errorBody(pathname: string, type: string, message: string): string {
  return JSON.stringify(pathname === "/api/mcp" ? { jsonrpc: "2.0", error: { code: -32600, message }, id: null } : { error: { type, message } });
}

/**
 * Answers a request whose body is left unread, then drops the connection: the unread bytes go
 * with the socket instead of being read (and parsed as a next request).
 */
export function refuse(req: IncomingMessage, res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body, () => req.socket.destroy());
}

function tooLargeBody(pathname: string, maxRequestBytes: number): string {
  return errorBody(pathname, "PAYLOAD_TOO_LARGE", `Request body too large: the limit is ${maxRequestBytes} bytes (MAX_REQUEST_BYTES).`);
}

const TOO_LARGE = Symbol("too large");

/**
 * Reads a body of at most `limit` bytes. A longer one (sent without Content-Length) is noticed
 * while it streams in: reading stops there, and the rest is never taken off the socket.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer<ArrayBuffer> | typeof TOO_LARGE> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        req.pause();
        resolve(TOO_LARGE);
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onClose = () => onError(new Error("the client closed the connection before the request body was complete"));
    req.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}

export function toRequest(req: IncomingMessage, body: Buffer<ArrayBuffer> | undefined, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((item) => headers.append(key, item));
    else if (value !== undefined) headers.set(key, value);
  }
  // The peer's address, for limits keyed by client (failed authentications); a client cannot set it.
  headers.set(CLIENT_ADDRESS_HEADER, clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], env.TRUSTED_PROXY_HOPS));
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
  return new Request(url, { method: req.method, headers, body: body?.length ? body : undefined, signal });
}

/**
 * Writes the response as it is produced (SSE streams too) and stops reading it when the client
 * goes away. `close` ends the connection after it, whatever the handler asked for.
 */
export async function writeResponse(res: ServerResponse, response: Response, close: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = { ...Object.fromEntries(response.headers.entries()), ...(close ? { connection: "close" } : {}) };
  // Several cookies are several headers (fromEntries would keep only the last one).
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers["set-cookie"] = cookies;
  res.writeHead(response.status, headers);
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

/**
 * Answers one node:http request with the API handlers. Only POST /api/mcp and POST /api/trpc/…
 * bodies are read, and only up to `maxRequestBytes` (413 beyond, unread); any other request's body
 * is left unread and its connection closed after the answer.
 */
export function serveApi(handlers: Handlers, req: IncomingMessage, res: ServerResponse, maxRequestBytes: number = env.MAX_REQUEST_BYTES): void {
  const pathname = (req.url ?? "/").split("?", 1)[0]!;
  const readsBody = takesBody(req.method, pathname);
  if (isAuthPath(pathname)) maxRequestBytes = Math.min(maxRequestBytes, AUTH_MAX_BODY_BYTES);
  if (readsBody && Number(req.headers["content-length"] ?? 0) > maxRequestBytes) {
    refuse(req, res, 413, tooLargeBody(pathname, maxRequestBytes));
    return;
  }
  // A body this route does not take stays unread; closing the connection after the answer drops it.
  const close = !readsBody && hasBody(req);
  // As in Next, a request's signal aborts when its client disconnects before the answer is done.
  const aborter = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) aborter.abort();
  });
  (readsBody ? readBody(req, maxRequestBytes) : Promise.resolve(undefined))
    .then((body) => {
      if (body === TOO_LARGE) return refuse(req, res, 413, tooLargeBody(pathname, maxRequestBytes));
      return Promise.resolve(apiRoute(handlers, toRequest(req, body, aborter.signal))).then((response) => writeResponse(res, response, close));
    })
    .catch((error: unknown) => {
      // A client that goes away mid-body is no server failure, and there is no one left to answer.
      if (req.destroyed && !req.complete) return;
      console.error("[http] request failed:", error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "INTERNAL_ERROR", message: "Internal error; the server log has the details." } }));
    });
}
