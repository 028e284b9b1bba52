import { recipientMessages } from "@/server/db/mail-sql";
import { AppError, quote } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import { commitDetail, listCommits, openArchive, projectPath, projectRoot, readFileAt, type ReadableArchive } from "@/server/archive/read";
import {
  archiveCommitInput,
  archiveCommitOutput,
  archiveCommitsInput,
  archiveCommitsOutput,
  archiveFileInput,
  archiveFileOutput,
  mailboxWithCommitsOutput,
} from "@/server/schemas/archive";
import { mailboxResourceInput } from "@/server/schemas/messages";
import type { ProjectContext } from "../context";
import { clampLimit } from "../messages/validation";
import { stateItem } from "../messages/views";
import { withMessageCommits } from "./commits";

// Reading the Git archive for the dashboard (and MCP, extended profile): one project's commits,
// one commit with its diff, one file at a commit. Each is scoped to a project and sees only
// `projects/<slug>/`: another project's files, and the body of a commit shared with other
// projects, never show. A disabled or not yet created archive lists nothing; asking for a
// particular commit or file of it is NOT_FOUND.
//
// They need the admin role, like the dashboard's mail reads (dashboard_inbox, …): the archive
// holds every agent's mail of the project, bodies and bcc lists included, which agents read only
// through their own token.

async function requireArchive(ctx: ProjectContext): Promise<ReadableArchive> {
  const repo = await openArchive(ctx.config.archive);
  if (!repo) throw new AppError("NOT_FOUND", "The Git archive is not available: it is disabled or nothing has been written to it yet.");
  return repo;
}

export const archiveCommits = defineOperation({
  name: "archive_commits",
  description: "This project's Git archive commits, newest first; path narrows them (e.g. an agent's folder). Page with cursor.",
  input: archiveCommitsInput,
  output: archiveCommitsOutput,
  permission: "admin",
  kind: "query",
  scope: "project",
  tool: { profile: "extended", cluster: "infrastructure", title: "Archive commits" },
  async handler(ctx, input) {
    const slug = ctx.project.slug;
    const filter = input.path === undefined ? projectRoot(slug) : projectPath(input.path, slug);
    const repo = await openArchive(ctx.config.archive);
    if (!repo) return { available: false, commits: [], next_cursor: null };
    return { available: true, ...(await listCommits(repo, { slug, paths: [filter], limit: input.limit, before: input.cursor })) };
  },
});

export const archiveCommit = defineOperation({
  name: "archive_commit",
  description: "One Git archive commit: message, this project's changed files and their diff (cut at 512 KiB, truncated set).",
  input: archiveCommitInput,
  output: archiveCommitOutput,
  permission: "admin",
  kind: "query",
  scope: "project",
  tool: { profile: "extended", cluster: "infrastructure", title: "Archive commit" },
  async handler(ctx, input) {
    const detail = await commitDetail(await requireArchive(ctx), ctx.project.slug, input.sha);
    if (!detail) throw new AppError("NOT_FOUND", `Commit '${quote(input.sha)}' not found in this project's archive.`, { field: "sha" });
    return detail;
  },
});

export const archiveFile = defineOperation({
  name: "archive_file",
  description: "A file of this project's Git archive at a commit (default the newest): UTF-8 text or base64, cut at 1 MiB.",
  input: archiveFileInput,
  output: archiveFileOutput,
  permission: "admin",
  kind: "query",
  scope: "project",
  tool: { profile: "extended", cluster: "infrastructure", title: "Archive file" },
  async handler(ctx, input) {
    const filePath = projectPath(input.path, ctx.project.slug);
    const file = await readFileAt(await requireArchive(ctx), filePath, input.sha);
    if (!file) {
      const where = input.sha === undefined ? "the newest commit" : `commit '${quote(input.sha)}'`;
      throw new AppError("NOT_FOUND", `No file '${quote(filePath)}' at ${where} of the archive.`, { field: "path" });
    }
    return file;
  },
});

/** resource://mailbox-with-commits/{agent}: the mailbox with each message's commit and diff summary. */
export const mailboxWithCommitsResource = defineOperation({
  name: "resource://mailbox-with-commits",
  description: "An agent's received mail with read/ack state and each message's archive commit (diff summary). Query: project, agent_token, limit.",
  input: mailboxResourceInput,
  output: mailboxWithCommitsOutput,
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: { project: "project", agent: "agent", token: "agent_token" },
  resource: "resource://mailbox-with-commits/{agent}",
  async handler(ctx, input) {
    const rows = await recipientMessages(ctx.db, { agentId: ctx.agent.id, limit: clampLimit(input.limit), includeBodies: false });
    const messages = rows.map((row) => stateItem(row, false));
    return withMessageCommits(ctx, { project: ctx.project.humanKey, agent: ctx.agent.name, count: messages.length, messages }, "full");
  },
});

export const archiveOperations = {
  commits: archiveCommits,
  commit: archiveCommit,
  file: archiveFile,
  mailboxWithCommits: mailboxWithCommitsResource,
} as const;
