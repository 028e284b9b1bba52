// Mail benchmark B, part 1: a fresh Postgres database with the real schema (the app's own
// migrations) and a big mailbox — one project, ~1,000 agents, 1,000,000 messages with varied
// subjects and bodies (Zipf-distributed words, fixed phrases, hyphenated ticket ids such as
// POL-358), recipients such that one agent (hot-agent) holds 10,000 messages in its inbox.
// Bulk load: the messages and recipient rows are generated here (seeded PRNG: every seed is the
// same) and streamed through two parallel `psql COPY … FROM STDIN`s (recipients into a staging
// table), with the secondary indexes and foreign keys dropped meanwhile and rebuilt from their
// own definitions afterwards. Recipient rows get their search vector as insertMessages
// (src/server/db/mail-sql.ts) writes it — the message's vector plus '@a<agent id>' — and one real
// insertMessages call afterwards checks that the seed still writes what the app writes. Then
// VACUUM ANALYZE.
//
//   npx tsx bench/mail/seed.mts [--database-url postgres://postgres@127.0.0.1:5432/postgres]
//        [--messages 1000000] [--agents 1000] [--hot-inbox 10000] [--keep]
//
// Without --keep the database is dropped at the end (that only times the seed); with --keep its
// URL is printed for `npx tsx bench/mail/read-latency.mts --reuse <url>`.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { createBenchDatabase, redact } from "../lib/postgres.mjs";
import { DEFAULT_SERVER_URL, log as logWith, loopbackPostgresUrl, numberOption, onCleanup, runMain } from "./common.mjs";

const TAG = "seed";
const log = (message: string) => logWith(TAG, message);

/** What read-latency.mts looks for in a seeded database. */
export const SEED = {
  projectKey: "/bench/mail/big",
  projectSlug: "bench-mail-big",
  hotAgent: "hot-agent",
  hotToken: "mailroom-bench-hot-agent-registration-token",
  /** Words and ids the read benchmark searches for (see QUERIES in read-latency.mts). */
  ticket: "POL-358",
};

export interface SeedOptions {
  messages: number;
  agents: number;
  hotInbox: number;
}

export interface SeedReport {
  seconds: { migrate: number; load: number; recipients: number; indexes: number; vacuumAnalyze: number; check: number; total: number };
  counts: { agents: number; messages: number; recipients: number; hotInbox: number; hotSent: number; hotVisible: number };
  sizes: Record<string, string>;
  indexes: string[];
}

// ----- deterministic text ---------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so that every seed produces the same mailbox. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Common vocabulary of coordination mail between coding agents, most frequent first.
const COMMON = `build test deploy review merge branch commit change fix update error service api database migration
release config schema query index cache request response server client handler route endpoint token session user
project agent message thread inbox file path module package dependency version upgrade patch issue bug feature
refactor cleanup performance latency timeout retry failure warning log metric trace alert dashboard pipeline job
worker queue event stream batch import export parser validation input output format payload json yaml docker image
container cluster node pod volume network proxy gateway auth permission role policy secret key certificate backup
restore snapshot rollback hotfix staging production environment variable flag toggle experiment rollout canary
lock reservation conflict rebase squash tag changelog docs readme example tutorial guide spec design proposal
decision meeting plan estimate deadline sprint milestone priority owner reviewer approve reject comment question
answer blocker dependency risk incident postmortem outage regression benchmark profile memory cpu disk throughput
concurrency deadlock race mutex transaction isolation replica shard partition vacuum analyze explain plan scan
join sort filter aggregate window cursor pagination offset limit search rank snippet highlight stemming tokenizer
frontend backend component layout style theme button form modal table chart tooltip navigation sidebar header
footer typescript javascript python rust golang java kotlin swift compiler linter formatter bundler webpack vite
next react prisma postgres sqlite redis kafka rabbitmq nginx kubernetes terraform ansible github gitlab jenkins
workflow action runner artifact registry publish download upload storage bucket object blob stream socket websocket
notification email webhook callback listener subscriber publisher scheduler cron interval backoff jitter throttle
quota budget cost invoice billing payment checkout cart order inventory catalog product customer account profile
settings preferences locale timezone calendar date duration counter gauge histogram percentile median average
refund discount coupon shipping address country region currency tax report analytics funnel cohort retention`
  .split(/\s+/)
  .filter(Boolean);

const STOP = "the a to of and in for on with is it this that we be as at by from please can will now not".split(" ");
const PHRASES = ["merge conflict", "flaky test", "rollback plan", "database migration", "code review", "feature flag", "memory leak", "race condition"];
const TICKET_PREFIXES = ["POL", "FEAT", "BUG", "OPS", "SEC", "API", "WEB", "DATA"];
const SYLLABLES = "ka lo mi ne ru sa te vo zu bi da fe gu hi jo ky la mo nu pe qi ro su ta ve wy xo za".split(" ");

/** Rare words: made-up but pronounceable (zulomirka, …), in the long tail of the distribution. */
function rareWords(count: number, random: () => number): string[] {
  const words = new Set<string>();
  while (words.size < count) {
    const length = 3 + Math.floor(random() * 3);
    let word = "";
    for (let i = 0; i < length; i += 1) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    words.add(word);
  }
  return [...words];
}

export const VOCABULARY: string[] = [...COMMON, ...rareWords(6000, prng(7))];

/** Zipf-Mandelbrot over the vocabulary: the word of rank r has weight 1/(r+10) (the top word is in ~1/3 of the messages). */
const CUMULATIVE: Float64Array = (() => {
  const cumulative = new Float64Array(VOCABULARY.length);
  let sum = 0;
  for (let r = 0; r < VOCABULARY.length; r += 1) cumulative[r] = sum += 1 / (r + 10);
  for (let r = 0; r < cumulative.length; r += 1) cumulative[r]! /= sum;
  return cumulative;
})();

function zipfWord(random: () => number): string {
  const u = random();
  let lo = 0;
  let hi = CUMULATIVE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (CUMULATIVE[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo]!;
}

function ticket(random: () => number): string {
  if (random() < 0.004) return SEED.ticket;
  return `${TICKET_PREFIXES[Math.floor(random() * TICKET_PREFIXES.length)]}-${1 + Math.floor(random() * 999)}`;
}

function sentence(random: () => number, words: number): string {
  const parts: string[] = [];
  for (let i = 0; i < words; i += 1) parts.push(random() < 0.3 ? STOP[Math.floor(random() * STOP.length)]! : zipfWord(random));
  if (random() < 0.12) parts.splice(Math.floor(random() * parts.length), 0, PHRASES[Math.floor(random() * PHRASES.length)]!);
  if (random() < 0.15) parts.splice(Math.floor(random() * parts.length), 0, ticket(random));
  const text = parts.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1) + ".";
}

export interface GeneratedMessage {
  subject: string;
  body: string;
  threadId: string | null;
  topic: string | null;
  importance: string;
  ackRequired: boolean;
}

export function generateMessage(random: () => number): GeneratedMessage {
  const subjectWords: string[] = [];
  const length = 3 + Math.floor(random() * 5);
  for (let i = 0; i < length; i += 1) subjectWords.push(zipfWord(random));
  if (random() < 0.1) subjectWords.push(PHRASES[Math.floor(random() * PHRASES.length)]!);
  let subject = subjectWords.join(" ");
  let threadId: string | null = null;
  if (random() < 0.3) {
    const id = ticket(random);
    subject = `[${id}] ${subject}`;
    if (random() < 0.7) threadId = id;
  }
  subject = subject.charAt(0).toUpperCase() + subject.slice(1);
  const paragraphs: string[] = [];
  const paragraphCount = 1 + Math.floor(random() * 3);
  for (let p = 0; p < paragraphCount; p += 1) {
    const sentences: string[] = [];
    const sentenceCount = 1 + Math.floor(random() * 3);
    for (let s = 0; s < sentenceCount; s += 1) sentences.push(sentence(random, 5 + Math.floor(random() * 10)));
    paragraphs.push(sentences.join(" "));
  }
  const roll = random();
  return {
    subject: subject.slice(0, 200),
    body: paragraphs.join("\n\n"),
    threadId,
    topic: random() < 0.2 ? ["architecture", "ops", "testing", "release", "security"][Math.floor(random() * 5)]! : null,
    importance: roll < 0.8 ? "normal" : roll < 0.9 ? "high" : roll < 0.95 ? "low" : "urgent",
    ackRequired: random() < 0.1,
  };
}

// ----- bulk load --------------------------------------------------------------------------------

function copyText(value: string | null): string {
  if (value === null) return "\\N";
  return value.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
}

/** `psql -c "COPY … FROM STDIN"`: a writable stream into one COPY, and its completion. */
function psqlCopy(url: string, sql: string) {
  const child = spawn("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`psql ${sql.slice(0, 40)}… exited with ${code}: ${output}`))));
  });
  let buffer = "";
  return {
    async write(line: string): Promise<void> {
      buffer += line;
      if (buffer.length < 1 << 16) return;
      const chunk = buffer;
      buffer = "";
      if (!child.stdin.write(chunk)) await new Promise<void>((resolve) => child.stdin.once("drain", () => resolve()));
    },
    async end(): Promise<void> {
      child.stdin.end(buffer);
      buffer = "";
      await done;
    },
    kill: () => child.kill("SIGTERM"),
  };
}

/** Recipient rows are staged here, then inserted with their search vector (which needs the message's). */
const STAGING = "bench_seed_recipients";

/**
 * The search vector insertMessages gives a recipient row, from the message's (src/server/db/mail-sql.ts:
 * `msg.search || ('@a' || r.agent_id::text)::tsvector`); checkRecipientSearch verifies it still does.
 */
const RECIPIENT_SEARCH = `m.search || ('@a' || s.agent_id::text)::tsvector`;

interface Layout {
  projectId: number;
  hotId: number;
  /** Ids of the other agents, in order. */
  otherIds: number[];
  startMs: number;
  spanMs: number;
  stride: number;
}

/** Messages first..last (1-based ids) and their recipient rows into two COPYs. */
async function loadRange(url: string, layout: Layout, options: SeedOptions, first: number, last: number): Promise<void> {
  const messages = psqlCopy(
    url,
    "COPY messages (id, project_id, sender_id, thread_id, topic, subject, body_md, importance, ack_required, created_ts) FROM STDIN",
  );
  const recipients = psqlCopy(url, `COPY ${STAGING} (message_id, agent_id, kind, read_ts, ack_ts) FROM STDIN`);
  onCleanup(`psql COPY ${first}-${last}`, () => {
    messages.kill();
    recipients.kill();
  });
  const others = layout.otherIds;
  try {
    for (let id = first; id <= last; id += 1) {
      const random = prng(id * 2654435761);
      const message = generateMessage(random);
      const toHot = id % layout.stride === 0 && id / layout.stride <= options.hotInbox;
      // The hot agent sends its share too (about messages / agents); never to itself.
      const sender = !toHot && random() < 1 / options.agents ? layout.hotId : others[Math.floor(random() * others.length)]!;
      const created = new Date(layout.startMs + (layout.spanMs * id) / options.messages);
      await messages.write(
        `${id}\t${layout.projectId}\t${sender}\t${copyText(message.threadId)}\t${copyText(message.topic)}\t${copyText(message.subject)}\t` +
          `${copyText(message.body)}\t${message.importance}\t${message.ackRequired ? "t" : "f"}\t${created.toISOString()}\n`,
      );
      const rows: { agent: number; kind: string }[] = [];
      if (toHot) rows.push({ agent: layout.hotId, kind: "to" });
      else {
        let to = others[Math.floor(random() * others.length)]!;
        if (to === sender) to = others[(others.indexOf(to) + 1) % others.length]!;
        rows.push({ agent: to, kind: "to" });
      }
      if (random() < 0.3) {
        const cc = others[Math.floor(random() * others.length)]!;
        if (cc !== sender && !rows.some((row) => row.agent === cc)) rows.push({ agent: cc, kind: random() < 0.8 ? "cc" : "bcc" });
      }
      for (const row of rows) {
        const read = random() < 0.6 ? new Date(created.getTime() + 60_000 + random() * 3_600_000) : null;
        const acked = message.ackRequired && read && random() < 0.5 ? new Date(read.getTime() + 60_000) : null;
        await recipients.write(`${id}\t${row.agent}\t${row.kind}\t${read ? read.toISOString() : "\\N"}\t${acked ? acked.toISOString() : "\\N"}\n`);
      }
    }
  } finally {
    await Promise.all([messages.end(), recipients.end()]);
  }
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = Date.now();
  log(`${what}…`);
  const value = await work();
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  log(`${what}: ${seconds} s`);
  return { value, seconds };
}

/**
 * Sends one message through the app's own insertMessages and checks that the recipient row it wrote
 * is what the seed would have written (the search vector formula above); then deletes it again.
 */
async function checkRecipientSearch(
  url: string,
  client: pg.Client,
  ids: { projectId: number; senderId: number; recipientId: number; recipientsHaveSearch: boolean },
): Promise<void> {
  const { openDatabase } = await import("../../src/server/db/client");
  const { insertMessages } = await import("../../src/server/db/mail-sql");
  const database = await openDatabase({ url, poolMax: 1, migrate: false });
  let messageId: number;
  try {
    const [inserted] = await insertMessages(database.prisma, {
      senderId: ids.senderId,
      threadId: null,
      topic: null,
      subject: "Seed check POL-358",
      bodyMd: "One real send through insertMessages: does the seed write the same recipient rows?",
      importance: "normal",
      ackRequired: false,
      deliveries: [{ projectId: ids.projectId, recipients: [{ agentId: ids.recipientId, kind: "to" }] }],
    });
    messageId = inserted!.id;
  } finally {
    await database.close();
  }
  try {
    if (ids.recipientsHaveSearch) {
      const { rows } = await client.query<{ same: boolean }>(
        `SELECT r.search = (SELECT ${RECIPIENT_SEARCH} FROM (SELECT r.agent_id) s) AS same
         FROM message_recipients r JOIN messages m ON m.id = r.message_id WHERE r.message_id = $1`,
        [messageId],
      );
      if (rows.length !== 1 || !rows[0]!.same) {
        throw new Error(
          "insertMessages now writes message_recipients.search differently from this seed; update RECIPIENT_SEARCH in bench/mail/seed.mts.",
        );
      }
    }
  } finally {
    await client.query(`DELETE FROM messages WHERE id = $1`, [messageId]);
  }
}

/** Migrates `url` (an empty database) with the app's migrations and seeds it. */
export async function seedDatabase(url: string, options: SeedOptions): Promise<SeedReport> {
  const t0 = Date.now();
  const migrate = await timed("migrations (openDatabase from src/server/db/client)", async () => {
    const { openDatabase } = await import("../../src/server/db/client");
    const database = await openDatabase({ url, poolMax: 1, migrate: true });
    await database.close();
  });

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async <T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]) => (await client.query<T>(sql, params)).rows;
    const [project] = await q<{ id: number }>(`INSERT INTO projects (slug, human_key) VALUES ($1, $2) RETURNING id`, [SEED.projectSlug, SEED.projectKey]);
    const projectId = project!.id;
    const tokenHash = createHash("sha256").update(SEED.hotToken, "utf8").digest("hex");
    const [hot] = await q<{ id: number }>(
      `INSERT INTO agents (project_id, name, name_key, program, model, task_description, registration_token_hash)
       VALUES ($1, $2, $2, 'bench', 'bench', 'holds the big inbox', $3) RETURNING id`,
      [projectId, SEED.hotAgent, tokenHash],
    );
    const others = await q<{ id: number }>(
      `INSERT INTO agents (project_id, name, name_key, program, model)
       SELECT $1, 'agent-' || lpad(g::text, 4, '0'), 'agent-' || lpad(g::text, 4, '0'), 'bench', 'bench'
       FROM generate_series(1, $2::int) g RETURNING id`,
      [projectId, options.agents - 1],
    );

    // Secondary indexes and foreign keys of the two big tables go while loading and come back
    // from their own definitions (the migration's), so the result is the real schema.
    const indexes = await q<{ name: string; def: string }>(
      `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
       WHERE i.schemaname = 'public' AND i.tablename IN ('messages', 'message_recipients')
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
       ORDER BY i.indexname`,
    );
    const foreignKeys = await q<{ table: string; name: string; def: string }>(
      `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
       WHERE contype = 'f' AND conrelid IN ('messages'::regclass, 'message_recipients'::regclass) ORDER BY conname`,
    );
    for (const fk of foreignKeys) await q(`ALTER TABLE ${fk.table} DROP CONSTRAINT "${fk.name}"`);
    for (const index of indexes) await q(`DROP INDEX "${index.name}"`);

    const day = 24 * 3600 * 1000;
    const layout: Layout = {
      projectId,
      hotId: hot!.id,
      otherIds: others.map((row) => row.id),
      startMs: Date.now() - 120 * day,
      spanMs: 119 * day,
      stride: Math.max(1, Math.floor(options.messages / Math.max(1, options.hotInbox))),
    };
    const recipientColumns = await q<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'message_recipients'`,
    );
    const recipientsHaveSearch = recipientColumns.some((row) => row.column_name === "search");
    await q(`CREATE UNLOGGED TABLE ${STAGING} (message_id int NOT NULL, agent_id int NOT NULL, kind text NOT NULL, read_ts timestamptz, ack_ts timestamptz)`);
    const load = await timed(`${options.messages.toLocaleString("en-US")} messages through two parallel COPYs`, async () => {
      const half = Math.floor(options.messages / 2);
      await Promise.all([loadRange(url, layout, options, 1, half), loadRange(url, layout, options, half + 1, options.messages)]);
      await q(`SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))`);
    });
    const recipientLoad = await timed(`recipient rows${recipientsHaveSearch ? " with their search vectors" : ""} (two connections)`, async () => {
      const copy = (from: number, to: number) =>
        recipientsHaveSearch
          ? `INSERT INTO message_recipients (message_id, agent_id, kind, read_ts, ack_ts, ack_required, search)
             SELECT s.message_id, s.agent_id, s.kind, s.read_ts, s.ack_ts, m.ack_required, ${RECIPIENT_SEARCH}
             FROM ${STAGING} s JOIN messages m ON m.id = s.message_id WHERE s.message_id BETWEEN ${from} AND ${to} ORDER BY s.message_id`
          : `INSERT INTO message_recipients (message_id, agent_id, kind, read_ts, ack_ts)
             SELECT message_id, agent_id, kind, read_ts, ack_ts FROM ${STAGING} WHERE message_id BETWEEN ${from} AND ${to} ORDER BY message_id`;
      const half = Math.floor(options.messages / 2);
      const second = new pg.Client({ connectionString: url });
      await second.connect();
      try {
        await Promise.all([client.query(copy(1, half)), second.query(copy(half + 1, options.messages))]);
      } finally {
        await second.end();
      }
      await q(`DROP TABLE ${STAGING}`);
    });

    const rebuilt = await timed(`${indexes.length} indexes (two connections) and ${foreignKeys.length} foreign keys`, async () => {
      const second = new pg.Client({ connectionString: url });
      await second.connect();
      try {
        for (const c of [client, second]) await c.query(`SET maintenance_work_mem = '1GB'`);
        // GIN indexes are the long ones: one per connection, the btrees after them.
        const gin = indexes.filter((index) => /USING gin/i.test(index.def));
        const rest = indexes.filter((index) => !/USING gin/i.test(index.def));
        const lanes: string[][] = [[], []];
        gin.forEach((index, i) => lanes[i % 2]!.push(index.def));
        rest.forEach((index) => (lanes[0]!.length <= lanes[1]!.length ? lanes[0]! : lanes[1]!).push(index.def));
        await Promise.all(
          [client, second].map(async (connection, lane) => {
            for (const def of lanes[lane]!) await connection.query(def);
          }),
        );
      } finally {
        await second.end();
      }
      for (const fk of foreignKeys) await q(`ALTER TABLE ${fk.table} ADD CONSTRAINT "${fk.name}" ${fk.def}`);
    });
    const vacuum = await timed("VACUUM ANALYZE", async () => {
      await q(`VACUUM ANALYZE`);
    });
    const check = await timed("one real insertMessages, compared with the seed's rows", () =>
      checkRecipientSearch(url, client, { projectId, senderId: layout.otherIds[0]!, recipientId: layout.otherIds[1]!, recipientsHaveSearch }),
    );

    const [counts] = await q<SeedReport["counts"]>(
      `SELECT (SELECT count(*)::int FROM agents) AS agents, (SELECT count(*)::int FROM messages) AS messages,
              (SELECT count(*)::int FROM message_recipients) AS recipients,
              (SELECT count(*)::int FROM message_recipients WHERE agent_id = $1) AS "hotInbox",
              (SELECT count(*)::int FROM messages WHERE sender_id = $1) AS "hotSent",
              (SELECT count(*)::int FROM messages m WHERE m.sender_id = $1
                 OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = $1)) AS "hotVisible"`,
      [layout.hotId],
    );
    const sizes = await q<{ name: string; size: string }>(
      `SELECT c.relname AS name, pg_size_pretty(pg_total_relation_size(c.oid)) AS size FROM pg_class c
       WHERE c.relname IN ('messages', 'message_recipients') OR c.relname IN (SELECT indexname FROM pg_indexes WHERE tablename IN ('messages', 'message_recipients'))
       ORDER BY pg_total_relation_size(c.oid) DESC`,
    );
    const finalIndexes = await q<{ def: string }>(
      `SELECT indexdef AS def FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('messages', 'message_recipients') ORDER BY indexname`,
    );
    const missing = indexes.filter((index) => !finalIndexes.some((row) => row.def === index.def));
    if (missing.length) throw new Error(`indexes missing after the rebuild: ${missing.map((index) => index.name).join(", ")}`);
    return {
      seconds: {
        migrate: migrate.seconds,
        load: load.seconds,
        recipients: recipientLoad.seconds,
        indexes: rebuilt.seconds,
        vacuumAnalyze: vacuum.seconds,
        check: check.seconds,
        total: Math.round((Date.now() - t0) / 100) / 10,
      },
      counts: counts!,
      sizes: Object.fromEntries(sizes.map((row) => [row.name, row.size])),
      indexes: finalIndexes.map((row) => row.def),
    };
  } finally {
    await client.end();
  }
}

export function seedOptionsFrom(values: { messages?: string; agents?: string; "hot-inbox"?: string }): SeedOptions {
  const options = {
    messages: numberOption("messages", values.messages, 1_000_000, { integer: true, min: 100 }),
    agents: numberOption("agents", values.agents, 1000, { integer: true, min: 3 }),
    hotInbox: numberOption("hot-inbox", values["hot-inbox"], 10_000, { integer: true, min: 1 }),
  };
  if (options.hotInbox > options.messages) throw new Error("--hot-inbox cannot exceed --messages.");
  return options;
}

export function describeSeed(report: SeedReport): string {
  const c = report.counts;
  return (
    `${c.messages.toLocaleString("en-US")} messages, ${c.recipients.toLocaleString("en-US")} recipient rows, ${c.agents} agents; ` +
    `${SEED.hotAgent}: ${c.hotInbox.toLocaleString("en-US")} in its inbox, ${c.hotSent.toLocaleString("en-US")} sent, ${c.hotVisible.toLocaleString("en-US")} visible; ` +
    `seeded in ${report.seconds.total} s (migrate ${report.seconds.migrate}, messages ${report.seconds.load}, recipients ${report.seconds.recipients}, ` +
    `indexes ${report.seconds.indexes}, vacuum analyze ${report.seconds.vacuumAnalyze}, check ${report.seconds.check}); ` +
    `sizes ${Object.entries(report.sizes).map(([name, size]) => `${name} ${size}`).join(", ")}`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      "database-url": { type: "string" },
      messages: { type: "string" },
      agents: { type: "string" },
      "hot-inbox": { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`Usage: npx tsx bench/mail/seed.mts [--database-url <postgres server on 127.0.0.1>] [--messages 1000000] [--agents 1000] [--hot-inbox 10000] [--keep]`);
    return;
  }
  const serverUrl = loopbackPostgresUrl(values["database-url"] ?? process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL);
  const options = seedOptionsFrom(values);
  const db = await createBenchDatabase(serverUrl);
  let seeded = false;
  onCleanup(`database ${db.name}`, async () => {
    if (values.keep && seeded) log(`kept database: ${redact(db.url)}`);
    else await db.drop();
  });
  log(`fresh Postgres ${db.serverVersion} database ${db.name}`);
  const report = await seedDatabase(db.url, options);
  seeded = true;
  log(describeSeed(report));
  if (values.keep) log(`next: npx tsx bench/mail/read-latency.mts --reuse '${redact(db.url)}'`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await runMain(TAG, () => 3 * 3600, main);
}
