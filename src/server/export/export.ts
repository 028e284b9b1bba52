import { createHash } from "node:crypto";
import { z } from "zod";
import type { Agent } from "@/generated/prisma/client";
import { isoTs, isoTsOrNull } from "@/server/services/format";
import type { ServiceContext } from "@/server/services/context";
import { resolveProject } from "@/server/services/projects/projects";
import { BundleFile, prepareOutput, type WrittenFile } from "./output";
import { createPseudonymizer, IDENTITY, type Pseudonymizer } from "./pseudonym";
import { addCounts, countTotal, createScrubber, emptyCounts, type RedactionCounts } from "./scrub";
import { DATA_BLOCK_CLOSE, DATA_BLOCKS, dataBlockOpen, jsonForHtml, viewerHead, viewerTail } from "./viewer";

// `mailroom export`: one project's mail as a static bundle read from the database (not from the
// Git archive, which may lag or be disabled). Every free-text field (subjects, bodies, thread ids,
// topics, attachment names and text attachments, agents' task descriptions, programs and models)
// passes the scrubber, then the pseudonymiser when asked. Messages are read a page at a time and
// streamed into messages.json and index.html, so the export's memory does not grow with the mail.

export const EXPORT_FORMAT = "mailroom-export";
export const EXPORT_VERSION = 1;
const PAGE_SIZE = 200;

export interface ExportOptions {
  /** Slug or human key of the project. */
  project: string;
  /** Directory to create (or an empty one). */
  out: string;
  pseudonymize?: boolean;
  /** Compiled with compileExtraPattern. */
  extraPatterns?: readonly RegExp[];
}

export type ScrubField = "subject" | "body_md" | "thread_id" | "topic" | "attachment_name" | "attachment_content" | "agent";

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  generated_at: string;
  project: { slug: string; human_key?: string };
  pseudonymized: boolean;
  counts: { messages: number; threads: number; agents: number; attachments: number; attachments_missing: number; attachments_invalid: number };
  scrubbed: {
    total: number;
    by_kind: RedactionCounts;
    by_field: Record<ScrubField, number>;
    messages_affected: number;
    extra_patterns: number;
    /** Bundle paths of text attachments whose content was changed. */
    attachments_changed: string[];
    note: string;
  };
  files: WrittenFile[];
}

export interface ExportResult {
  out: string;
  manifest: ExportManifest;
}

/** The attachment metadata contract of messages.attachments (one entry). */
const attachmentEntry = z.object({
  name: z.string().min(1).max(1024),
  media_type: z.string().max(255),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

interface ExportedAttachment {
  file: string | null;
  sha256: string;
  bytes: number;
  scrubbed: boolean;
}

type AgentRow = Pick<Agent, "id" | "name" | "projectId" | "program" | "model" | "taskDescription" | "inceptionTs" | "lastActiveTs" | "retiredAt" | "registrationTokenHash"> & {
  project: { slug: string };
};

const agentSelect = {
  id: true,
  name: true,
  projectId: true,
  program: true,
  model: true,
  taskDescription: true,
  inceptionTs: true,
  lastActiveTs: true,
  retiredAt: true,
  registrationTokenHash: true,
  project: { select: { slug: true } },
} as const;

const RECIPIENT_ORDER: Record<string, number> = { to: 0, cc: 1, bcc: 2 };

/** A sanitised extension (`.txt`) from a file name, or "". */
function extensionOf(name: string): string {
  const match = /\.([A-Za-z0-9]{1,10})$/.exec(name);
  return match ? `.${match[1]!.toLowerCase()}` : "";
}

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Text content when the bytes are UTF-8 without NUL (a byte-order mark kept); undefined for binary. */
function asText(data: Uint8Array): string | undefined {
  if (data.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    return undefined;
  }
}

/** Agents in first-appearance order in the project's mail (sender, then to, cc, bcc), then the project's other agents. */
async function orderedAgents(ctx: ServiceContext, projectId: number): Promise<AgentRow[]> {
  const appearances = await ctx.db.$queryRaw<{ agent_id: number }[]>`
    SELECT x.agent_id, min(x.message_id::bigint * 4 + x.ord) AS first
    FROM (
      SELECT m.sender_id AS agent_id, m.id AS message_id, 0 AS ord FROM messages m WHERE m.project_id = ${projectId}
      UNION ALL
      SELECT r.agent_id, r.message_id, CASE r.kind WHEN 'to' THEN 1 WHEN 'cc' THEN 2 ELSE 3 END
      FROM message_recipients r JOIN messages m ON m.id = r.message_id WHERE m.project_id = ${projectId}
    ) x
    GROUP BY x.agent_id
    ORDER BY first, x.agent_id`;
  const ids = appearances.map((row) => Number(row.agent_id));
  const rows = await ctx.db.agent.findMany({
    where: { OR: [{ projectId }, { id: { in: ids } }] },
    select: agentSelect,
    orderBy: { id: "asc" },
  });
  const byId = new Map(rows.map((row) => [row.id, row]));
  const ordered = ids.map((id) => byId.get(id)).filter((row): row is AgentRow => row !== undefined);
  const seen = new Set(ids);
  return [...ordered, ...rows.filter((row) => !seen.has(row.id))];
}

export async function exportProject(ctx: ServiceContext, options: ExportOptions): Promise<ExportResult> {
  const project = await resolveProject(ctx, options.project, "project");
  const staging = await prepareOutput(options.out);
  const open: BundleFile[] = [];
  try {
    const manifest = await writeBundle(ctx, project, options, staging.dir, open);
    await staging.publish();
    return { out: staging.target, manifest };
  } catch (error) {
    await Promise.all(open.map((file) => file.discard()));
    await staging.abort();
    throw error;
  }
}

async function writeBundle(
  ctx: ServiceContext,
  project: { id: number; slug: string; humanKey: string },
  options: ExportOptions,
  dir: string,
  open: BundleFile[],
): Promise<ExportManifest> {
  const generatedAt = isoTs(new Date());
  const pseudonymize = options.pseudonymize ?? false;
  const agents = await orderedAgents(ctx, project.id);
  const names: Pseudonymizer = pseudonymize ? createPseudonymizer(agents.map((agent) => agent.name)) : IDENTITY;
  const scrub = createScrubber({
    knownTokenHashes: new Set(agents.flatMap((agent) => (agent.registrationTokenHash ? [agent.registrationTokenHash] : []))),
    extraPatterns: options.extraPatterns,
  });

  const byKind = emptyCounts();
  const byField: Record<ScrubField, number> = { subject: 0, body_md: 0, thread_id: 0, topic: 0, attachment_name: 0, attachment_content: 0, agent: 0 };
  const clean = (text: string, field: ScrubField): string => {
    const result = scrub(text);
    const found = countTotal(result.counts);
    if (found) {
      addCounts(byKind, result.counts);
      byField[field] += found;
    }
    return names.text(result.text);
  };
  const cleanOrNull = (text: string | null, field: ScrubField) => (text === null ? null : clean(text, field));

  const files: WrittenFile[] = [];
  const written = new Set<string>();
  const create = async (relativePath: string) => {
    const file = await BundleFile.create(dir, relativePath);
    open.push(file);
    return file;
  };
  const finish = async (file: BundleFile) => {
    const result = await file.close();
    files.push(result);
    written.add(result.path);
    open.splice(open.indexOf(file), 1);
  };

  const exported = new Map<string, ExportedAttachment>();
  const attachmentsChanged: string[] = [];
  const counts = { messages: 0, threads: 0, agents: agents.length, attachments: 0, attachments_missing: 0, attachments_invalid: 0 };
  const threads = new Set<string>();
  let messagesAffected = 0;

  /** Writes a blob's content once (keyed by its stored sha256), scrubbed when it is text. */
  const exportAttachment = async (sha256: string, name: string): Promise<ExportedAttachment> => {
    const known = exported.get(sha256);
    if (known) return known;
    const blob = await ctx.db.attachmentBlob.findUnique({ where: { sha256 } });
    let result: ExportedAttachment;
    if (!blob) {
      result = { file: null, sha256, bytes: 0, scrubbed: false };
      counts.attachments_missing += 1;
    } else {
      const text = asText(blob.data);
      const cleaned = text === undefined ? undefined : clean(text, "attachment_content");
      const scrubbed = cleaned !== undefined && cleaned !== text;
      const data = scrubbed ? Buffer.from(cleaned, "utf8") : blob.data;
      const digest = sha256Hex(data);
      // Named by content hash and a sanitised extension only: nothing a sender chose becomes a path.
      const file = `${digest}${extensionOf(name)}`;
      // Two stored blobs can scrub to the same content: that file is written once.
      if (!written.has(`attachments/${file}`)) {
        const target = await create(`attachments/${file}`);
        await target.write(data);
        await finish(target);
        if (scrubbed) attachmentsChanged.push(`attachments/${file}`);
      }
      result = { file, sha256: digest, bytes: data.byteLength, scrubbed };
      counts.attachments += 1;
    }
    exported.set(sha256, result);
    return result;
  };

  const messagesFile = await create("messages.json");
  const index = await create("index.html");
  await messagesFile.write("[");
  await index.write(viewerHead(`${project.slug} — Mailroom export`));
  await index.write(dataBlockOpen(DATA_BLOCKS.messages));
  await index.write("[");

  let lastId = 0;
  for (;;) {
    ctx.signal?.throwIfAborted();
    const page = await ctx.db.message.findMany({
      where: { projectId: project.id, id: { gt: lastId } },
      orderBy: { id: "asc" },
      take: PAGE_SIZE,
      include: {
        sender: { select: { name: true, projectId: true, project: { select: { slug: true } } } },
        recipients: { select: { kind: true, readTs: true, ackTs: true, agent: { select: { name: true } } } },
      },
    });
    if (page.length === 0) break;
    lastId = page[page.length - 1]!.id;
    for (const message of page) {
      const before = countTotal(byKind);
      const attachments = [];
      for (const raw of Array.isArray(message.attachments) ? message.attachments : []) {
        const entry = attachmentEntry.safeParse(raw);
        if (!entry.success) {
          counts.attachments_invalid += 1;
          continue;
        }
        const name = clean(entry.data.name, "attachment_name");
        const content = await exportAttachment(entry.data.sha256, name);
        attachments.push({
          name,
          media_type: entry.data.media_type,
          bytes: content.file === null ? entry.data.bytes : content.bytes,
          sha256: content.sha256,
          file: content.file,
          ...(content.scrubbed ? { scrubbed: true } : {}),
          ...(content.file === null ? { missing: true } : {}),
        });
      }
      const recipients = [...message.recipients]
        .sort((a, b) => (RECIPIENT_ORDER[a.kind] ?? 3) - (RECIPIENT_ORDER[b.kind] ?? 3) || a.agent.name.localeCompare(b.agent.name))
        .map((recipient) => ({
          name: names.name(recipient.agent.name),
          kind: recipient.kind,
          read_ts: isoTsOrNull(recipient.readTs),
          ack_ts: isoTsOrNull(recipient.ackTs),
        }));
      const threadId = cleanOrNull(message.threadId, "thread_id");
      const item = {
        id: message.id,
        thread_id: threadId,
        topic: cleanOrNull(message.topic, "topic"),
        subject: clean(message.subject, "subject"),
        importance: message.importance,
        ack_required: message.ackRequired,
        created_ts: isoTs(message.createdTs),
        from: names.name(message.sender.name),
        ...(message.sender.projectId !== project.id ? { from_project: message.sender.project.slug } : {}),
        recipients,
        attachments,
        body_md: clean(message.bodyMd, "body_md"),
      };
      if (countTotal(byKind) > before) messagesAffected += 1;
      threads.add(threadId ?? String(message.id));
      const separator = counts.messages === 0 ? "\n" : ",\n";
      await messagesFile.write(separator + JSON.stringify(item));
      await index.write(separator + jsonForHtml(item));
      counts.messages += 1;
    }
  }
  counts.threads = threads.size;
  await messagesFile.write("\n]\n");
  await finish(messagesFile);
  await index.write("\n]");
  await index.write(DATA_BLOCK_CLOSE);

  const agentItems = agents.map((agent) => ({
    name: names.name(agent.name),
    ...(agent.projectId !== project.id ? { project: agent.project.slug } : {}),
    program: clean(agent.program, "agent"),
    model: clean(agent.model, "agent"),
    task_description: clean(agent.taskDescription, "agent"),
    inception_ts: isoTs(agent.inceptionTs),
    last_active_ts: isoTs(agent.lastActiveTs),
    retired_ts: isoTsOrNull(agent.retiredAt),
  }));
  const agentsFile = await create("agents.json");
  await agentsFile.write(`${JSON.stringify(agentItems, null, 2)}\n`);
  await finish(agentsFile);

  const projectInfo = pseudonymize ? { slug: project.slug } : { slug: project.slug, human_key: project.humanKey };
  const total = countTotal(byKind);
  await index.write(dataBlockOpen(DATA_BLOCKS.agents) + jsonForHtml(agentItems) + DATA_BLOCK_CLOSE);
  await index.write(
    dataBlockOpen(DATA_BLOCKS.meta) + jsonForHtml({ project: projectInfo, generated_at: generatedAt, pseudonymized: pseudonymize, redactions: total }) + DATA_BLOCK_CLOSE,
  );
  await index.write(viewerTail());
  await finish(index);

  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    generated_at: generatedAt,
    project: projectInfo,
    pseudonymized: pseudonymize,
    counts,
    scrubbed: {
      total,
      by_kind: byKind,
      by_field: byField,
      messages_affected: messagesAffected,
      extra_patterns: options.extraPatterns?.length ?? 0,
      attachments_changed: attachmentsChanged.sort(),
      note: "Binary attachments (not UTF-8 text) are copied unchanged and are not scrubbed.",
    },
    files,
  };
  const manifestFile = await create("manifest.json");
  await manifestFile.write(`${JSON.stringify(manifest, null, 2)}\n`);
  await manifestFile.close();
  open.splice(open.indexOf(manifestFile), 1);
  return manifest;
}
