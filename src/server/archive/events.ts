import { z } from "zod";
import { attachmentMetas } from "@/server/services/attachments/meta";
import { isoTs } from "@/server/services/format";
import { ArchivePathError, attachmentPath, mailboxPath, messagePath, profilePath, reservationPath, threadPath } from "./layout";
import {
  mailCommitPart,
  profileCommitPart,
  renderMessageFile,
  renderProfile,
  renderReservation,
  reservationCommitPart,
  threadDigestEntry,
  threadDigestHeader,
  type CommitPart,
  type MessageDocument,
} from "./render";

// From outbox rows to file operations: what each event writes, read from the database in a few
// queries per batch. Rows whose subject is gone (a message or agent deleted since) write nothing.

export type Query = <T>(sql: string, params?: unknown[]) => Promise<T[]>;

export const OUTBOX_KINDS = ["message", "agent_profile", "file_reservation"] as const;

export interface OutboxRow {
  id: bigint;
  kind: (typeof OUTBOX_KINDS)[number];
  payload: unknown;
  message_id: number | null;
}

/** One change to the working tree; a batch's operations run in order. */
export type FileOp =
  | { op: "write"; path: string; content: string }
  /** The bytes of an attachment blob, read when the operation runs (blobs can be large). */
  | { op: "blob"; path: string; sha256: string }
  /** Appended to a thread digest; `header` starts the file when it does not exist yet. */
  | { op: "append"; path: string; header: string; content: string };

export type Planned =
  | { row: OutboxRow; status: "write"; ops: FileOp[]; part: CommitPart }
  | { row: OutboxRow; status: "skip" }
  | { row: OutboxRow; status: "fail"; reason: string };

const messagePayload = z.object({ message_id: z.number().int().positive() });
const profilePayload = z.object({ agent: z.object({ id: z.number().int().positive() }).passthrough() });
const reservationPayload = z.object({ reservation_ids: z.array(z.number().int().positive()).min(1) });

interface MessageRecord {
  id: number;
  project_id: number;
  thread_id: string | null;
  subject: string;
  body_md: string;
  importance: string;
  ack_required: boolean;
  created_ts: Date;
  attachments: unknown;
  project_slug: string;
  project_key: string;
  sender_name: string;
  sender_project_id: number;
  sender_project_slug: string;
  sender_project_key: string;
}

interface RecipientRecord {
  message_id: number;
  kind: string;
  name: string;
}

interface AgentRecord {
  id: number;
  name: string;
  project_slug: string;
}

interface ReservationRecord {
  id: number;
  project_slug: string;
  project_key: string;
  agent: string;
  path_pattern: string;
  exclusive: boolean;
  reason: string;
  created_ts: Date;
  expires_ts: Date;
  released_ts: Date | null;
}

export interface MessageBundle {
  message: MessageRecord;
  recipients: RecipientRecord[];
}

export async function loadMessages(query: Query, ids: number[]): Promise<Map<number, MessageBundle>> {
  const bundles = new Map<number, MessageBundle>();
  if (ids.length === 0) return bundles;
  const messages = await query<MessageRecord>(
    `SELECT m.id, m.project_id, m.thread_id, m.subject, m.body_md, m.importance, m.ack_required, m.created_ts, m.attachments,
       p.slug AS project_slug, p.human_key AS project_key, s.name AS sender_name, s.project_id AS sender_project_id,
       sp.slug AS sender_project_slug, sp.human_key AS sender_project_key
     FROM messages m JOIN projects p ON p.id = m.project_id
       JOIN agents s ON s.id = m.sender_id JOIN projects sp ON sp.id = s.project_id
     WHERE m.id = ANY($1::int[])`,
    [ids],
  );
  for (const message of messages) bundles.set(message.id, { message, recipients: [] });
  const recipients = await query<RecipientRecord>(
    `SELECT r.message_id, r.kind, a.name FROM message_recipients r JOIN agents a ON a.id = r.agent_id
     WHERE r.message_id = ANY($1::int[])
     ORDER BY r.message_id, CASE r.kind WHEN 'to' THEN 0 WHEN 'cc' THEN 1 ELSE 2 END, a.id`,
    [ids],
  );
  for (const recipient of recipients) bundles.get(recipient.message_id)?.recipients.push(recipient);
  return bundles;
}

async function loadAgents(query: Query, ids: number[]): Promise<Map<number, AgentRecord>> {
  if (ids.length === 0) return new Map();
  const rows = await query<AgentRecord>(
    "SELECT a.id, a.name, p.slug AS project_slug FROM agents a JOIN projects p ON p.id = a.project_id WHERE a.id = ANY($1::int[])",
    [ids],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

export async function loadReservations(query: Query, ids: number[]): Promise<Map<number, ReservationRecord>> {
  if (ids.length === 0) return new Map();
  const rows = await query<ReservationRecord>(
    `SELECT f.id, p.slug AS project_slug, p.human_key AS project_key, a.name AS agent, f.path_pattern, f.exclusive, f.reason,
       f.created_ts, f.expires_ts, f.released_ts
     FROM file_reservations f JOIN projects p ON p.id = f.project_id JOIN agents a ON a.id = f.agent_id
     WHERE f.id = ANY($1::int[])`,
    [ids],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/** The files of one message: canonical copy, the local sender's outbox copy, one inbox copy per recipient, attachments. */
export function messageFiles(bundle: MessageBundle): { ops: FileOp[]; canonical: string; document: MessageDocument } {
  const { message, recipients } = bundle;
  const slug = message.project_slug;
  const lists = { to: [] as string[], cc: [] as string[], bcc: [] as string[] };
  for (const recipient of recipients) {
    const list = recipient.kind === "cc" ? lists.cc : recipient.kind === "bcc" ? lists.bcc : lists.to;
    list.push(recipient.name);
  }
  const crossProject = message.sender_project_id !== message.project_id;
  const attachments = attachmentMetas(message.attachments).map((meta) => ({
    name: meta.name,
    media_type: meta.media_type,
    bytes: meta.bytes,
    sha256: meta.sha256,
    path: attachmentPath(slug, meta.sha256, meta.media_type),
  }));
  const document: MessageDocument = {
    id: message.id,
    thread_id: message.thread_id,
    project: message.project_key,
    project_slug: slug,
    from: message.sender_name,
    ...lists,
    subject: message.subject,
    importance: message.importance,
    ack_required: message.ack_required,
    created: isoTs(message.created_ts),
    attachments,
    ...(crossProject
      ? {
          from_project: message.sender_project_key,
          from_project_slug: message.sender_project_slug,
          from_address: `project:${message.sender_project_slug}#${message.sender_name}`,
        }
      : {}),
  };
  const file = { id: message.id, subject: message.subject, createdTs: message.created_ts };
  const content = renderMessageFile(document, message.body_md);
  const canonical = messagePath(slug, file);
  const paths = [canonical];
  // The reference writes no outbox copy for a sender of another project (its outbox is there).
  if (!crossProject) paths.push(mailboxPath(slug, message.sender_name, "outbox", file));
  for (const name of new Set(recipients.map((recipient) => recipient.name))) paths.push(mailboxPath(slug, name, "inbox", file));
  const ops: FileOp[] = paths.map((path) => ({ op: "write", path, content }));
  const seen = new Set<string>();
  for (const attachment of attachments) {
    if (seen.has(attachment.path)) continue;
    seen.add(attachment.path);
    ops.push({ op: "blob", path: attachment.path, sha256: attachment.sha256 });
  }
  return { ops, canonical, document };
}

export function digestEntry(bundle: MessageBundle, canonical: string): string {
  const { message, recipients } = bundle;
  return threadDigestEntry({
    subject: message.subject,
    created: isoTs(message.created_ts),
    from: message.sender_name,
    // Every recipient (to, cc, bcc), as the reference's digest lists those it delivered to.
    to: recipients.map((recipient) => recipient.name),
    canonicalPath: canonical,
    bodyMd: message.body_md,
  });
}

function planMessage(row: OutboxRow, bundle: MessageBundle): Planned {
  const { ops, canonical, document } = messageFiles(bundle);
  const threadId = bundle.message.thread_id?.trim();
  if (threadId) {
    ops.push({ op: "append", path: threadPath(bundle.message.project_slug, threadId), header: threadDigestHeader(threadId), content: digestEntry(bundle, canonical) });
  }
  const part = mailCommitPart({
    outboxId: row.id,
    sender: document.from,
    recipients: [...document.to, ...document.cc, ...document.bcc],
    subject: document.subject,
    projectKey: document.project,
    created: document.created,
    threadId: bundle.message.thread_id,
    messageId: bundle.message.id,
  });
  return { row, status: "write", ops, part };
}

export function reservationDocument(record: ReservationRecord) {
  // Like the reference: a released reservation's expiry shows when it ended.
  const expires = record.released_ts && record.released_ts < record.expires_ts ? record.released_ts : record.expires_ts;
  return {
    id: record.id,
    project: record.project_key,
    agent: record.agent,
    path_pattern: record.path_pattern,
    exclusive: record.exclusive,
    reason: record.reason,
    created_ts: isoTs(record.created_ts),
    expires_ts: isoTs(expires),
    ...(record.released_ts ? { released_ts: isoTs(record.released_ts) } : {}),
  };
}

export function reservationFile(record: ReservationRecord): FileOp {
  return { op: "write", path: reservationPath(record.project_slug, record.id), content: renderReservation(reservationDocument(record)) };
}

function failure(row: OutboxRow, error: unknown): Planned {
  if (error instanceof ArchivePathError) return { row, status: "fail", reason: error.message };
  throw error;
}

/**
 * What each row writes. A row whose payload is not what its kind says, or whose data yields no
 * valid archive path, fails on its own (recorded on the row, never retried: the same data would
 * fail again); a database error fails the whole batch (retried).
 */
export async function planBatch(query: Query, rows: OutboxRow[]): Promise<Planned[]> {
  const messageIds = new Map<OutboxRow, number>();
  const agentIds = new Map<OutboxRow, { id: number; view: Record<string, unknown> }>();
  const reservationIds = new Map<OutboxRow, number[]>();
  const planned = new Map<OutboxRow, Planned>();
  for (const row of rows) {
    if (row.kind === "message") {
      const id = row.message_id ?? messagePayload.safeParse(row.payload).data?.message_id;
      if (id) messageIds.set(row, id);
      else planned.set(row, { row, status: "fail", reason: "The message event names no message." });
    } else if (row.kind === "agent_profile") {
      const parsed = profilePayload.safeParse(row.payload);
      if (parsed.success) agentIds.set(row, { id: parsed.data.agent.id, view: parsed.data.agent });
      else planned.set(row, { row, status: "fail", reason: "The profile event holds no agent." });
    } else {
      const parsed = reservationPayload.safeParse(row.payload);
      if (parsed.success) reservationIds.set(row, parsed.data.reservation_ids);
      else planned.set(row, { row, status: "fail", reason: "The reservation event names no reservations." });
    }
  }
  const messages = await loadMessages(query, [...new Set(messageIds.values())]);
  const agents = await loadAgents(query, [...new Set([...agentIds.values()].map((agent) => agent.id))]);
  const reservations = await loadReservations(query, [...new Set([...reservationIds.values()].flat())]);

  return rows.map((row): Planned => {
    const done = planned.get(row);
    if (done) return done;
    try {
      if (row.kind === "message") {
        const bundle = messages.get(messageIds.get(row)!);
        return bundle ? planMessage(row, bundle) : { row, status: "skip" };
      }
      if (row.kind === "agent_profile") {
        const { id, view } = agentIds.get(row)!;
        const agent = agents.get(id);
        if (!agent) return { row, status: "skip" };
        // The profile as the event recorded it; the folder from the agent as it is stored.
        const ops: FileOp[] = [{ op: "write", path: profilePath(agent.project_slug, agent.name), content: renderProfile(view) }];
        return { row, status: "write", ops, part: profileCommitPart({ outboxId: row.id, agent: agent.name }) };
      }
      const found = reservationIds
        .get(row)!
        .map((id) => reservations.get(id))
        .filter((record): record is ReservationRecord => record !== undefined)
        .sort((a, b) => a.id - b.id);
      if (found.length === 0) return { row, status: "skip" };
      return {
        row,
        status: "write",
        ops: found.map(reservationFile),
        part: reservationCommitPart({ outboxId: row.id, rows: found.map((record) => ({ agent: record.agent, pathPattern: record.path_pattern })) }),
      };
    } catch (error) {
      return failure(row, error);
    }
  });
}
