import NextAuth, { type NextAuthOptions } from "next-auth";
import type { NextApiRequest, NextApiResponse } from "next";
import { AppError, toAppError } from "@/server/errors";
import type { Db } from "@/server/db/client";
import { clientKey, type RateLimits } from "@/server/auth/rate-limits";
import { completeSetup } from "@/server/services/users/accounts";
import { setupInput } from "@/server/schemas/users";
import { parseArguments } from "@/server/operations/invoke";
import { CLIENT_ADDRESS_HEADER } from "./client-address";

// next-auth's routes (/api/auth/…) and the first-admin setup (/api/setup), served by the app's
// own node:http edge like the rest of the API: next-auth's handler is framework-agnostic behind
// its Next API adapter, so it is given a request and response of that shape. Sign-ins then work
// the same in production, under `next dev`, and in the integration tests' server.

export const AUTH_PATH = "/api/auth/";
export const SETUP_PATH = "/api/setup";
/** Sign-in forms and setup requests are small; anything larger is refused unread. */
export const AUTH_MAX_BODY_BYTES = 16 * 1024;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store", ...headers } });
}

function parseCookies(header: string | null): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index <= 0) continue;
    const raw = part.slice(index + 1).trim();
    try {
      cookies[part.slice(0, index).trim()] = decodeURIComponent(raw);
    } catch {
      cookies[part.slice(0, index).trim()] = raw;
    }
  }
  return cookies;
}

async function readForm(request: Request): Promise<Record<string, string> | undefined> {
  if (request.method !== "POST") return undefined;
  const type = request.headers.get("content-type") ?? "";
  const text = await request.text();
  if (type.includes("application/json")) {
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)])) : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

/**
 * next-auth's action path (`callback/credentials`, `session`, …), or undefined for one written any
 * other way: its paths need no encoding and have no empty segments, and a path spelled differently
 * (`//callback`, `%63allback`) must not reach an action the limits below do not recognise.
 */
function actionOf(url: URL): string[] | undefined {
  const raw = url.pathname.slice(AUTH_PATH.length);
  const segments = raw.split("/");
  return segments.every((segment) => /^[a-z0-9_-]+$/i.test(segment)) ? segments : undefined;
}

/** Runs next-auth for one request through its Next API adapter and returns what it answered. */
export async function serveNextAuth(request: Request, options: NextAuthOptions, segments: string[]): Promise<Response> {
  const url = new URL(request.url);
  const query: Record<string, string | string[]> = { ...Object.fromEntries(url.searchParams), nextauth: segments };
  const body = await readForm(request);
  const headers = Object.fromEntries(request.headers);
  // next-auth assumes https when no proxy says otherwise; this server itself speaks http (a proxy
  // that terminates TLS says so in X-Forwarded-Proto, or PUBLIC_URL names the origin).
  headers["x-forwarded-proto"] ??= "http";
  // It would also prefer X-Forwarded-Host to the Host header the edge's guard checked.
  delete headers["x-forwarded-host"];
  const req = { method: request.method, headers, query, body, cookies: parseCookies(request.headers.get("cookie")) };
  let status = 200;
  let payload: string | undefined;
  const answer = new Headers({ "cache-control": "no-store" });
  const res = {
    status(code: number) {
      status = code;
      return res;
    },
    getHeader(name: string) {
      return name.toLowerCase() === "set-cookie" ? answer.getSetCookie() : (answer.get(name) ?? undefined);
    },
    setHeader(name: string, value: string | string[]) {
      answer.delete(name);
      for (const item of Array.isArray(value) ? value : [value]) answer.append(name, item);
      return res;
    },
    json(value: unknown) {
      answer.set("content-type", "application/json");
      payload = JSON.stringify(value);
    },
    send(value: unknown) {
      if (value === undefined || value === null) return;
      if (typeof value === "string") payload = value;
      else {
        answer.set("content-type", "application/json");
        payload = JSON.stringify(value);
      }
    },
    end() {},
  };
  await NextAuth(req as unknown as NextApiRequest, res as unknown as NextApiResponse, options);
  return new Response(status === 204 || status === 304 ? null : (payload ?? null), { status, headers: answer });
}

export interface AuthRouteDeps {
  /** Local mode has no sign-in: /api/auth answers 404 there. */
  signIn: boolean;
  options: () => NextAuthOptions;
  db: () => Promise<Db>;
  limits: () => Promise<RateLimits>;
}

function clientAddress(request: Request): string {
  return clientKey(request.headers.get(CLIENT_ADDRESS_HEADER) ?? "unknown");
}

function errorResponse(error: unknown, where: string): Response {
  const appError = toAppError(error);
  if (appError.code === "INTERNAL_ERROR") console.error(`[${where}] failed:`, error);
  const headers: Record<string, string> = appError.code === "RATE_LIMITED" ? { "retry-after": String(appError.data?.retry_after_seconds ?? 60) } : {};
  return json(appError.httpStatus, { error: { type: appError.code, message: appError.message, ...(appError.data?.field ? { field: appError.data.field } : {}) } }, headers);
}

/**
 * /api/auth/…: next-auth. A password sign-in from an address whose failures reached the limit is
 * answered 429 at once (in the shape next-auth's client reads, so the form shows why); the
 * credentials provider also counts each attempt before hashing (src/server/auth/next-auth-options.ts).
 */
export async function authRoute(request: Request, deps: AuthRouteDeps): Promise<Response> {
  const url = new URL(request.url);
  const segments = actionOf(url);
  if (!deps.signIn || !segments) {
    return json(404, { error: { type: "NOT_FOUND", message: deps.signIn ? "No such sign-in route." : "There is no sign-in in local mode: this server trusts its own machine." } });
  }
  try {
    if (request.method === "POST" && segments[0] === "callback" && segments[1] === "credentials") {
      await (await deps.limits()).check("auth_failures", clientAddress(request));
    }
    return await serveNextAuth(request, deps.options(), segments);
  } catch (error) {
    const appError = toAppError(error);
    if (appError.code !== "RATE_LIMITED") return errorResponse(error, "auth");
    const retry = String(appError.data?.retry_after_seconds ?? 60);
    return json(429, { url: `${url.origin}/login?error=${encodeURIComponent(appError.message)}`, error: { type: appError.code, message: appError.message } }, { "retry-after": retry });
  }
}

/** POST /api/setup {token, email, name, password}: the first admin, with a setup link's secret. */
export async function setupRoute(request: Request, deps: AuthRouteDeps): Promise<Response> {
  if (request.method !== "POST") return json(405, { error: { type: "METHOD_NOT_ALLOWED", message: "Setup answers POST only." } }, { allow: "POST" });
  try {
    const limits = await deps.limits();
    // Counted before the password is hashed, given back when the link was right.
    await limits.consume("auth_failures", clientAddress(request));
    let body: unknown;
    try {
      body = JSON.parse(await request.text());
    } catch {
      throw new AppError("INVALID_ARGUMENT", "The body must be JSON: {token, email, name, password}.");
    }
    const input = parseArguments(setupInput, body, "setup");
    const user = await completeSetup(await deps.db(), input.token, input);
    await limits.refund("auth_failures", clientAddress(request));
    return json(201, { email: user.email, role: user.role });
  } catch (error) {
    return errorResponse(error, "setup");
  }
}
