import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { TRPC_MAX_BATCH } from "@/lib/limits";
import { checkPayload } from "@/mcp/jsonrpc";
import { parseToolProfile } from "@/mcp/catalog";
import { ToolProfileError } from "@/mcp/profiles";
import { serveMcp, type ToolProfile } from "@/mcp/server";
import { appRouter } from "@/server/api/root";
import { isMalformedBody } from "@/server/api/trpc";
import type { Actor } from "@/server/auth/actor";
import { clientKey, createRateLimits, type RateLimits } from "@/server/auth/rate-limits";
import { createActorResolver, type ActorResolver } from "@/server/auth/resolve-actor";
import { archiveStatus } from "@/server/archive/status";
import { archiveMetrics } from "@/server/archive/metrics";
import type { Database } from "@/server/db/client";
import type { EventBus } from "@/server/events/bus";
import { mailEvents, type StreamEvent } from "@/server/services/messages/stream";
import { AppError, toAppError } from "@/server/errors";
import { serveAttachment } from "./attachments";
import { authRoute, setupRoute, type AuthRouteDeps } from "./auth-routes";
import { createAuthOptions } from "@/server/auth/next-auth-options";
import type { NextAuthOptions } from "next-auth";
import { CLIENT_ADDRESS_HEADER } from "./client-address";
import { parseArguments } from "@/server/operations/invoke";
import { agentName, optionalToken, projectKey } from "@/server/schemas/common";
import type { ServiceConfig, ServiceContext } from "@/server/services/context";

// Framework-free request handlers (Request → Response). The Next route files re-export them, and
// the integration tests serve the very same functions over node:http.

export interface HandlerDeps {
  database: () => Promise<Database>;
  events: () => Promise<EventBus>;
  config: ServiceConfig;
  /** MCP_TOOLS_PROFILE, parsed; `?profile=` on /api/mcp overrides it per request. */
  defaultToolProfile?: ToolProfile;
  /** Who is calling; tests inject their own to call as any actor. */
  resolveActor?: ActorResolver;
}

const eventsQuery = z.strictObject({
  project: projectKey.optional(),
  agent: agentName.optional(),
  agent_token: optionalToken("The agent's registration_token."),
});

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

/** RFC 6750: a 401 names the scheme, and says when the token given was the problem; a 429 says when to retry. */
function challenge(error: AppError, request: Request): Record<string, string> {
  if (error.code === "RATE_LIMITED") return { "retry-after": String(error.data?.retry_after_seconds ?? 60) };
  if (error.code !== "AUTHENTICATION_REQUIRED") return {};
  // RFC 6750 allows printable ASCII but `"` and `\` in error_description.
  const description = error.message.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "?");
  const invalid = request.headers.has("authorization") ? `, error="invalid_token", error_description="${description}"` : "";
  return { "www-authenticate": `Bearer realm="mailroom"${invalid}` };
}

function jsonRpcError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { jsonrpc: "2.0", error: { code: -32000, message }, id: null }, headers);
}

/**
 * Bearer credentials belong in the Authorization header: a token in a URL ends up in proxy logs,
 * browser history and Referer headers. The event stream and attachment downloads took the agent's
 * registration token in the query; with tokens required, the agent's bound bearer token replaces it.
 */
function refuseQueryToken(request: Request, config: ServiceConfig): void {
  if (config.auth.mode !== "tokens") return;
  const params = new URL(request.url).searchParams;
  for (const name of ["agent_token", "access_token", "token"]) {
    if (params.has(name)) {
      throw new AppError("INVALID_ARGUMENT", `'${name}' is not accepted in the query string: send Authorization: Bearer <token> (a token bound to the agent proves it).`, { field: name });
    }
  }
}

/** Pages anyone may load: the sign-in and setup pages and what they are built from. */
function isPublicPage(pathname: string): boolean {
  return pathname === "/login" || pathname === "/setup" || pathname.startsWith("/_next/") || pathname === "/favicon.ico" || pathname === "/icon.svg";
}

/** Procedure paths are under 64 characters; a batch of TRPC_MAX_BATCH of them fits within this. */
const TRPC_MAX_PATH = TRPC_MAX_BATCH * 64;

/**
 * What tRPC would mishandle, answered before it: a path it would echo whole in its error (or
 * misdecode), and bodies that are not JSON (its form-data reader fails with a 500 on bad input;
 * the dashboard and clients send JSON only).
 */
function trpcRequestRefusal(request: Request): Response | undefined {
  const path = new URL(request.url).pathname.slice("/api/trpc/".length);
  if (path.length > TRPC_MAX_PATH) {
    return json(400, { error: { type: "INVALID_ARGUMENT", message: `Procedure path too long (more than ${TRPC_MAX_PATH} characters; a batch holds at most ${TRPC_MAX_BATCH} calls).` } });
  }
  try {
    decodeURIComponent(path);
  } catch {
    return json(400, { error: { type: "INVALID_ARGUMENT", message: "The procedure path has malformed %-encoding." } });
  }
  const type = request.headers.get("content-type");
  if (request.method === "POST" && type !== null && !/^application\/json\s*(;|$)/i.test(type)) {
    return json(415, { error: { type: "UNSUPPORTED_MEDIA_TYPE", message: "tRPC requests take a JSON body: Content-Type: application/json." } });
  }
  return undefined;
}

export function createHandlers(deps: HandlerDeps) {
  const resolveActor = deps.resolveActor ?? createActorResolver(deps.config.auth);
  let limits: RateLimits | undefined;
  let authOptions: NextAuthOptions | undefined;

  async function rateLimits(): Promise<RateLimits> {
    limits ??= createRateLimits(deps.config.rateLimits, await deps.database(), deps.config.rateLimitStore);
    return limits;
  }

  const authDeps: AuthRouteDeps = {
    signIn: deps.config.auth.mode === "tokens",
    db: async () => (await deps.database()).prisma,
    limits: rateLimits,
    options: () =>
      (authOptions ??= createAuthOptions({
        auth: deps.config.auth,
        db: async () => (await deps.database()).prisma,
        limits: rateLimits,
        clientAddress: (headers) => String(headers?.[CLIENT_ADDRESS_HEADER] ?? "unknown"),
      })),
  };

  async function context(request: Request): Promise<ServiceContext> {
    const [database, events] = await Promise.all([deps.database(), deps.events()]);
    const limits = await rateLimits();
    let actor: Actor;
    try {
      actor = await resolveActor(request, database.prisma);
    } catch (error) {
      // Each failed authentication counts against the client's address: past the limit, guessing
      // gets 429 instead of 401.
      if (error instanceof AppError && error.code === "AUTHENTICATION_REQUIRED") {
        await limits.consume("auth_failures", clientKey(request.headers.get(CLIENT_ADDRESS_HEADER) ?? "unknown"));
      }
      throw error;
    }
    return { db: database.prisma, actor, config: deps.config, events, signal: request.signal, limits };
  }

  return {
    /** Closes what the handlers opened beyond the database (the rate limits' Redis connection). */
    async close(): Promise<void> {
      await limits?.close();
    },

    /** Liveness: answers without touching the database. */
    health(): Response {
      return json(200, { status: "ok", timestamp: new Date().toISOString() });
    },

    /**
     * Readiness: one database round trip. The archive's state is shown but never decides it: mail
     * works without the archive, which catches up once it is fixed.
     */
    async ready(): Promise<Response> {
      let database: Database;
      try {
        database = await deps.database();
        await database.ping();
      } catch (error) {
        console.error("[ready] database check failed:", error);
        return json(503, { status: "unavailable", detail: "database unreachable" });
      }
      return json(200, { status: "ready", database: database.kind, archive: await archiveStatus(database.prisma, deps.config.archive) });
    },

    /** The archive's lag and errors in the Prometheus text format. */
    async metrics(request: Request): Promise<Response> {
      let ctx: ServiceContext;
      try {
        ctx = await context(request);
      } catch (error) {
        const appError = toAppError(error);
        if (appError.code === "INTERNAL_ERROR") console.error("[metrics] context failed:", error);
        return json(appError.httpStatus, { error: { type: appError.code, message: appError.message } }, challenge(appError, request));
      }
      const body = archiveMetrics(await archiveStatus(ctx.db, deps.config.archive));
      return new Response(body, { status: 200, headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" } });
    },

    async mcp(request: Request): Promise<Response> {
      if (request.method !== "POST") {
        return jsonRpcError(405, "Method not allowed: this MCP endpoint is stateless; send JSON-RPC with POST.", { allow: "POST" });
      }
      let ctx: ServiceContext;
      try {
        ctx = await context(request);
      } catch (error) {
        const appError = toAppError(error);
        if (appError.code === "INTERNAL_ERROR") console.error("[mcp] context failed:", error);
        return jsonRpcError(appError.httpStatus, appError.message, challenge(appError, request));
      }
      const checked = checkPayload(request, await request.text());
      if ("refusal" in checked) return checked.refusal;
      const requested = new URL(request.url).searchParams.get("profile");
      let profile: ToolProfile;
      try {
        profile = requested ? parseToolProfile(requested) : (deps.defaultToolProfile ?? parseToolProfile("full"));
      } catch (error) {
        if (error instanceof ToolProfileError) return jsonRpcError(400, error.message);
        throw error;
      }
      return serveMcp(request, checked.body, ctx, profile);
    },

    /** Server-Sent Events: ?project=…[&agent=…&agent_token=…] — new mail, reads and acks. */
    async events(request: Request): Promise<Response> {
      if (request.method !== "GET") {
        return json(405, { error: { type: "METHOD_NOT_ALLOWED", message: "The event stream answers GET only." } }, { allow: "GET" });
      }
      const url = new URL(request.url);
      let stream: AsyncGenerator<StreamEvent>;
      // Ends the stream when the client goes away: either the request is aborted or the runtime
      // only cancels the response body (the generator may be parked waiting for an event then,
      // where return() cannot reach it).
      const stop = new AbortController();
      if (request.signal.aborted) stop.abort();
      else request.signal.addEventListener("abort", () => stop.abort(), { once: true });
      try {
        refuseQueryToken(request, deps.config);
        const ctx = await context(request);
        const query = parseArguments(eventsQuery, Object.fromEntries(url.searchParams), "the events stream");
        stream = mailEvents(ctx, { project_key: query.project, agent_name: query.agent, agent_token: query.agent_token }, stop.signal);
        // Authorisation happens before the first event: surface its failure as an HTTP status.
        const first = await stream.next();
        return sse(first.done ? undefined : first.value, stream, stop);
      } catch (error) {
        const appError = toAppError(error);
        if (appError.code === "INTERNAL_ERROR") console.error("[events] failed:", error);
        return json(appError.httpStatus, { error: { type: appError.code, message: appError.message } }, challenge(appError, request));
      }
    },

    /** GET /api/attachments/{message_id}/{sha256}?project=…&agent=…[&agent_token=… in local mode] — raw bytes, sender and recipients only. */
    attachment(request: Request): Promise<Response> {
      return serveAttachment(
        request,
        (request) => {
          refuseQueryToken(request, deps.config);
          return context(request);
        },
        challenge,
      );
    },

    /** /api/auth/…: next-auth's sign-in, sign-out, session and CSRF routes. */
    auth(request: Request): Promise<Response> {
      return authRoute(request, authDeps);
    },

    /** POST /api/setup: the first admin, with the one-time link printed at start. */
    setup(request: Request): Promise<Response> {
      return setupRoute(request, authDeps);
    },

    /**
     * Whether a dashboard page may be served: undefined when it may, else the answer (a redirect
     * to the sign-in page, or 403 in local mode for a caller from another machine). Pages hold no
     * data themselves (they read it through tRPC, which checks again), but nobody signed out sees
     * the console's shell either.
     */
    async page(request: Request): Promise<Response | undefined> {
      const url = new URL(request.url);
      if (isPublicPage(url.pathname)) return undefined;
      try {
        await resolveActor(request, (await deps.database()).prisma);
        return undefined;
      } catch (error) {
        const appError = toAppError(error);
        if (appError.code !== "AUTHENTICATION_REQUIRED") {
          if (appError.code === "INTERNAL_ERROR") console.error("[page] access check failed:", error);
          return new Response(appError.message, { status: appError.httpStatus, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });
        }
        const back = `${url.pathname}${url.search}`;
        return new Response(null, { status: 302, headers: { location: `/login?callbackUrl=${encodeURIComponent(back)}`, "cache-control": "no-store" } });
      }
    },

    trpc(request: Request): Promise<Response> | Response {
      const refusal = trpcRequestRefusal(request);
      if (refusal) return refusal;
      return fetchRequestHandler({
        endpoint: "/api/trpc",
        req: request,
        router: appRouter,
        maxBatchSize: TRPC_MAX_BATCH,
        createContext: async () => {
          try {
            return await context(request);
          } catch (error) {
            const appError = toAppError(error);
            if (appError.code === "INTERNAL_ERROR") console.error("[trpc] context failed:", error);
            throw new TRPCError({ code: appError.trpcCode, message: appError.message, cause: appError });
          }
        },
        responseMeta: ({ errors }) => {
          if (errors.some(isMalformedBody)) return { status: 400 };
          const refusal = errors.map((error) => error.cause).find((cause): cause is AppError => cause instanceof AppError && (cause.code === "RATE_LIMITED" || cause.code === "AUTHENTICATION_REQUIRED"));
          return refusal ? { headers: new Headers(challenge(refusal, request)) } : {};
        },
        onError: ({ error, path }) => {
          if (error.code === "INTERNAL_SERVER_ERROR" && !(error.cause instanceof AppError) && !isMalformedBody(error)) {
            console.error(`[trpc] ${path ?? "?"} failed:`, error.cause ?? error);
          }
        },
      });
    },
  };
}

export type Handlers = ReturnType<typeof createHandlers>;

const KEEPALIVE_MS = 15_000;

function sse(first: StreamEvent | undefined, rest: AsyncGenerator<StreamEvent>, stop: AbortController): Response {
  const encoder = new TextEncoder();
  const frame = (event: StreamEvent) => encoder.encode(`event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`);
  let keepalive: ReturnType<typeof setInterval> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode("retry: 3000\n\n"));
      if (first) controller.enqueue(frame(first));
      keepalive = setInterval(() => controller.enqueue(encoder.encode(": keepalive\n\n")), KEEPALIVE_MS);
      try {
        for await (const event of rest) controller.enqueue(frame(event));
      } catch (error) {
        if (!stop.signal.aborted) console.error("[events] stream failed:", error);
      } finally {
        clearInterval(keepalive);
        try {
          controller.close();
        } catch {
          // Already closed by the client going away.
        }
      }
    },
    cancel() {
      clearInterval(keepalive);
      stop.abort();
      void rest.return(undefined);
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" },
  });
}
