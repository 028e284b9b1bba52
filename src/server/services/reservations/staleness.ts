import { execFile } from "node:child_process";
import { readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { Db } from "@/server/db/client";
import type { ReservationConfig } from "../context";
import { isoTsOrNull } from "../format";
import { hasGlob, isVirtualPattern, normalizePattern, patternMatchesPath, patternSegments } from "./match";

// The staleness heuristic of reference §4.4, from what the server knows: the holder's activity and
// its mail in the project; file mtimes and git commits only when the project's human_key is a
// directory on this server. A reservation is stale when its holder has been inactive for
// FILE_RESERVATION_INACTIVITY_SECONDS and nothing happened within FILE_RESERVATION_ACTIVITY_GRACE_SECONDS.
//
// Files and git are asked last and only when they can decide: a recently active holder or recent
// mail keeps the reservation whatever they say. When they cannot answer (a walk cut short by its
// bound, a git call that timed out, this call's budget spent) activity is unknown, and unknown
// keeps the reservation: releasing a lease its holder may be using is the worse mistake, and the
// TTL (at most 30 days) still ends it.

/** Directory entries one walk reads; a walk that would read more is cut short (unknown). */
export const WALK_ENTRIES_MAX = 20_000;
/** New walks and new git calls (cache misses) per call; rows past either are unknown. */
export const CALL_WALKS_MAX = 8;
export const CALL_GIT_MAX = 16;
/** git processes running at once in this process, and how long one may take. */
const GIT_CONCURRENCY = 4;
const GIT_TIMEOUT_MS = 3000;
/** Rows whose files are looked at concurrently within one call. */
const ROW_CONCURRENCY = 4;
/** Walks and git answers are reused this long: reserve, the resource and the sweep ask in bursts. */
const CACHE_MS = 5000;
const CACHE_ENTRIES_MAX = 1000;
/** Never walked into (their contents are not the holder's edits, and they dwarf the rest). */
const SKIPPED_DIRS = new Set([
  ".git",
  ".hg",
  ".svn",
  ".jj",
  "node_modules",
  ".venv",
  "venv",
  "__pycache__",
  ".tox",
  ".mypy_cache",
  ".pytest_cache",
  ".ruff_cache",
  ".next",
  ".turbo",
  ".cache",
  ".gradle",
]);

export interface ReservationRef {
  id: number;
  agentId: number;
  pathPattern: string;
}

export interface Activity {
  stale: boolean;
  stale_reasons: string[];
  last_agent_activity_ts: string | null;
  last_mail_activity_ts: string | null;
  last_filesystem_activity_ts: string | null;
  last_git_activity_ts: string | null;
}

/** Walks and git processes started (cache misses): observable, so tests can see work skipped or reused. */
export const activityProbes = { walks: 0, gitCalls: 0 };

interface Walk {
  files: { rel: string; mtime: Date }[];
  /** False when the walk stopped at WALK_ENTRIES_MAX: files beyond it were never seen. */
  complete: boolean;
}

/** What one call may still spend on cache misses. */
interface Budget {
  walks: number;
  gitCalls: number;
}

type Unknown = { unknown: true };
type FilesSeen = { unknown: false; at: Date | null; matched: boolean } | Unknown;
type GitSeen = { unknown: false; at: Date | null } | Unknown;

/** The staleness of each reservation (all assumed unreleased and unexpired), by id. */
export async function reservationActivity(
  db: Db,
  project: { id: number; humanKey: string },
  rows: ReservationRef[],
  settings: ReservationConfig,
  now: Date,
): Promise<Map<number, Activity>> {
  const result = new Map<number, Activity>();
  if (rows.length === 0) return result;
  const agentIds = [...new Set(rows.map((row) => row.agentId))];
  const [agents, mail] = await Promise.all([
    db.agent.findMany({ where: { id: { in: agentIds } }, select: { id: true, lastActiveTs: true } }),
    lastMailActivity(db, project.id, agentIds),
  ]);
  const lastActive = new Map(agents.map((agent) => [agent.id, agent.lastActiveTs]));
  const inactiveSince = now.getTime() - settings.inactivitySeconds * 1000;
  const graceSince = now.getTime() - settings.activityGraceSeconds * 1000;
  const recent = (date: Date | null | undefined) => date != null && date.getTime() >= graceSince;
  const budget: Budget = { walks: CALL_WALKS_MAX, gitCalls: CALL_GIT_MAX };
  let workspace: Promise<Workspace | undefined> | undefined;

  await forEachLimit(rows, ROW_CONCURRENCY, async (row) => {
    const agentTs = lastActive.get(row.agentId) ?? null;
    const mailTs = mail.get(row.agentId) ?? null;
    const agentInactive = agentTs === null || agentTs.getTime() < inactiveSince;
    const reasons = [
      agentInactive ? `agent_inactive>${settings.inactivitySeconds}s` : "agent_recently_active",
      recent(mailTs) ? "mail_activity_recent" : `no_recent_mail_activity>${settings.activityGraceSeconds}s`,
    ];
    let stale = agentInactive && !recent(mailTs);
    let fsTs: Date | null = null;
    let gitTs: Date | null = null;
    const segments = isVirtualPattern(row.pathPattern) ? null : patternSegments(normalizePattern(row.pathPattern));
    const here = stale && segments ? await (workspace ??= openWorkspace(project.humanKey)) : undefined;
    if (here && segments) {
      const files = await filesystemActivity(here, segments, budget);
      if (files.unknown) {
        reasons.push("filesystem_activity_unknown");
        stale = false;
      } else {
        fsTs = files.at;
        reasons.push(files.matched ? (recent(fsTs) ? "filesystem_activity_recent" : `no_recent_filesystem_activity>${settings.activityGraceSeconds}s`) : "path_pattern_unmatched");
        stale = !recent(fsTs);
      }
      if (stale && here.git) {
        const git = await gitActivity(here.root, segments, budget);
        if (git.unknown) {
          reasons.push("git_activity_unknown");
          stale = false;
        } else {
          gitTs = git.at;
          reasons.push(recent(gitTs) ? "git_activity_recent" : `no_recent_git_activity>${settings.activityGraceSeconds}s`);
          stale = !recent(gitTs);
        }
      }
    }
    result.set(row.id, {
      stale,
      stale_reasons: reasons,
      last_agent_activity_ts: isoTsOrNull(agentTs),
      last_mail_activity_ts: isoTsOrNull(mailTs),
      last_filesystem_activity_ts: isoTsOrNull(fsTs),
      last_git_activity_ts: isoTsOrNull(gitTs),
    });
  });
  return result;
}

/** The latest message each agent sent, read or acknowledged in the project. */
async function lastMailActivity(db: Db, projectId: number, agentIds: number[]): Promise<Map<number, Date>> {
  const rows = await db.$queryRaw<{ id: number; ts: Date | null }[]>`
    SELECT a.id, GREATEST(
      (SELECT max(m.created_ts) FROM messages m WHERE m.sender_id = a.id AND m.project_id = ${projectId}),
      (SELECT max(GREATEST(r.read_ts, r.ack_ts)) FROM message_recipients r JOIN messages m ON m.id = r.message_id
        WHERE r.agent_id = a.id AND m.project_id = ${projectId})
    ) AS ts
    FROM unnest(${agentIds}::int[]) AS a(id)`;
  return new Map(rows.filter((row) => row.ts).map((row) => [row.id, row.ts!]));
}

interface Workspace {
  /** human_key with symlinks resolved: walks never leave it. */
  root: string;
  git: boolean;
}

/** The project's directory on this server (its human_key), if it is one, and whether git knows it. */
function openWorkspace(humanKey: string): Promise<Workspace | undefined> {
  if (!path.isAbsolute(humanKey)) return Promise.resolve(undefined);
  const key = `workspace\0${humanKey}`;
  return fromCache<Workspace | undefined>(key) ?? remember(key, async () => {
    const root = await realpath(humanKey).catch(() => undefined);
    const info = root ? await stat(root).catch(() => undefined) : undefined;
    if (!root || !info?.isDirectory()) return undefined;
    const git = await run(["-C", root, "rev-parse", "--is-inside-work-tree"]);
    return { root, git: git.out === "true" };
  });
}

/**
 * The latest mtime of the files the pattern matches, from a walk of the directory named by its
 * literal (glob-free) leading segments only: `src/server/**` never reads outside src/server.
 */
async function filesystemActivity(workspace: Workspace, segments: readonly string[], budget: Budget): Promise<FilesSeen> {
  const prefix = literalPrefix(segments);
  if (!walkable(prefix)) return { unknown: false, at: null, matched: false };
  const key = `walk\0${workspace.root}\0${prefix.join("/")}`;
  let walk = fromCache<Walk>(key);
  if (!walk) {
    if (budget.walks <= 0) return { unknown: true };
    budget.walks--;
    walk = remember(key, () => walkUnder(workspace.root, prefix));
  }
  const { files, complete } = await walk;
  if (!complete) return { unknown: true };
  const pattern = segments.join("/");
  let latest: Date | null = null;
  let matched = false;
  for (const file of files) {
    if (!patternMatchesPath(pattern, file.rel)) continue;
    matched = true;
    if (!latest || file.mtime > latest) latest = file.mtime;
  }
  return { unknown: false, at: latest, matched };
}

/** `..`, `.` or an empty name never appear in a walked path: a pattern starting with one matches no file. */
function walkable(prefix: readonly string[]): boolean {
  return !prefix.some((segment) => segment === "" || segment === "." || segment === "..");
}

/** Leading segments without glob characters; all of them for a literal pattern (a file or a directory). */
function literalPrefix(segments: readonly string[]): readonly string[] {
  const end = segments.findIndex((segment) => segment === "**" || hasGlob(segment));
  return end < 0 ? segments : segments.slice(0, end);
}

/** Breadth-first under root/prefix, skipping SKIPPED_DIRS and never following symlinks out of root. */
async function walkUnder(root: string, prefix: readonly string[]): Promise<Walk> {
  activityProbes.walks++;
  const files: Walk["files"] = [];
  const start = await realpath(path.join(root, ...prefix)).catch(() => undefined);
  // A symlinked prefix may point anywhere; what lies outside the project is not its activity.
  if (!start || (start !== root && !start.startsWith(root + path.sep))) return { files, complete: true };
  const info = await stat(start).catch(() => undefined);
  if (info?.isFile()) return { files: [{ rel: prefix.join("/"), mtime: info.mtime }], complete: true };
  if (!info?.isDirectory()) return { files, complete: true };
  const queue = [prefix.join("/")];
  let entries = 0;
  for (let next = 0; next < queue.length; next++) {
    const dir = queue[next]!;
    const listing = await readdir(path.join(root, dir), { withFileTypes: true }).catch(() => []);
    for (const entry of listing) {
      if (++entries > WALK_ENTRIES_MAX) return { files, complete: false };
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) queue.push(rel);
      } else if (entry.isFile()) {
        const mtime = await stat(path.join(root, rel)).then((s) => s.mtime, () => undefined);
        if (mtime) files.push({ rel, mtime });
      }
    }
  }
  return { files, complete: true };
}

/**
 * The latest commit touching what the pattern matches, from one `git log` with the pattern as a
 * glob pathspec (and `<pattern>/**`, since a pattern also covers a matching directory's contents).
 * It sees deleted files and directories the walk skips.
 */
async function gitActivity(root: string, segments: readonly string[], budget: Budget): Promise<GitSeen> {
  // Outside the repository (`..`) git refuses the pathspec; such a pattern matches nothing anyway.
  if (!walkable(literalPrefix(segments))) return { unknown: false, at: null };
  const glob = segments.join("/");
  const pathspecs = [`:(glob)${glob}`, ...(segments[segments.length - 1] === "**" ? [] : [`:(glob)${glob}/**`])];
  const key = `git\0${root}\0${glob}`;
  const hit = fromCache<GitSeen>(key);
  if (hit) return hit;
  if (budget.gitCalls <= 0) return { unknown: true };
  budget.gitCalls--;
  return remember(key, async (): Promise<GitSeen> => {
    const { out, timedOut } = await run(["-C", root, "log", "-1", "--format=%ct", "--", ...pathspecs]);
    if (timedOut) return { unknown: true };
    const seconds = Number(out);
    return { unknown: false, at: out && Number.isFinite(seconds) ? new Date(seconds * 1000) : null };
  });
}

// ----- bounded git processes -----

let gitRunning = 0;
const gitWaiting: (() => void)[] = [];

/** git with an argument array (no shell), at most GIT_CONCURRENCY at once; `out` is "" on failure. */
async function run(args: string[]): Promise<{ out: string; timedOut: boolean }> {
  if (gitRunning < GIT_CONCURRENCY) gitRunning++;
  else await new Promise<void>((resolve) => gitWaiting.push(resolve)); // the slot is handed over
  try {
    activityProbes.gitCalls++;
    return await new Promise((resolve) => {
      execFile("git", args, { timeout: GIT_TIMEOUT_MS, maxBuffer: 64 * 1024 }, (error, stdout) =>
        resolve(error ? { out: "", timedOut: Boolean(error.killed) } : { out: stdout.trim(), timedOut: false }),
      );
    });
  } finally {
    const next = gitWaiting.shift();
    if (next) next();
    else gitRunning--;
  }
}

// ----- the short-lived cache -----

const cache = new Map<string, { at: number; value: Promise<unknown> }>();

function fromCache<T>(key: string): Promise<T> | undefined {
  const entry = cache.get(key);
  return entry && Date.now() - entry.at < CACHE_MS ? (entry.value as Promise<T>) : undefined;
}

/** Starts `compute` and caches its promise, so that concurrent callers share one walk or git call. */
function remember<T>(key: string, compute: () => Promise<T>): Promise<T> {
  cache.delete(key);
  if (cache.size >= CACHE_ENTRIES_MAX) cache.delete(cache.keys().next().value!);
  const value = compute();
  cache.set(key, { at: Date.now(), value });
  return value;
}

/** Forgets every cached walk and git answer (a caller that knows files just changed). */
export function forgetWorkspaceActivity(): void {
  cache.clear();
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
