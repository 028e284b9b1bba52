import { createHash } from "node:crypto";
import path from "node:path";

// Where everything lives in the Git archive (reference §8), as pure functions of database values:
// the writer, verify/rebuild, the reader and the export all place and find files through these.
// One repository for all projects:
//
//   projects/<project>/agents/<Name>/profile.json
//   projects/<project>/messages/YYYY/MM/<UTC %Y-%m-%dT%H-%M-%SZ>__<subject-slug>__<id>.md
//   projects/<project>/agents/<Name>/outbox/YYYY/MM/<same file name>
//   projects/<project>/agents/<Name>/inbox/YYYY/MM/<same file name>
//   projects/<project>/messages/threads/<thread>.md
//   projects/<project>/file_reservations/id-<id>.json
//   projects/<project>/attachments/<sha256[:2]>/<sha256>[.<ext>]
//
// No input can place a file outside the archive: every component is built from a checked or
// sanitised value (never a raw subject, path or key), and `resolveInArchive` checks the joined
// result once more against the root. Paths are repository-relative with `/` on every platform.

export class ArchivePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchivePathError";
  }
}

/** An agent name as register_agent stores it (adjective+noun, or an explicit id with `-`, `_` or `.`). */
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** What a project slug is made of (projects/slug.ts: lower-case letters, digits and `-`). */
const PLAIN_SLUG = /^[a-z0-9][a-z0-9-]{0,99}$/;
/** A thread id as send_message accepts it. */
const PLAIN_THREAD = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const SUBJECT_SLUG_MAX = 80;
const KEEP_MAX = 60;

function shortHash(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex").slice(0, 16);
}

/** Runs of characters outside [A-Za-z0-9._-] become `-`, ends trimmed of `-`, `_` and `.`, cut short. */
function sanitize(value: string, max: number): string {
  return value
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .slice(0, max)
    .replace(/^[-_.]+|[-_.]+$/g, "");
}

/**
 * The subject part of a message file name, as the reference makes it: runs outside
 * [A-Za-z0-9._-] become `-`, `-` and `_` are stripped from both ends, lower-cased, at most 80
 * characters, `message` when nothing is left. It is only ever the middle of a file name
 * (`<time>__<slug>__<id>.md`), so a slug such as `..` cannot name a directory.
 */
export function safeSlug(subject: string): string {
  const slug = subject
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "")
    .toLowerCase()
    .slice(0, SUBJECT_SLUG_MAX);
  return slug || "message";
}

/**
 * A project's folder name: its slug when it is a plain one (every slug ensure_project makes, up
 * to 100 characters); anything else (a very long slug) becomes a sanitised prefix plus `_` and a
 * hash. Plain slugs never contain `_`, so the two forms cannot meet.
 */
export function projectDirName(slug: string): string {
  if (PLAIN_SLUG.test(slug)) return slug;
  const prefix = sanitize(slug.toLowerCase(), KEEP_MAX) || "project";
  return `${prefix}_${shortHash(slug)}`;
}

/** An agent name as a folder name; refuses anything that is not a valid stored name. */
export function agentDirName(name: string): string {
  if (!AGENT_NAME.test(name)) throw new ArchivePathError("The agent name is not a valid archive path component.");
  return name;
}

/**
 * A thread id as a file name (without `.md`): as is when it is one send_message accepts; any
 * other value (older data, ids from elsewhere) becomes a sanitised prefix plus `_` and a hash.
 */
export function threadFileName(threadId: string): string {
  if (PLAIN_THREAD.test(threadId)) return threadId;
  const prefix = sanitize(threadId, KEEP_MAX) || "thread";
  return `${prefix}_${shortHash(threadId)}`;
}

function positiveId(id: number | bigint, what: string): string {
  const value = typeof id === "bigint" ? id : BigInt(Number.isSafeInteger(id) ? id : -1);
  if (value <= 0n) throw new ArchivePathError(`The ${what} id is not a positive integer.`);
  return value.toString();
}

function utcParts(date: Date): { year: string; month: string; stamp: string } {
  if (Number.isNaN(date.getTime())) throw new ArchivePathError("The message time is not a valid date.");
  const iso = date.toISOString(); // 2025-01-31T12:34:56.789Z
  const year = iso.slice(0, 4);
  if (!/^\d{4}$/.test(year)) throw new ArchivePathError("The message time is outside the years 0000-9999.");
  return { year, month: iso.slice(5, 7), stamp: `${iso.slice(0, 10)}T${iso.slice(11, 13)}-${iso.slice(14, 16)}-${iso.slice(17, 19)}Z` };
}

export function projectDir(slug: string): string {
  return `projects/${projectDirName(slug)}`;
}

export function agentDir(slug: string, agentName: string): string {
  return `${projectDir(slug)}/agents/${agentDirName(agentName)}`;
}

export function profilePath(slug: string, agentName: string): string {
  return `${agentDir(slug, agentName)}/profile.json`;
}

export interface MessageFileInput {
  id: number;
  subject: string;
  createdTs: Date;
}

/** `<UTC %Y-%m-%dT%H-%M-%SZ>__<subject-slug>__<id>.md` */
export function messageFileName(message: MessageFileInput): string {
  const { stamp } = utcParts(message.createdTs);
  return `${stamp}__${safeSlug(message.subject)}__${positiveId(message.id, "message")}.md`;
}

function monthDir(createdTs: Date): string {
  const { year, month } = utcParts(createdTs);
  return `${year}/${month}`;
}

/** The canonical copy: `projects/<slug>/messages/YYYY/MM/<file>`. */
export function messagePath(slug: string, message: MessageFileInput): string {
  return `${projectDir(slug)}/messages/${monthDir(message.createdTs)}/${messageFileName(message)}`;
}

/** An agent's copy: `projects/<slug>/agents/<Name>/<inbox|outbox>/YYYY/MM/<file>`. */
export function mailboxPath(slug: string, agentName: string, box: "inbox" | "outbox", message: MessageFileInput): string {
  return `${agentDir(slug, agentName)}/${box}/${monthDir(message.createdTs)}/${messageFileName(message)}`;
}

export function threadPath(slug: string, threadId: string): string {
  return `${projectDir(slug)}/messages/threads/${threadFileName(threadId)}.md`;
}

export function reservationPath(slug: string, reservationId: number): string {
  return `${projectDir(slug)}/file_reservations/id-${positiveId(reservationId, "file reservation")}.json`;
}

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/svg+xml": "svg",
  "application/pdf": "pdf",
  "application/json": "json",
  "application/zip": "zip",
  "text/plain": "txt",
  "text/markdown": "md",
  "text/csv": "csv",
  "text/html": "html",
};

/** `projects/<slug>/attachments/<sha256[:2]>/<sha256>` plus an extension when the media type is a known one. */
export function attachmentPath(slug: string, sha256: string, mediaType?: string): string {
  if (!SHA256.test(sha256)) throw new ArchivePathError("The attachment hash is not a lowercase hex SHA-256.");
  const extension = mediaType ? EXTENSIONS[mediaType.split(";", 1)[0]!.trim().toLowerCase()] : undefined;
  return `${projectDir(slug)}/attachments/${sha256.slice(0, 2)}/${sha256}${extension ? `.${extension}` : ""}`;
}

/** The id at the end of a message file name, or undefined for any other name. */
export function messageIdFromFileName(fileName: string): number | undefined {
  const match = /__([1-9][0-9]{0,15})\.md$/.exec(fileName);
  if (!match) return undefined;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}

const SAFE_COMPONENT = /^[A-Za-z0-9._-]+$/;

/**
 * The absolute path of a repository-relative archive path: every component must be plain
 * ([A-Za-z0-9._-], not `.` or `..`, at most 255 bytes) and the result must stay under `root`.
 */
export function resolveInArchive(root: string, relative: string): string {
  if (relative.length === 0 || relative.length > 4096) throw new ArchivePathError("The archive path is empty or too long.");
  const components = relative.split("/");
  for (const component of components) {
    if (!SAFE_COMPONENT.test(component) || component === "." || component === ".." || component.length > 255) {
      throw new ArchivePathError("The archive path has a component that is not allowed.");
    }
  }
  const base = path.resolve(root);
  const resolved = path.resolve(base, ...components);
  if (!resolved.startsWith(base + path.sep)) throw new ArchivePathError("The archive path leaves the archive.");
  return resolved;
}
