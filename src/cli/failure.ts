import { AppError } from "@/server/errors";

// One line for the operator from anything a command threw: the service layer's own messages as
// they are, the usual database and file-system troubles in plain words, and for anything else its
// type and code only (never a stack, SQL or a raw driver message).

const DATABASE_CODES: Record<string, string> = {
  ECONNREFUSED: "cannot reach the database (connection refused); check DATABASE_URL and that Postgres is running",
  ENOTFOUND: "cannot reach the database (host not found); check DATABASE_URL",
  EAI_AGAIN: "cannot reach the database (host name lookup failed); check DATABASE_URL",
  ETIMEDOUT: "cannot reach the database (timed out); check DATABASE_URL and the network",
  ECONNRESET: "the database connection was reset; try again",
  "28P01": "the database refused the credentials in DATABASE_URL",
  "28000": "the database refused the connection (authorisation); check DATABASE_URL",
  "3D000": "the database named in DATABASE_URL does not exist",
  "57P01": "the database is shutting down; try again",
  "57P03": "the database is not accepting connections yet; try again shortly",
  "53300": "the database has too many connections; try again shortly",
};

const FILE_CODES: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EROFS: "read-only file system",
  EDQUOT: "disk quota exceeded",
  ENAMETOOLONG: "file name too long",
  ENOTDIR: "a path component is not a directory",
  EISDIR: "is a directory",
  EMFILE: "too many open files",
};

/** Every `code` found on the error, its causes and a driver-adapter error Prisma wraps. */
function codes(error: unknown, seen = new Set<unknown>()): string[] {
  if (!error || typeof error !== "object" || seen.has(error)) return [];
  seen.add(error);
  const candidate = error as {
    code?: unknown;
    originalCode?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: { cause?: unknown } };
    errors?: unknown;
  };
  const own = [candidate.code, candidate.originalCode].filter((code): code is string => typeof code === "string");
  const nested = [candidate.cause, candidate.meta?.driverAdapterError?.cause, ...(Array.isArray(candidate.errors) ? candidate.errors : [])];
  return [...own, ...nested.flatMap((inner) => codes(inner, seen))];
}

/** The one-line explanation of a failure this module recognises, else undefined. */
export function knownFailure(error: unknown): string | undefined {
  if (error instanceof AppError) return error.message;
  if (error instanceof Error && error.name === "DataDirLockedError") return error.message;
  if (error instanceof Error && error.message.startsWith("Invalid environment:")) {
    const problems = error.message.split("\n").slice(1).map((line) => line.trim()).filter(Boolean);
    return `invalid environment: ${problems.join("; ")}`;
  }
  const found = codes(error);
  const database = found.find((code) => code in DATABASE_CODES);
  if (database) return DATABASE_CODES[database]!;
  const file = found.find((code) => code in FILE_CODES);
  if (file) return `file system error: ${FILE_CODES[file]} (${file})`;
  return undefined;
}

export function describeFailure(error: unknown): string {
  const known = knownFailure(error);
  if (known !== undefined) return known;
  const name = error instanceof Error ? error.name : typeof error;
  const code = codes(error)[0];
  return `unexpected error (${name}${code ? ` ${code}` : ""})`;
}
