import { createHash } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";
import type { Project } from "@/generated/prisma/client";
import { AppError, quote } from "@/server/errors";
import { ATTACHMENTS_MAX_ITEMS, type AttachmentInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import type { AttachmentMeta } from "./meta";

// A send's attachments, checked and read before anything is written: content sent inline
// (`attachments`, base64) and files on this server's disk inside the project's directory
// (`attachment_paths`). Every refusal names the entry (`attachments[2].content_base64`,
// `attachment_paths[0]`) and, for sizes, the limit and the setting that sets it.

export interface PreparedAttachment {
  meta: AttachmentMeta;
  data: Buffer<ArrayBuffer>;
}

/**
 * The base name of `raw`: the part after the last `/` or `\`, without control or format characters
 * (NUL, bidi overrides that could disguise an extension), without the characters Windows refuses
 * in names, and without leading dots or spaces (no hidden files, no `..`) or trailing ones.
 */
export function safeFileName(raw: string): string {
  const base = raw.split(/[/\\]/).pop() ?? "";
  return base
    .replace(/[\p{Cc}\p{Cf}]/gu, "")
    .replace(/[<>:"|?*]/g, "_")
    .replace(/^[\s.]+/, "")
    .replace(/[\s.]+$/, "");
}

// RFC 6838 restricted names: type/subtype, each starting with a letter or digit.
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;
const MEDIA_TYPE_MAX = 127;

/** `type/subtype` in lower case, or undefined when it is not a valid media type. */
export function normalizeMediaType(raw: string): string | undefined {
  const value = raw.trim().toLowerCase();
  return value.length <= MEDIA_TYPE_MAX && MEDIA_TYPE.test(value) ? value : undefined;
}

const BASE64_ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decoded size of text already known to be in the base64 alphabet with length a multiple of 4. */
function decodedLength(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

function isBase64Shaped(text: string): boolean {
  return text.length % 4 === 0 && BASE64_ALPHABET.test(text);
}

/**
 * The bytes of canonical standard base64, or undefined. Node's decoder skips characters it does
 * not know and ignores stray bits, so the text must re-encode to itself: no whitespace, no
 * base64url, no missing padding, no non-zero trailing bits.
 */
export function decodeStrictBase64(text: string): Buffer<ArrayBuffer> | undefined {
  if (!isBase64Shaped(text)) return undefined;
  const data = Buffer.from(text, "base64");
  return data.toString("base64") === text ? data : undefined;
}

const MEDIA_TYPES_BY_EXTENSION: Record<string, string> = {
  ".txt": "text/plain",
  ".log": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".html": "text/html",
  ".htm": "text/html",
  ".css": "text/css",
  ".xml": "application/xml",
  ".json": "application/json",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".ts": "text/plain",
  ".py": "text/x-python",
  ".diff": "text/x-diff",
  ".patch": "text/x-diff",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
};

/** The media type a file name's extension implies; application/octet-stream when it implies none. */
export function mediaTypeForName(name: string): string {
  return MEDIA_TYPES_BY_EXTENSION[path.extname(name).toLowerCase()] ?? "application/octet-stream";
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function tooLarge(field: string, what: string, bytes: number, limit: number, setting: string): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `${field}: ${what} is ${bytes} bytes; the limit is ${limit} bytes (${setting}).`, { field });
}

function invalid(field: string, message: string): AppError {
  return new AppError("INVALID_ARGUMENT", `${field}: ${message}`, { field });
}

class Budget {
  private used = 0;
  constructor(private readonly ctx: ServiceContext) {}

  /** Counts a file against the per-file and per-message limits. */
  take(field: string, what: string, bytes: number): void {
    const { maxBytes, maxTotalBytes } = this.ctx.config.attachments;
    if (bytes > maxBytes) throw tooLarge(field, what, bytes, maxBytes, "ATTACHMENT_MAX_BYTES");
    this.used += bytes;
    if (this.used > maxTotalBytes) {
      throw tooLarge("attachments", "the message's attachments together", this.used, maxTotalBytes, "ATTACHMENTS_MAX_TOTAL_BYTES");
    }
  }
}

function fromContent(item: AttachmentInput, index: number, budget: Budget): PreparedAttachment {
  const field = `attachments[${index}]`;
  const name = safeFileName(item.name);
  if (!name) throw invalid(`${field}.name`, `'${quote(item.name)}' has no file name left once reduced to a base name; give a name like report.txt.`);
  const mediaType = normalizeMediaType(item.media_type);
  if (!mediaType) throw invalid(`${field}.media_type`, `'${quote(item.media_type)}' is not a media type; use type/subtype, e.g. text/plain or image/png.`);
  const content = item.content_base64;
  if (!isBase64Shaped(content)) throw invalid(`${field}.content_base64`, "must be standard base64 (A-Z a-z 0-9 + /, padded with =, no spaces).");
  // Sized from the text before decoding, so an oversized file is refused without being decoded.
  budget.take(`${field}.content_base64`, "the decoded content", decodedLength(content));
  const data = decodeStrictBase64(content);
  if (!data) throw invalid(`${field}.content_base64`, "must be canonical standard base64 (it does not re-encode to itself).");
  return { meta: { name, media_type: mediaType, bytes: data.length, sha256: sha256(data) }, data };
}

/** The real path of the project's directory on this server, or undefined when it is not one. */
async function projectDirectory(project: Project): Promise<string | undefined> {
  try {
    const real = await fs.realpath(project.humanKey);
    return (await fs.stat(real)).isDirectory() ? real : undefined;
  } catch {
    return undefined;
  }
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== "" && relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

// O_NOFOLLOW: the last component cannot have been swapped for a link since realpath looked at
// it; O_NONBLOCK: opening a FIFO does not wait for a writer (fstat then refuses it).
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

async function fromPath(project: Project, root: string, entry: string, index: number, budget: Budget): Promise<PreparedAttachment> {
  const field = `attachment_paths[${index}]`;
  const shown = `'${quote(entry)}'`;
  if (!entry.trim()) throw invalid(field, "is empty; give a file path inside the project's directory.");
  let real: string;
  try {
    real = await fs.realpath(path.resolve(project.humanKey, entry));
  } catch {
    throw invalid(field, `${shown} does not exist or cannot be read on this server.`);
  }
  if (!isInside(root, real)) {
    throw invalid(field, `${shown} is outside the project's directory (human_key), symbolic links followed; only files inside it can be attached.`);
  }
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(real, OPEN_FLAGS);
  } catch {
    throw invalid(field, `${shown} cannot be opened for reading.`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw invalid(field, `${shown} is not a regular file.`);
    budget.take(field, shown, stat.size);
    // One byte more than expected: a file that grew since fstat is noticed rather than read whole.
    const buffer = Buffer.alloc(stat.size + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) throw invalid(field, `${shown} changed while it was being read; try again.`);
    }
    const data = buffer.subarray(0, length);
    const name = safeFileName(entry) || "attachment";
    return { meta: { name, media_type: mediaTypeForName(name), bytes: data.length, sha256: sha256(data) }, data };
  } finally {
    await handle.close();
  }
}

/**
 * Checks and reads every attachment of one send, content entries first, in the order given.
 * Nothing is stored here: the caller writes blobs and message in one transaction.
 */
export async function prepareAttachments(
  ctx: ServiceContext,
  project: Project,
  content: readonly AttachmentInput[] | null | undefined,
  paths: readonly string[] | null | undefined,
): Promise<PreparedAttachment[]> {
  const items = content ?? [];
  const files = paths ?? [];
  if (items.length + files.length > ATTACHMENTS_MAX_ITEMS) {
    const field = items.length ? "attachments" : "attachment_paths";
    throw invalid(field, `${items.length + files.length} attachments; at most ${ATTACHMENTS_MAX_ITEMS} per message (attachments and attachment_paths together).`);
  }
  const budget = new Budget(ctx);
  const prepared = items.map((item, index) => fromContent(item, index, budget));
  if (files.length) {
    const root = await projectDirectory(project);
    if (!root) {
      throw invalid("attachment_paths", "the project's human_key is not a directory on this server, so no file can be attached from it; send the files as attachments (base64 content) instead.");
    }
    for (const [index, entry] of files.entries()) prepared.push(await fromPath(project, root, entry, index, budget));
  }
  return prepared;
}
