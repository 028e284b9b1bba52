// What the archive's files and commit messages say (reference §8), as pure functions: the worker
// and rebuild write exactly these, so a rebuilt file is byte for byte the one the worker wrote.

/** JSON with two-space indent and every object's keys sorted, as Python's `json.dumps(indent=2, sort_keys=True)`. */
export function sortedJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([key, item]) => [key, sortKeys(item)]));
  }
  return value;
}

export interface AttachmentEntry {
  name: string;
  media_type: string;
  bytes: number;
  sha256: string;
  /** Repository-relative path of the attachment's file. */
  path: string;
}

export interface MessageDocument {
  id: number;
  thread_id: string | null;
  /** The project's human_key. */
  project: string;
  project_slug: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  importance: string;
  ack_required: boolean;
  /** ISO-8601 UTC. */
  created: string;
  attachments: AttachmentEntry[];
  /** Only when the sender belongs to another project. */
  from_project?: string;
  from_project_slug?: string;
  from_address?: string;
}

/** `---json\n` + the front matter + `\n---\n\n` + the body (trimmed) + `\n`: every copy of a message is this text. */
export function renderMessageFile(document: MessageDocument, bodyMd: string): string {
  return `---json\n${sortedJson(document)}\n---\n\n${bodyMd.trim()}\n`;
}

const DIGEST_PREVIEW = 1200;

export function threadDigestHeader(threadId: string): string {
  return `# Thread ${threadId}\n\n`;
}

/**
 * One entry of a thread's digest (messages/threads/<thread>.md): the subject, who wrote to whom
 * and when, a link to the canonical copy (repository-relative), the body cut to 1,200 characters.
 */
export function threadDigestEntry(entry: { subject: string; created: string; from: string; to: string[]; canonicalPath: string; bodyMd: string }): string {
  const subject = entry.subject.trim();
  let preview = entry.bodyMd.trim();
  if (preview.length > DIGEST_PREVIEW) preview = `${preview.slice(0, DIGEST_PREVIEW).trimEnd()}\n...`;
  return (
    (subject ? `### ${subject}\n\n` : "") +
    `## ${entry.created} — ${entry.from} → ${entry.to.join(", ")}\n\n` +
    `[View canonical](${entry.canonicalPath})\n\n` +
    `${preview}\n\n---\n\n`
  );
}

/** profile.json: the agent as the tools show it (never a token), sorted keys, trailing newline. */
export function renderProfile(agent: Record<string, unknown>): string {
  return `${sortedJson(agent)}\n`;
}

export interface ReservationDocument {
  id: number;
  /** The project's human_key. */
  project: string;
  agent: string;
  path_pattern: string;
  exclusive: boolean;
  reason: string;
  created_ts: string;
  /** Clamped to released_ts once released. */
  expires_ts: string;
  released_ts?: string;
}

export function renderReservation(document: ReservationDocument): string {
  return `${sortedJson(document)}\n`;
}

// Commit messages. Values taken from the database go into single lines: control characters
// (newlines above all) become spaces, so no subject or pattern can start a line of its own and
// forge a trailer such as Mailroom-Outbox.
const LINE_MAX = 200;

export function oneLine(value: string, max = LINE_MAX): string {
  const flat = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** What one outbox event contributes to a commit message. */
export interface CommitPart {
  /** The first line on its own (`mail: …`, `agent: profile …`, `file_reservation: …`). */
  subject: string;
  /** The lines under it when the commit holds this event alone. */
  body: string[];
  /** Whether the body already carries `Agent:` (the mail fallback does). */
  bodyHasAgent: boolean;
  /** Agents named in trailers (`Agent: <name>`). */
  agents: string[];
  outboxId: bigint;
}

export function mailCommitPart(input: {
  outboxId: bigint;
  sender: string;
  recipients: string[];
  subject: string;
  projectKey: string;
  created: string;
  threadId: string | null;
  messageId: number;
}): CommitPart {
  const sender = oneLine(input.sender);
  return {
    subject: oneLine(`mail: ${sender} -> ${input.recipients.join(", ")} | ${input.subject}`, 400),
    body: [
      "TOOL: send_message",
      `Agent: ${sender}`,
      `Project: ${oneLine(input.projectKey, 1100)}`,
      `Started: ${input.created}`,
      "Status: SUCCESS",
      `Thread: ${oneLine(input.threadId ?? String(input.messageId))}`,
    ],
    bodyHasAgent: true,
    agents: [sender],
    outboxId: input.outboxId,
  };
}

export function profileCommitPart(input: { outboxId: bigint; agent: string }): CommitPart {
  return { subject: `agent: profile ${oneLine(input.agent)}`, body: [], bodyHasAgent: false, agents: [], outboxId: input.outboxId };
}

export function reservationCommitPart(input: { outboxId: bigint; rows: { agent: string; pathPattern: string }[] }): CommitPart {
  const [first, ...rest] = input.rows;
  if (!first) throw new Error("A reservation commit part needs at least one reservation");
  const line = (row: { agent: string; pathPattern: string }) => `${oneLine(row.agent)} ${oneLine(row.pathPattern, 600)}`;
  return {
    subject: `file_reservation: ${line(first)}${rest.length ? ` (+${rest.length} more)` : ""}`,
    body: rest.length ? input.rows.map((row) => `- ${line(row)}`) : [],
    bodyHasAgent: false,
    agents: [...new Set(input.rows.map((row) => oneLine(row.agent)))],
    outboxId: input.outboxId,
  };
}

export const OUTBOX_TRAILER = "Mailroom-Outbox";

/** Sorted ids as ranges: `3-5,9,12-13`. */
export function formatIdRanges(ids: readonly bigint[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const ranges: string[] = [];
  let start: bigint | undefined;
  let end: bigint | undefined;
  for (const id of sorted) {
    if (start !== undefined && end !== undefined && id === end + 1n) {
      end = id;
      continue;
    }
    if (start !== undefined) ranges.push(start === end ? `${start}` : `${start}-${end}`);
    start = id;
    end = id;
  }
  if (start !== undefined) ranges.push(start === end ? `${start}` : `${start}-${end}`);
  return ranges.join(",");
}

/** The ids a `Mailroom-Outbox` value lists; undefined when it is not a list of ranges (at most `limit` ids). */
export function parseIdRanges(value: string, limit = 100_000): bigint[] | undefined {
  const ids: bigint[] = [];
  for (const part of value.trim().split(",")) {
    const match = /^([1-9][0-9]{0,18})(?:-([1-9][0-9]{0,18}))?$/.exec(part.trim());
    if (!match) return undefined;
    const start = BigInt(match[1]!);
    const end = match[2] ? BigInt(match[2]) : start;
    if (end < start || end - start >= BigInt(limit - ids.length)) return undefined;
    for (let id = start; id <= end; id += 1n) ids.push(id);
  }
  return ids;
}

/**
 * The commit message of a batch. One event: its own message (the mail fallback's lines, or the
 * reservation list) with the trailers. Several: `batch: N commits` and the first line of each, as
 * the reference's commit queue merges them. The last paragraph is always git trailers: `Agent:`
 * for each agent that mailed or reserved (unless the body has it) and `Mailroom-Outbox: <ids>`.
 */
export function batchCommitMessage(parts: readonly CommitPart[]): string {
  if (parts.length === 0) throw new Error("A commit needs at least one event");
  const outbox = `${OUTBOX_TRAILER}: ${formatIdRanges(parts.map((part) => part.outboxId))}`;
  if (parts.length === 1) {
    const [part] = parts as [CommitPart];
    if (part.bodyHasAgent) return `${part.subject}\n\n${[...part.body, outbox].join("\n")}\n`;
    const trailers = [...part.agents.map((agent) => `Agent: ${agent}`), outbox].join("\n");
    return part.body.length ? `${part.subject}\n\n${part.body.join("\n")}\n\n${trailers}\n` : `${part.subject}\n\n${trailers}\n`;
  }
  const agents = [...new Set(parts.flatMap((part) => part.agents))];
  const trailers = [...agents.map((agent) => `Agent: ${agent}`), outbox].join("\n");
  return `batch: ${parts.length} commits\n\n${parts.map((part) => `- ${part.subject}`).join("\n")}\n\n${trailers}\n`;
}

/** The `Mailroom-Outbox` ids of a commit message: lines of exactly that form in its last paragraph (the trailers). */
export function outboxIdsOfMessage(message: string): bigint[] {
  const paragraphs = message.trim().split(/\n\s*\n/);
  if (paragraphs.length < 2) return [];
  const ids: bigint[] = [];
  for (const line of paragraphs[paragraphs.length - 1]!.split("\n")) {
    if (!line.startsWith(`${OUTBOX_TRAILER}: `)) continue;
    const parsed = parseIdRanges(line.slice(OUTBOX_TRAILER.length + 2));
    if (parsed) ids.push(...parsed);
  }
  return ids;
}
