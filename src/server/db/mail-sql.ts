import { Prisma as P } from "@/generated/prisma/client";
import type { Db } from "./client";

// The mail hot paths in SQL: one statement per send (messages with their attachment lists,
// recipients, archive outbox, idempotency record, sender activity and the NOTIFY wake-ups commit
// together or not at all), and single-join reads for inboxes, threads and search. Everything is
// parameterised through Prisma's tagged templates.

export const MAIL_EVENTS_CHANNEL = "mailroom_events";

export interface MessageRow {
  id: number;
  project_id: number;
  sender_id: number;
  thread_id: string | null;
  topic: string | null;
  subject: string;
  importance: string;
  ack_required: boolean;
  created_ts: Date;
  attachments: unknown;
  body_md: string | null;
  sender_name: string;
  sender_project_id: number;
  sender_project_slug: string;
  sender_project_key: string;
  /** The viewer's own recipient row, when it has one. */
  kind: string | null;
  read_ts: Date | null;
  ack_ts: Date | null;
}

function messageColumns(includeBodies: boolean) {
  return P.sql`m.id, m.project_id, m.sender_id, m.thread_id, m.topic, m.subject, m.importance, m.ack_required,
    m.created_ts, m.attachments, CASE WHEN ${includeBodies}::boolean THEN m.body_md END AS body_md,
    s.name AS sender_name, s.project_id AS sender_project_id, sp.slug AS sender_project_slug, sp.human_key AS sender_project_key`;
}

const SENDER_JOIN = P.sql`JOIN agents s ON s.id = m.sender_id JOIN projects sp ON sp.id = s.project_id`;

// created_ts is stored with microseconds but every result shows milliseconds, and clients pass
// those values back as since_ts. Comparing at millisecond granularity keeps "strictly after the
// created_ts you were shown" from returning that same message again.
function createdAfter(since: Date) {
  return P.sql`m.created_ts >= ${new Date(since.getTime() + 1)}`;
}
function createdAtOrBefore(until: Date) {
  return P.sql`m.created_ts < ${new Date(until.getTime() + 1)}`;
}

export interface DeliveryInput {
  projectId: number;
  recipients: { agentId: number; kind: "to" | "cc" | "bcc" }[];
}

export interface NewMessage {
  senderId: number;
  threadId: string | null;
  topic: string | null;
  subject: string;
  bodyMd: string;
  importance: string;
  ackRequired: boolean;
  deliveries: DeliveryInput[];
  idempotency?: { key: string; tool: string };
  /** messages.attachments of every delivered row; the blobs must be inserted in the same transaction. */
  attachments?: { name: string; media_type: string; bytes: number; sha256: string }[];
  /**
   * Insert nothing (and return no rows) when another agent holds an unexpired reservation in a
   * delivered project whose pattern matches this regular expression: the caller then runs the
   * full check. Spares every send a statement of its own for a rare case.
   */
  unlessReserved?: { pattern: string; now: Date };
}

export interface InsertedMessage {
  id: number;
  project_id: number;
  created_ts: Date;
}

/** Inserts every delivery of one send in a single statement; throws unique_violation on a replayed key. */
export async function insertMessages(db: Db, input: NewMessage): Promise<InsertedMessage[]> {
  const projectIds = input.deliveries.map((delivery) => delivery.projectId);
  const flat = input.deliveries.flatMap((delivery) =>
    delivery.recipients.map((recipient) => ({ projectId: delivery.projectId, ...recipient })),
  );
  const key = input.idempotency?.key ?? null;
  const tool = input.idempotency?.tool ?? null;
  const guard = input.unlessReserved;
  return db.$queryRaw<InsertedMessage[]>`
    WITH input AS (
      SELECT project_id, ord FROM unnest(${projectIds}::int[]) WITH ORDINALITY AS d(project_id, ord)
      WHERE ${guard?.pattern ?? null}::text IS NULL OR NOT EXISTS (
        SELECT 1 FROM file_reservations f
        WHERE f.project_id = ANY(${projectIds}::int[]) AND f.released_ts IS NULL AND f.expires_ts > ${guard?.now ?? null}::timestamptz
          AND f.agent_id <> ${input.senderId} AND f.path_pattern ~ ${guard?.pattern ?? null}::text)
    ), msg AS (
      INSERT INTO messages (project_id, sender_id, thread_id, topic, subject, body_md, importance, ack_required, attachments)
      SELECT project_id, ${input.senderId}, ${input.threadId}, ${input.topic}, ${input.subject}, ${input.bodyMd},
             ${input.importance}, ${input.ackRequired}, ${JSON.stringify(input.attachments ?? [])}::jsonb FROM input ORDER BY ord
      RETURNING id, project_id, created_ts, search
    ), rcpt AS (
      INSERT INTO message_recipients (message_id, agent_id, kind, ack_required, search)
      SELECT msg.id, r.agent_id, r.kind, ${input.ackRequired}, msg.search || ('@a' || r.agent_id::text)::tsvector
      FROM unnest(${flat.map((r) => r.projectId)}::int[], ${flat.map((r) => r.agentId)}::int[], ${flat.map((r) => r.kind)}::text[])
        AS r(project_id, agent_id, kind)
      JOIN msg ON msg.project_id = r.project_id
      RETURNING message_id, agent_id
    ), outbox AS (
      INSERT INTO archive_outbox (project_id, kind, payload, message_id)
      SELECT project_id, 'message', jsonb_build_object('message_id', id), id FROM msg
    ), touched AS (
      UPDATE agents SET last_active_ts = now() WHERE id = ${input.senderId}
    ), idem AS (
      INSERT INTO idempotency_keys (sender_id, key, tool, message_ids)
      SELECT ${input.senderId}, ${key}::text, ${tool}::text, array_agg(id ORDER BY id) FROM msg
      HAVING ${key}::text IS NOT NULL AND count(*) > 0
    )
    SELECT msg.id, msg.project_id, msg.created_ts,
      pg_notify(${MAIL_EVENTS_CHANNEL}, json_build_object(
        't', 'message', 'p', msg.project_id, 'm', msg.id, 's', ${input.senderId}::int,
        'a', (SELECT json_agg(agent_id) FROM rcpt WHERE rcpt.message_id = msg.id))::text)::text AS notified
    FROM msg ORDER BY msg.id`.then((rows) => rows.map(({ id, project_id, created_ts }) => ({ id, project_id, created_ts })));
}

export interface RecipientQuery {
  agentId: number;
  limit: number;
  includeBodies: boolean;
  urgentOnly?: boolean;
  unreadOnly?: boolean;
  ackPending?: boolean;
  /** Only messages created at or before this instant (ack-overdue views). */
  createdAtOrBefore?: Date;
  since?: Date | null;
  sinceId?: number | null;
  beforeId?: number | null;
  topic?: string | null;
  /** Newest first by default; a since_id cursor reads oldest first so that no message is skipped. */
  order?: "asc" | "desc";
}

/** An agent's received messages (to, cc and bcc rows), newest first. */
export async function recipientMessages(db: Db, query: RecipientQuery): Promise<MessageRow[]> {
  const conditions = [P.sql`r.agent_id = ${query.agentId}`];
  if (query.urgentOnly) conditions.push(P.sql`m.importance IN ('high', 'urgent')`);
  if (query.unreadOnly) conditions.push(P.sql`r.read_ts IS NULL`);
  if (query.ackPending) conditions.push(P.sql`m.ack_required AND r.ack_ts IS NULL`);
  if (query.createdAtOrBefore) conditions.push(createdAtOrBefore(query.createdAtOrBefore));
  if (query.since) conditions.push(createdAfter(query.since));
  if (query.sinceId) conditions.push(P.sql`r.message_id > ${query.sinceId}`);
  if (query.beforeId) conditions.push(P.sql`r.message_id < ${query.beforeId}`);
  if (query.topic) conditions.push(P.sql`lower(m.topic) = lower(${query.topic})`);
  return db.$queryRaw<MessageRow[]>`
    SELECT ${messageColumns(query.includeBodies)}, r.kind, r.read_ts, r.ack_ts
    FROM message_recipients r
    JOIN messages m ON m.id = r.message_id
    ${SENDER_JOIN}
    WHERE ${P.join(conditions, " AND ")}
    ${query.order === "asc" ? P.sql`ORDER BY r.message_id ASC` : P.sql`ORDER BY r.message_id DESC`}
    LIMIT ${query.limit}`;
}

/** One agent's unread mail (of it, high or urgent) and pending acks, counted on the partial indexes. */
export async function agentPendingCounts(db: Db, agentId: number): Promise<{ unread: number; urgent_unread: number; ack_pending: number }> {
  const [row] = await db.$queryRaw<{ unread: bigint; urgent_unread: bigint; ack_pending: bigint }[]>`
    SELECT
      (SELECT count(*) FROM message_recipients r WHERE r.agent_id = ${agentId} AND r.read_ts IS NULL) AS unread,
      (SELECT count(*) FROM message_recipients r JOIN messages m ON m.id = r.message_id
        WHERE r.agent_id = ${agentId} AND r.read_ts IS NULL AND m.importance IN ('high', 'urgent')) AS urgent_unread,
      (SELECT count(*) FROM message_recipients r WHERE r.agent_id = ${agentId} AND r.ack_required AND r.ack_ts IS NULL) AS ack_pending`;
  return { unread: Number(row!.unread), urgent_unread: Number(row!.urgent_unread), ack_pending: Number(row!.ack_pending) };
}

export interface VisibleQuery {
  projectId: number;
  /** The agent whose view this is; null is the operator's view of the whole project. */
  viewerId: number | null;
  includeBodies: boolean;
  limit: number;
  order: "asc" | "desc";
  ids?: number[];
  /** Thread membership: thread_id = id, or the seed message whose id is numeric. */
  thread?: { id: string; seedId: number | null };
  topic?: string;
  senderId?: number;
  since?: Date | null;
  beforeId?: number | null;
}

/** Messages of a project visible to the viewer: it sent them or holds a recipient row. */
export async function visibleMessages(db: Db, query: VisibleQuery): Promise<MessageRow[]> {
  const conditions = [P.sql`m.project_id = ${query.projectId}`];
  if (query.viewerId !== null) {
    conditions.push(P.sql`(m.sender_id = ${query.viewerId} OR r.agent_id IS NOT NULL)`);
  }
  if (query.ids) conditions.push(P.sql`m.id = ANY(${query.ids}::int[])`);
  if (query.thread) {
    conditions.push(
      query.thread.seedId === null
        ? P.sql`m.thread_id = ${query.thread.id}`
        : P.sql`(m.thread_id = ${query.thread.id} OR m.id = ${query.thread.seedId})`,
    );
  }
  if (query.topic) conditions.push(P.sql`lower(m.topic) = lower(${query.topic})`);
  if (query.senderId !== undefined) conditions.push(P.sql`m.sender_id = ${query.senderId}`);
  if (query.since) conditions.push(createdAfter(query.since));
  if (query.beforeId) conditions.push(P.sql`m.id < ${query.beforeId}`);
  const viewerJoin =
    query.viewerId === null
      ? P.sql`LEFT JOIN message_recipients r ON false`
      : P.sql`LEFT JOIN message_recipients r ON r.message_id = m.id AND r.agent_id = ${query.viewerId}`;
  const order = query.order === "asc" ? P.sql`ORDER BY m.id ASC` : P.sql`ORDER BY m.id DESC`;
  return db.$queryRaw<MessageRow[]>`
    SELECT ${messageColumns(query.includeBodies)}, r.kind, r.read_ts, r.ack_ts
    FROM messages m
    ${SENDER_JOIN}
    ${viewerJoin}
    WHERE ${P.join(conditions, " AND ")}
    ${order}
    LIMIT ${query.limit}`;
}

export interface RecipientRow {
  message_id: number;
  agent_id: number;
  kind: "to" | "cc" | "bcc";
  read_ts: Date | null;
  ack_ts: Date | null;
  name: string;
  project_id: number;
  project_slug: string;
}

export async function recipientsOf(db: Db, messageIds: number[]): Promise<RecipientRow[]> {
  if (messageIds.length === 0) return [];
  return db.$queryRaw<RecipientRow[]>`
    SELECT r.message_id, r.agent_id, r.kind, r.read_ts, r.ack_ts, a.name, a.project_id, p.slug AS project_slug
    FROM message_recipients r JOIN agents a ON a.id = r.agent_id JOIN projects p ON p.id = a.project_id
    WHERE r.message_id = ANY(${messageIds}::int[])
    ORDER BY r.message_id, CASE r.kind WHEN 'to' THEN 0 WHEN 'cc' THEN 1 ELSE 2 END, a.id`;
}

/**
 * Ids of every delivery of the send that produced `messageId` (one row per project, oldest
 * first). All rows of one send are inserted by one statement, so they share the sender, the
 * transaction's created_ts and the content.
 */
export async function deliveriesOf(db: Db, messageId: number): Promise<number[]> {
  const rows = await db.$queryRaw<{ id: number }[]>`
    SELECT d.id FROM messages m
    JOIN messages d ON d.sender_id = m.sender_id AND d.created_ts = m.created_ts
      AND d.subject = m.subject AND d.body_md = m.body_md
      AND d.thread_id IS NOT DISTINCT FROM m.thread_id
    WHERE m.id = ${messageId}
    ORDER BY d.id`;
  return rows.map((row) => row.id);
}

export interface SearchQuery {
  projectId: number;
  viewerId: number | null;
  /** websearch_to_tsquery syntax, already sanitised. */
  query: string;
  limit: number;
  senderId?: number;
  /** Only messages this agent received (to, cc or bcc); the operator's search only. */
  recipientId?: number;
  threadId?: string;
  topic?: string;
  importance?: string[];
  since?: Date | null;
  until?: Date | null;
}

export interface SearchRow extends MessageRow {
  rank: number;
  snippet: string;
}

/**
 * Full-text search, visible messages only, best rank first. An agent's search asks the GIN
 * indexes for "the words AND @a<agent>" on its recipient rows and "the words AND @s<agent>" on
 * the messages it sent, so its cost follows the agent's own matches, not the project's. The
 * operator's search ranks the whole project.
 */
export async function searchMessages(db: Db, query: SearchQuery): Promise<SearchRow[]> {
  const filters: P.Sql[] = [];
  if (query.senderId !== undefined) filters.push(P.sql`m.sender_id = ${query.senderId}`);
  if (query.threadId) {
    const seed = /^\d+$/.test(query.threadId) ? Number(query.threadId) : null;
    filters.push(seed === null ? P.sql`m.thread_id = ${query.threadId}` : P.sql`(m.thread_id = ${query.threadId} OR m.id = ${seed})`);
  }
  if (query.topic) filters.push(P.sql`lower(m.topic) = lower(${query.topic})`);
  if (query.importance?.length) filters.push(P.sql`m.importance = ANY(${query.importance}::text[])`);
  if (query.since) filters.push(createdAfter(query.since));
  if (query.until) filters.push(createdAtOrBefore(query.until));

  let hits: P.Sql;
  if (query.viewerId === null && query.recipientId !== undefined) {
    // The operator's search of one recipient's mail goes through that recipient's lexeme in the
    // recipient rows' GIN index, like an agent's own search: its cost follows that agent's matches.
    hits = P.sql`
      SELECT m.id, ts_rank_cd(r.search, q.tsq) AS rank
      FROM message_recipients r JOIN messages m ON m.id = r.message_id, q
      WHERE ${P.join([P.sql`r.search @@ (q.tsq && ('@a' || ${String(query.recipientId)})::tsquery)`, P.sql`m.project_id = ${query.projectId}`, ...filters], " AND ")}
      ORDER BY rank DESC, m.id DESC
      LIMIT ${query.limit}`;
  } else if (query.viewerId === null) {
    // A sender narrows the GIN query itself (messages.search holds '@s<sender id>').
    const words = query.senderId === undefined ? P.sql`q.tsq` : P.sql`(q.tsq && ('@s' || ${String(query.senderId)})::tsquery)`;
    hits = P.sql`
      SELECT m.id, ts_rank_cd(m.search, q.tsq) AS rank
      FROM messages m, q
      WHERE ${P.join([P.sql`m.project_id = ${query.projectId}`, P.sql`m.search @@ ${words}`, ...filters], " AND ")}
      ORDER BY rank DESC, m.id DESC
      LIMIT ${query.limit}`;
  } else {
    const viewer = String(query.viewerId);
    const filtered = filters.length
      ? P.sql`JOIN messages m ON m.id = mine.id WHERE ${P.join(filters, " AND ")}`
      : P.empty;
    hits = P.sql`
      SELECT mine.id, max(mine.rank) AS rank
      FROM (
        SELECT r.message_id AS id, ts_rank_cd(r.search, q.tsq) AS rank
        FROM message_recipients r, q
        WHERE r.search @@ (q.tsq && ('@a' || ${viewer})::tsquery)
        UNION ALL
        SELECT s.id, ts_rank_cd(s.search, q.tsq) AS rank
        FROM messages s, q
        WHERE s.project_id = ${query.projectId} AND s.search @@ (q.tsq && ('@s' || ${viewer})::tsquery)
      ) mine
      ${filtered}
      GROUP BY mine.id
      ORDER BY rank DESC, mine.id DESC
      LIMIT ${query.limit}`;
  }
  // Rank first, then highlight only the rows that are returned (ts_headline is the costly part).
  // A query of stop words only has no lexemes: it matches nothing rather than everything.
  return db.$queryRaw<SearchRow[]>`
    WITH q AS (SELECT websearch_to_tsquery('english', ${query.query}) AS tsq),
    hits AS (${hits})
    SELECT ${messageColumns(false)}, r.kind, r.read_ts, r.ack_ts, hits.rank::float8 AS rank,
      ts_headline('english', m.subject || E'\n' || m.body_md, q.tsq,
        'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "') AS snippet
    FROM hits JOIN messages m ON m.id = hits.id
    ${SENDER_JOIN}
    LEFT JOIN message_recipients r ON r.message_id = m.id AND r.agent_id = ${query.viewerId ?? -1}
    CROSS JOIN q
    WHERE numnode(q.tsq) > 0
    ORDER BY hits.rank DESC, m.id DESC`;
}

export interface OperatorMailQuery {
  /** null: every project. */
  projectIds: number[] | null;
  limit: number;
  beforeId?: number | null;
}

export interface OperatorMailRow extends MessageRow {
  project_slug: string;
}

/**
 * The operator's mail across projects, newest first: a backward walk of the primary key, so a
 * page costs the same at a thousand messages as at a million.
 */
export async function operatorMail(db: Db, query: OperatorMailQuery): Promise<OperatorMailRow[]> {
  const conditions: P.Sql[] = [];
  if (query.projectIds) conditions.push(P.sql`m.project_id = ANY(${query.projectIds}::int[])`);
  if (query.beforeId) conditions.push(P.sql`m.id < ${query.beforeId}`);
  return db.$queryRaw<OperatorMailRow[]>`
    SELECT ${messageColumns(false)}, NULL AS kind, NULL AS read_ts, NULL AS ack_ts, p.slug AS project_slug
    FROM messages m
    ${SENDER_JOIN}
    JOIN projects p ON p.id = m.project_id
    ${conditions.length ? P.sql`WHERE ${P.join(conditions, " AND ")}` : P.empty}
    ORDER BY m.id DESC
    LIMIT ${query.limit}`;
}

export interface PendingCountRow {
  agent_id: number;
  unread: number;
  ack_overdue: number;
}

/**
 * Unread messages and overdue acks (acks asked for before `overdueBefore` and not given) per
 * agent; null: every agent. Both counts read partial indexes only (message_recipients_unread_idx,
 * message_recipients_ack_pending_idx). "Before" is a message id: the newest of each project created
 * before the cut-off (ids grow with created_ts; two sends committing in the same instant across
 * the line may fall either side of it).
 */
export async function pendingCounts(db: Db, agentIds: number[] | null, overdueBefore: Date): Promise<PendingCountRow[]> {
  const mine = (column: P.Sql) => (agentIds ? P.sql`AND ${column} = ANY(${agentIds}::int[])` : P.empty);
  const rows = await db.$queryRaw<{ agent_id: number; unread: bigint; ack_overdue: bigint }[]>`
    WITH cut AS (
      SELECT p.id AS project_id,
        (SELECT m.id FROM messages m WHERE m.project_id = p.id AND m.created_ts < ${overdueBefore} ORDER BY m.created_ts DESC, m.id DESC LIMIT 1) AS last_id
      FROM projects p
    ), unread AS (
      SELECT r.agent_id, count(*) AS n FROM message_recipients r WHERE r.read_ts IS NULL ${mine(P.sql`r.agent_id`)} GROUP BY r.agent_id
    ), overdue AS (
      SELECT r.agent_id, count(*) AS n
      FROM message_recipients r JOIN agents a ON a.id = r.agent_id JOIN cut ON cut.project_id = a.project_id
      WHERE r.ack_required AND r.ack_ts IS NULL AND r.message_id <= cut.last_id ${mine(P.sql`r.agent_id`)}
      GROUP BY r.agent_id
    )
    SELECT coalesce(u.agent_id, o.agent_id) AS agent_id, coalesce(u.n, 0) AS unread, coalesce(o.n, 0) AS ack_overdue
    FROM unread u FULL JOIN overdue o ON o.agent_id = u.agent_id`;
  return rows.map((row) => ({ agent_id: row.agent_id, unread: Number(row.unread), ack_overdue: Number(row.ack_overdue) }));
}
