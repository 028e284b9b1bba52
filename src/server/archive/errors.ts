import { LockLostError } from "./lock";
import { ArchivePathError } from "./layout";

// Errors of the archive as health_check and /api/ready show them: one line, no stack, no SQL and no
// file system path (git and the file system name paths in their messages). The full error goes to
// the server's log only.

const MAX = 300;

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n").find((line) => line.trim())?.trim() ?? "unknown error";
}

function withoutPaths(text: string, known: readonly string[]): string {
  let result = text;
  for (const value of known) if (value) result = result.split(value).join("<archive>");
  // Anything else that looks like an absolute path or a URL.
  return result.replace(/(?:[a-z][a-z0-9+.-]*:\/\/\S+|(?:^|(?<=[\s'"(=]))\/[^\s'"):]+)/gi, "<path>");
}

/** A short, path-free description of an archive failure. */
export function describeArchiveError(error: unknown, known: readonly string[] = []): string {
  if (error instanceof LockLostError) return error.message;
  if (error instanceof ArchivePathError) return error.message;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const prefix = typeof code === "string" && /^E[A-Z]+$/.test(code) ? `${code}: ` : "";
  const line = withoutPaths(firstLine(error), known).replace(/^E[A-Z]+: /, "");
  const text = `${prefix}${line}`;
  return text.length > MAX ? `${text.slice(0, MAX - 1)}…` : text;
}
