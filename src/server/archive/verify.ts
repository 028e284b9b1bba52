import { existsSync } from "node:fs";
import path from "node:path";
import type { Db, Prisma } from "@/server/db/client";
import { AppError, quote } from "@/server/errors";
import { agentView } from "@/server/services/agents/views";
import type { ArchiveConfig } from "@/server/services/context";
import { digestEntry, loadMessages, loadReservations, messageFiles, reservationFile, type FileOp, type Query } from "./events";
import { ArchiveWriter } from "./files";
import { ArchiveRepo } from "./git";
import { messagePath, profilePath, projectDir, reservationPath, threadPath } from "./layout";
import { ARCHIVE_LOCK_CLASS } from "./lock";
import { renderProfile, threadDigestHeader } from "./render";
import { workersFor } from "./worker";

// Operator tools (`mailroom archive verify|rebuild`): does the archive hold a canonical file for
// every message in the database, and nothing else; and writing back what is missing. Only the
// last commit counts (files written but not committed are not in the archive).

/** Paths listed per project at most; the counts are always whole. */
const LIST_MAX = 1_000;
/** A rebuild writes and commits a whole archive's worth of files: minutes, not the default 5 s. */
const REBUILD_TRANSACTION = { maxWait: 10_000, timeout: 30 * 60_000 };

export interface ProjectVerification {
  project: string;
  human_key: string;
  /** Messages of the project in the database. */
  messages: number;
  /** Canonical message files of the project in the archive's last commit. */
  files: number;
  /** Messages whose outbox event is not written yet: not missing, only late. */
  pending_events: number;
  missing_count: number;
  /** Canonical paths of messages the archive lacks (at most 1,000). */
  missing: string[];
  orphan_count: number;
  /** Canonical-looking files with no such message in the database (at most 1,000). */
  orphans: string[];
  ok: boolean;
}

export interface VerifyReport {
  ok: boolean;
  /** The archive commit that was compared; null when the archive has none. */
  commit: string | null;
  projects: ProjectVerification[];
  /** Project folders in the archive for which the database has no project (hard-deleted ones). */
  unknown_projects: string[];
}

interface ProjectRow {
  id: number;
  slug: string;
  humanKey: string;
}

async function selectProjects(db: Db, key: string | undefined): Promise<ProjectRow[]> {
  const select = { id: true, slug: true, humanKey: true } as const;
  if (key === undefined) return db.project.findMany({ select, orderBy: { id: "asc" } });
  const found = await db.project.findFirst({ where: { OR: [{ slug: key }, { humanKey: key }] }, select });
  if (!found) throw new AppError("NOT_FOUND", `Project '${quote(key)}' not found.`, { field: "project" });
  return [found];
}

function repoFor(config: ArchiveConfig): ArchiveRepo | undefined {
  return existsSync(path.join(config.dir, ".git")) ? new ArchiveRepo(config) : undefined;
}

/** A message's canonical path; the folders are YYYY/MM of its creation (the month the file name carries). */
const CANONICAL = /\/messages\/\d{4}\/\d{2}\/[^/]+\.md$/;

interface Comparison {
  verification: ProjectVerification;
  /** Ids of the messages the archive lacks (pending ones excluded). */
  missingIds: number[];
  pendingIds: Set<number>;
}

async function compareProject(db: Db, repo: ArchiveRepo | undefined, project: ProjectRow): Promise<Comparison> {
  const messages = await db.message.findMany({ where: { projectId: project.id }, select: { id: true, subject: true, createdTs: true }, orderBy: { id: "asc" } });
  const pending = await db.archiveOutbox.findMany({ where: { projectId: project.id, kind: "message", processedTs: null }, select: { messageId: true } });
  const pendingIds = new Set(pending.map((row) => row.messageId).filter((id): id is number => id !== null));
  const files = new Set((await repo?.committedFiles(`${projectDir(project.slug)}/messages`))?.filter((file) => CANONICAL.test(file)) ?? []);
  const expected = new Set<string>();
  const missing: string[] = [];
  const missingIds: number[] = [];
  for (const message of messages) {
    const canonical = messagePath(project.slug, { id: message.id, subject: message.subject, createdTs: message.createdTs });
    expected.add(canonical);
    if (files.has(canonical) || pendingIds.has(message.id)) continue;
    missing.push(canonical);
    missingIds.push(message.id);
  }
  const orphans = [...files].filter((file) => !expected.has(file));
  return {
    verification: {
      project: project.slug,
      human_key: project.humanKey,
      messages: messages.length,
      files: files.size,
      pending_events: pendingIds.size,
      missing_count: missing.length,
      missing: missing.slice(0, LIST_MAX),
      orphan_count: orphans.length,
      orphans: orphans.slice(0, LIST_MAX),
      ok: missing.length === 0 && orphans.length === 0,
    },
    missingIds,
    pendingIds,
  };
}

/** Compares the database with the archive's last commit, per project (`project`: one slug or human_key). */
export async function verifyArchive(db: Prisma, config: ArchiveConfig, options: { project?: string } = {}): Promise<VerifyReport> {
  const projects = await selectProjects(db, options.project);
  const repo = repoFor(config);
  const commit = (await repo?.revision("HEAD")) ?? null;
  const results: ProjectVerification[] = [];
  for (const project of projects) results.push((await compareProject(db, repo, project)).verification);
  let unknown: string[] = [];
  if (options.project === undefined && repo) {
    const known = new Set(projects.map((project) => projectDir(project.slug)));
    const folders = new Set((await repo.committedFiles("projects")).map((file) => file.split("/").slice(0, 2).join("/")));
    unknown = [...folders].filter((folder) => !known.has(folder)).sort();
  }
  return { ok: results.every((result) => result.ok), commit, projects: results, unknown_projects: unknown };
}

/**
 * Writes into the archive what the database has and the archive's last commit lacks: the
 * messages verify reports missing (all their copies and attachments, and the digests of their
 * threads rewritten whole from the database), agent profiles and reservation files, as one
 * commit. It needs the writer lock: a running server's writer holds it, and two writers would
 * write the same events.
 */
export async function rebuildArchive(db: Prisma, config: ArchiveConfig, options: { project?: string } = {}): Promise<{ written: number; commit: string | null }> {
  const busy = () =>
    new AppError("CONFLICT", "The archive writer of a running Mailroom server holds the archive; stop the servers (or set ARCHIVE_ENABLED=false on them) and run the rebuild again.");
  if (workersFor(path.resolve(config.dir)).some((worker) => worker.state().role === "writer")) throw busy();
  const projects = await selectProjects(db, options.project);
  return db.$transaction(async (tx) => {
    const [lock] = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${ARCHIVE_LOCK_CLASS}::int, 0) AS locked`;
    if (!lock?.locked) throw busy();
    const query: Query = <T>(sql: string, params: unknown[] = []) => tx.$queryRawUnsafe<T[]>(sql, ...params);
    const repo = new ArchiveRepo(config);
    await repo.ensure();
    await repo.repair();
    await repo.sync();
    await repo.initialCommit();

    const ops: FileOp[] = [];
    for (const project of projects) {
      const { missingIds, pendingIds } = await compareProject(tx, repo, project);
      ops.push(...(await missingMessageOps(query, tx, project, missingIds, pendingIds)));
      ops.push(...(await missingProfileOps(tx, repo, project)));
      ops.push(...(await missingReservationOps(query, tx, repo, project)));
    }
    if (ops.length === 0) return { written: 0, commit: null };
    const writer = new ArchiveWriter(repo.dir);
    const paths = await writer.apply(ops, async (sha256) => (await tx.attachmentBlob.findUnique({ where: { sha256 }, select: { data: true } }))?.data);
    const unique = [...new Set(paths)];
    const commit = await repo.commit(unique, `rebuild: ${unique.length} file(s) written from the database\n`);
    await repo.push();
    return { written: unique.length, commit };
  }, REBUILD_TRANSACTION);
}

async function missingMessageOps(query: Query, db: Db, project: ProjectRow, missingIds: number[], pendingIds: Set<number>): Promise<FileOp[]> {
  if (missingIds.length === 0) return [];
  const ops: FileOp[] = [];
  const threads = new Set<string>();
  const bundles = await loadMessages(query, missingIds);
  for (const id of missingIds) {
    const bundle = bundles.get(id);
    if (!bundle) continue;
    ops.push(...messageFiles(bundle).ops);
    const thread = bundle.message.thread_id?.trim();
    if (thread) threads.add(thread);
  }
  // A digest is rewritten whole, in message order, from the messages already written (a pending
  // one will be appended by the writer when it gets to it).
  for (const thread of threads) {
    const members = await db.message.findMany({ where: { projectId: project.id, threadId: thread }, select: { id: true }, orderBy: { id: "asc" } });
    const written = members.map((member) => member.id).filter((id) => !pendingIds.has(id));
    const memberBundles = await loadMessages(query, written);
    let content = threadDigestHeader(thread);
    for (const id of written) {
      const bundle = memberBundles.get(id);
      if (bundle) content += digestEntry(bundle, messageFiles(bundle).canonical);
    }
    ops.push({ op: "write", path: threadPath(project.slug, thread), content });
  }
  return ops;
}

async function missingProfileOps(db: Db, repo: ArchiveRepo, project: ProjectRow): Promise<FileOp[]> {
  const present = new Set(await repo.committedFiles(`${projectDir(project.slug)}/agents`));
  const agents = await db.agent.findMany({ where: { projectId: project.id }, orderBy: { id: "asc" } });
  return agents
    .filter((agent) => !present.has(profilePath(project.slug, agent.name)))
    .map((agent) => ({ op: "write" as const, path: profilePath(project.slug, agent.name), content: renderProfile({ ...agentView(agent) }) }));
}

async function missingReservationOps(query: Query, db: Db, repo: ArchiveRepo, project: ProjectRow): Promise<FileOp[]> {
  const present = new Set(await repo.committedFiles(`${projectDir(project.slug)}/file_reservations`));
  const ids = (await db.fileReservation.findMany({ where: { projectId: project.id }, select: { id: true }, orderBy: { id: "asc" } }))
    .map((row) => row.id)
    .filter((id) => !present.has(reservationPath(project.slug, id)));
  const records = await loadReservations(query, ids);
  return ids.flatMap((id) => {
    const record = records.get(id);
    return record ? [reservationFile(record)] : [];
  });
}
