import { agentDir } from "@/server/archive/layout";
import { listCommits, messageCommits, openArchive } from "@/server/archive/read";
import type { AgentContext, ProjectContext } from "../context";

// Archive commits as agent-facing payloads carry them: whois.recent_commits and the `commit` of
// each message on the mailbox resources. The archive is an audit copy that may lag, be disabled or
// be broken: none of that may fail or hold up a read of mail, so a failure here leaves the commit
// info out (and is logged) instead of failing the call.

/** The reference's whois commit_limit range. */
const MAX_RECENT = 50;

export interface RecentCommit {
  hexsha: string;
  summary: string;
  authored_ts: string;
}

/** The writer's mail commit subject (the reference's fallback): `mail: <sender> -> <to, cc, bcc> | <subject>`. */
const MAIL_SUBJECT = /^mail: (\S+) -> [^|]* \| /;

/**
 * A commit summary as agent `viewer` may see it. A mail commit's subject lists every recipient,
 * bcc included, and only a message's sender may see its bcc recipients: anyone else gets
 * `mail: <sender> | <subject>`, whether or not there was a bcc, so the form gives nothing away.
 */
export function viewerSummary(summary: string, viewer: string): string {
  const match = MAIL_SUBJECT.exec(summary);
  if (!match || match[1]!.toLowerCase() === viewer.toLowerCase()) return summary;
  return `mail: ${match[1]} | ${summary.slice(match[0].length)}`;
}

function logFailure(what: string, error: unknown): void {
  console.error(`[archive] ${what} left out: ${(error as Error).message}`);
}

/**
 * whois.recent_commits: the newest commits touching the agent's folder
 * (`projects/<slug>/agents/<Name>/`: its profile and its inbox and outbox copies), at most `limit`
 * clamped to 1..50 as upstream clamps commit_limit. Upstream lists the whole repository's
 * newest commits, other projects' included; these are the agent's own.
 */
export async function agentRecentCommits(ctx: ProjectContext, agentName: string, limit: number): Promise<RecentCommit[]> {
  const repo = await openArchive(ctx.config.archive);
  if (!repo) return [];
  try {
    const page = await listCommits(repo, {
      slug: ctx.project.slug,
      paths: [agentDir(ctx.project.slug, agentName)],
      limit: Math.max(1, Math.min(MAX_RECENT, limit)),
      markShared: false,
    });
    return page.commits.map((commit) => ({ hexsha: commit.sha.slice(0, 12), summary: viewerSummary(commit.summary, agentName), authored_ts: commit.authored_ts }));
  } catch (error) {
    logFailure("whois recent_commits", error);
    return [];
  }
}

interface MessageKey {
  id: number;
  project_id: number;
}

function isMessage(value: object): value is MessageKey {
  return typeof (value as MessageKey).id === "number" && typeof (value as MessageKey).project_id === "number";
}

/**
 * `result` with each of its messages that the archive has committed carrying `commit`: "simple"
 * `{hexsha, summary}` (resource://mailbox), "full" with authored_ts, insertions, deletions and
 * diff_summary (inbox, outbox, mailbox-with-commits). One query finds the page's commits
 * (archive_outbox.message_id is indexed); at most two git processes read them. Only messages of
 * the context's project are looked up: their canonical files live in its archive folder. Summaries
 * are shown as the context's agent may see them (viewerSummary).
 */
export async function withMessageCommits<R extends { messages: object[] }>(ctx: AgentContext, result: R, detail: "simple" | "full"): Promise<R> {
  const ids = result.messages.filter((message) => isMessage(message) && message.project_id === ctx.project.id).map((message) => (message as MessageKey).id);
  if (ids.length === 0) return result;
  const repo = await openArchive(ctx.config.archive);
  if (!repo) return result;
  const rows = await ctx.db.archiveOutbox.findMany({
    where: { kind: "message", messageId: { in: ids }, commitSha: { not: null } },
    select: { messageId: true, commitSha: true },
    orderBy: { id: "asc" },
  });
  const shas = new Map<number, string>();
  // The first commit that wrote the message is its commit; a rebuild may write it again later.
  for (const row of rows) if (!shas.has(row.messageId!)) shas.set(row.messageId!, row.commitSha!);
  if (shas.size === 0) return result;
  try {
    const commits = await messageCommits(repo, ctx.project.slug, shas, detail);
    const withCommit = (message: object) => {
      const commit = isMessage(message) ? commits.get(message.id) : undefined;
      return commit ? { ...message, commit: { ...commit, summary: viewerSummary(commit.summary, ctx.agent.name) } } : message;
    };
    return { ...result, messages: result.messages.map(withCommit) };
  } catch (error) {
    logFailure("message commits", error);
    return result;
  }
}
