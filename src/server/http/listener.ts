import type { IncomingMessage, ServerResponse } from "node:http";
import { env } from "@/env";
import type { Handlers } from "./handlers";
import { CLIENT_ADDRESS_HEADER } from "./client-address";
import { errorBody, hasBody, isApiPath, refuse, serveApi, toRequest, writeResponse } from "./node";
import { createHostGuard, hostPolicyFromEnv, type HostPolicy } from "./origin";

// The HTTP edge of the production server (server.mts) and of the integration tests' server: every
// request passes the Host/Origin guard first, then goes to the API handlers or to Next.

/** The edge's settings: which names it answers to, and the largest request body it reads. */
export interface EdgeConfig extends HostPolicy {
  maxRequestBytes: number;
}

export function edgeConfigFromEnv(): EdgeConfig {
  return { ...hostPolicyFromEnv(), maxRequestBytes: env.MAX_REQUEST_BYTES };
}

type NextHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function notFound(res: ServerResponse, pathname: string): void {
  const body = JSON.stringify({ error: { type: "NOT_FOUND", message: `No route ${pathname.slice(0, 100)}` } });
  res.writeHead(404, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(body);
}

/**
 * The node:http request listener: Host/Origin guard (403), then API paths to `serveApi` (which
 * reads only the bodies its routes take, up to `maxRequestBytes`) and everything else to
 * `handleNext` (404 when there is none). The dashboard takes no request bodies (no server
 * actions; it writes through tRPC), so a body sent to a non-API path is refused with 413 before
 * Next could buffer it, except on GET and HEAD, whose bodies Next never reads: those are answered
 * and their connection closed so the unread bytes are dropped with it.
 */
export function createRequestListener(
  handlers: Handlers,
  handleNext?: NextHandler,
  config: EdgeConfig = edgeConfigFromEnv(),
): (req: IncomingMessage, res: ServerResponse) => void {
  const guard = createHostGuard(config);
  return (req, res) => {
    const pathname = (req.url ?? "/").split("?", 1)[0]!;
    const refusal = guard(req.headers);
    if (refusal) return refuse(req, res, 403, errorBody(pathname, "FORBIDDEN", refusal));
    if (isApiPath(pathname)) return serveApi(handlers, req, res, config.maxRequestBytes);
    if (hasBody(req)) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return refuse(req, res, 413, errorBody(pathname, "PAYLOAD_TOO_LARGE", `${req.method} ${pathname.slice(0, 100)} takes no request body.`));
      }
      res.setHeader("connection", "close");
    }
    if (!handleNext) return notFound(res, pathname);
    // The edge's own header never reaches Next as a client sent it.
    delete req.headers[CLIENT_ADDRESS_HEADER];
    handlers
      .page(toRequest(req, undefined, new AbortController().signal))
      .then((refusal) => (refusal ? writeResponse(res, refusal, false) : handleNext(req, res)))
      .catch((error: unknown) => {
        console.error("[http] page request failed:", error);
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("Internal error; the server log has the details.");
      });
  };
}
