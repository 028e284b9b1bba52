import { execFile } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Db } from "@/server/db/client";
import type { ReservationConfig } from "../context";
import { isoTsOrNull } from "../format";
import { isVirtualPattern, normalizePattern, patternMatchesPath } from "./match";

// The staleness heuristic of reference §4.4, from what the server knows: the holder's activity and
// its mail in the project; file mtimes and git commits only when the project's human_key is a
// directory on this server. A reservation is stale when its holder has been inactive for
// FILE_RESERVATION_INACTIVITY_SECONDS and nothing happened within FILE_RESERVATION_ACTIVITY_GRACE_SECONDS.

/** Files looked at per project directory walk; a larger tree is sampled, not walked whole. */
const WALK_FILES_MAX = 5000;
const WALK_ENTRIES_MAX = 20_000;
/** Files named to one `git log`, and how long it may take. */
const GIT_FILES_MAX = 64;
const GIT_TIMEOUT_MS = 3000;

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

interface Workspace {
  root: string;
  files: { rel: string; mtime: Date }[];
  git: boolean;
}

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
  const workspace = await openWorkspace(project.humanKey);

  for (const row of rows) {
    const agentTs = lastActive.get(row.agentId) ?? null;
    const mailTs = mail.get(row.agentId) ?? null;
    const agentInactive = agentTs === null || agentTs.getTime() < inactiveSince;
    const reasons = [
      agentInactive ? `agent_inactive>${settings.inactivitySeconds}s` : "agent_recently_active",
      recent(mailTs) ? "mail_activity_recent" : `no_recent_mail_activity>${settings.activityGraceSeconds}s`,
    ];
    let fsTs: Date | null = null;
    let gitTs: Date | null = null;
    if (workspace && !isVirtualPattern(row.pathPattern)) {
      const pattern = normalizePattern(row.pathPattern);
      const matched = workspace.files.filter((file) => patternMatchesPath(pattern, file.rel));
      if (matched.length === 0) {
        reasons.push("path_pattern_unmatched");
      } else {
        fsTs = new Date(Math.max(...matched.map((file) => file.mtime.getTime())));
        reasons.push(recent(fsTs) ? "filesystem_activity_recent" : `no_recent_filesystem_activity>${settings.activityGraceSeconds}s`);
        if (workspace.git) {
          gitTs = await lastCommit(workspace.root, matched.map((file) => file.rel));
          reasons.push(recent(gitTs) ? "git_activity_recent" : `no_recent_git_activity>${settings.activityGraceSeconds}s`);
        }
      }
    }
    result.set(row.id, {
      stale: agentInactive && !recent(mailTs) && !recent(fsTs) && !recent(gitTs),
      stale_reasons: reasons,
      last_agent_activity_ts: isoTsOrNull(agentTs),
      last_mail_activity_ts: isoTsOrNull(mailTs),
      last_filesystem_activity_ts: isoTsOrNull(fsTs),
      last_git_activity_ts: isoTsOrNull(gitTs),
    });
  }
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

/** The project's directory on this server (its human_key), if it is one: a bounded list of its files. */
async function openWorkspace(humanKey: string): Promise<Workspace | undefined> {
  if (!path.isAbsolute(humanKey)) return undefined;
  const info = await stat(humanKey).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  const files: Workspace["files"] = [];
  const queue = [""];
  let entries = 0;
  while (queue.length > 0 && files.length < WALK_FILES_MAX && entries < WALK_ENTRIES_MAX) {
    const dir = queue.shift()!;
    const listing = await readdir(path.join(humanKey, dir), { withFileTypes: true }).catch(() => []);
    for (const entry of listing) {
      if (++entries > WALK_ENTRIES_MAX || files.length >= WALK_FILES_MAX) break;
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (entry.name !== ".git") queue.push(rel);
      } else if (entry.isFile()) {
        const mtime = await stat(path.join(humanKey, rel)).then((s) => s.mtime, () => undefined);
        if (mtime) files.push({ rel, mtime });
      }
    }
  }
  const git = (await run("git", ["-C", humanKey, "rev-parse", "--is-inside-work-tree"])) === "true";
  return { root: humanKey, files, git };
}

async function lastCommit(root: string, files: string[]): Promise<Date | null> {
  // Literal pathspecs: a file named like `:(glob)x` is a file name, not pathspec magic.
  const out = await run("git", ["--literal-pathspecs", "-C", root, "log", "-1", "--format=%ct", "--", ...files.slice(0, GIT_FILES_MAX)]);
  const seconds = Number(out);
  return out && Number.isFinite(seconds) ? new Date(seconds * 1000) : null;
}

/** stdout trimmed, or "" when the command fails or takes longer than GIT_TIMEOUT_MS. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: GIT_TIMEOUT_MS, maxBuffer: 64 * 1024 }, (error, stdout) => resolve(error ? "" : stdout.trim()));
  });
}
