import { AppError, quote, toAppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { attachmentDownload, attachmentHeaders, operatorAttachmentDownload } from "@/server/services/attachments/serve";
import type { ServiceContext } from "@/server/services/context";

// GET /api/attachments/{message_id}/{sha256}?project=…&agent=…&agent_token=…: an attachment's raw
// bytes for browsers and plain HTTP clients. The agent is proven by `invoke`, as for the
// resource://attachment read; anyone who is not the message's sender or recipient gets 404.

export const ATTACHMENTS_PATH = "/api/attachments/";

function errorResponse(status: number, type: string, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: { type, message } }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", "x-content-type-options": "nosniff", ...headers },
  });
}

function decode(value: string, field: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new AppError("INVALID_ARGUMENT", `${quote(field)}: malformed %-encoding.`, { field });
  }
}

/** The route's input: the two path segments plus the query, each parameter at most once. */
function routeInput(url: URL): Record<string, string> | undefined {
  const segments = url.pathname.slice(ATTACHMENTS_PATH.length).split("/");
  if (segments.length !== 2) return undefined;
  const input: Record<string, string> = { message_id: decode(segments[0]!, "message_id"), sha256: decode(segments[1]!, "sha256") };
  for (const [key, value] of url.searchParams) {
    if (key in input) throw new AppError("INVALID_ARGUMENT", `${quote(key)}: given more than once.`, { field: key });
    // An empty value means "not given", as in resource URIs.
    if (value !== "") input[key] = value;
  }
  return input;
}

export async function serveAttachment(
  request: Request,
  context: (request: Request) => Promise<ServiceContext>,
  /** The headers a refusal carries (WWW-Authenticate on 401, Retry-After on 429). */
  challenge: (error: AppError, request: Request) => Record<string, string>,
): Promise<Response> {
  if (request.method !== "GET") {
    return errorResponse(405, "METHOD_NOT_ALLOWED", "Attachments answer GET only.", { allow: "GET" });
  }
  const url = new URL(request.url);
  try {
    const input = routeInput(url);
    if (!input) return errorResponse(404, "NOT_FOUND", `No route ${quote(url.pathname)}; use /api/attachments/{message_id}/{sha256}.`);
    const ctx = await context(request);
    // No agent named and none bound to the credential: the overseer's download (admin only).
    const operator = input.agent === undefined && input.agent_token === undefined && !ctx.actor.agent;
    const file = operator ? await invoke(operatorAttachmentDownload, ctx, input) : await invoke(attachmentDownload, ctx, input);
    return new Response(new Uint8Array(file.data), { status: 200, headers: attachmentHeaders(file) });
  } catch (error) {
    const appError = toAppError(error);
    if (appError.code === "INTERNAL_ERROR") console.error("[attachments] failed:", error);
    return errorResponse(appError.httpStatus, appError.code, appError.message, challenge(appError, request));
  }
}
