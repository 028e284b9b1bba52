// One error type for the whole service layer. Services throw AppError with a code; each surface
// (MCP, tRPC, HTTP) maps the code through ERROR_CODES once. Messages keep the phrases that clients
// of mcp_agent_mail match on ("not found", "registration_token", "absolute", …).

export const ERROR_CODES = {
  INVALID_ARGUMENT: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  INVALID_AGENT_NAME: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  PROGRAM_NAME_AS_AGENT: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  MODEL_NAME_AS_AGENT: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  EMAIL_AS_AGENT: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  BROADCAST_ATTEMPT: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  DESCRIPTIVE_NAME: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  UNIX_USERNAME_AS_AGENT: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  NAME_TAKEN: { http: 409, trpc: "CONFLICT", recoverable: true },
  EMPTY_PROGRAM: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  EMPTY_MODEL: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  CONFIGURATION_ERROR: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  INVALID_THREAD_ID: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  INVALID_TOPIC: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  INVALID_TIMESTAMP: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  INVALID_LIMIT: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  PAYLOAD_TOO_LARGE: { http: 413, trpc: "PAYLOAD_TOO_LARGE", recoverable: true },
  TOO_MANY_RECIPIENTS: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  RECIPIENT_NOT_FOUND: { http: 404, trpc: "NOT_FOUND", recoverable: true },
  CONTACT_BLOCKED: { http: 403, trpc: "FORBIDDEN", recoverable: true },
  CONTACT_REQUIRED: { http: 403, trpc: "FORBIDDEN", recoverable: true },
  AGENT_RETIRED: { http: 409, trpc: "CONFLICT", recoverable: true },
  PROJECT_ARCHIVED: { http: 409, trpc: "CONFLICT", recoverable: true },
  INVALID_WINDOW_UUID: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  INVALID_DISPLAY_NAME: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  WINDOW_NOT_FOUND: { http: 404, trpc: "NOT_FOUND", recoverable: true },
  NOT_FOUND: { http: 404, trpc: "NOT_FOUND", recoverable: true },
  EMPTY_PATHS: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  EMPTY_IDS: { http: 400, trpc: "BAD_REQUEST", recoverable: true },
  RESERVATION_ACTIVE: { http: 409, trpc: "CONFLICT", recoverable: true },
  RESERVATION_LIMIT: { http: 409, trpc: "CONFLICT", recoverable: true },
  FILE_RESERVATION_CONFLICT: { http: 409, trpc: "CONFLICT", recoverable: true },
  AUTHENTICATION_REQUIRED: { http: 401, trpc: "UNAUTHORIZED", recoverable: true },
  FORBIDDEN: { http: 403, trpc: "FORBIDDEN", recoverable: false },
  CONFLICT: { http: 409, trpc: "CONFLICT", recoverable: true },
  RATE_LIMITED: { http: 429, trpc: "TOO_MANY_REQUESTS", recoverable: true },
  DATABASE_UNAVAILABLE: { http: 503, trpc: "INTERNAL_SERVER_ERROR", recoverable: true },
  AUTH_UNAVAILABLE: { http: 503, trpc: "INTERNAL_SERVER_ERROR", recoverable: true },
  INTERNAL_ERROR: { http: 500, trpc: "INTERNAL_SERVER_ERROR", recoverable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type TrpcErrorCode = (typeof ERROR_CODES)[ErrorCode]["trpc"];

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, data?: Record<string, unknown>) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.data = data;
  }

  get recoverable(): boolean {
    return ERROR_CODES[this.code].recoverable;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get trpcCode(): TrpcErrorCode {
    return ERROR_CODES[this.code].trpc;
  }
}

/**
 * Turns anything thrown into an AppError that is safe to show a client. Unknown errors (a Prisma
 * message, a stack) are logged in full by the caller and reduced to a generic INTERNAL_ERROR here.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isConnectionFailure(error)) {
    return new AppError("DATABASE_UNAVAILABLE", "The database is unavailable; try again shortly.");
  }
  return new AppError("INTERNAL_ERROR", "Internal error; the server log has the details.");
}

function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "57P01", "53300"].includes(code);
}

/** Postgres unique_violation, whether it arrives raw (pg, PGlite) or wrapped by Prisma (P2002). */
export function isUniqueViolation(error: unknown): boolean {
  const candidate = error as { code?: unknown; cause?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } } | null;
  if (!candidate) return false;
  if (candidate.code === "P2002" || candidate.code === "23505") return true;
  if (candidate.meta?.driverAdapterError?.cause?.originalCode === "23505") return true;
  return candidate.cause !== undefined && candidate.cause !== error && isUniqueViolation(candidate.cause);
}

/** Longest piece of caller input an error message repeats. */
export const QUOTE_MAX = 100;

/**
 * Caller input as an error message may repeat it: at most QUOTE_MAX characters (whole code
 * points), control characters shown as escapes, so a hostile value can neither bloat nor forge
 * the message.
 */
export function quote(value: unknown): string {
  const text = String(value);
  // A code point is at most two UTF-16 units: never split more than the head of a long value.
  const head = Array.from(text.slice(0, QUOTE_MAX * 2));
  const shown = head.length > QUOTE_MAX || text.length > QUOTE_MAX * 2 ? `${head.slice(0, QUOTE_MAX).join("")}…` : text;
  return shown.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
