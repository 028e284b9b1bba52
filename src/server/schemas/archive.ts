import { z } from "zod";
import { MAX_COMMIT_PAGE, MAX_PATH_CHARS, SHA_RULE, archivePathProblem } from "@/server/archive/read";
import { outputFormat, projectKey, stateItemOutput, timestamp } from "./common";

// Contracts of the Git archive's read operations (src/server/services/archive) and of the commit
// info message payloads carry.

const sha = z
  .string()
  .max(40)
  .regex(/^[0-9a-fA-F]{4,40}$/, SHA_RULE);

const archivePath = z
  .string()
  .max(MAX_PATH_CHARS)
  .superRefine((value, ctx) => {
    const problem = archivePathProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const archiveCommitsInput = z.strictObject({
  project_key: projectKey,
  path: archivePath.optional().describe("Only commits touching this path (projects/<slug>/…, e.g. an agent's folder)."),
  cursor: sha.optional().describe("next_cursor of the previous page."),
  limit: z.number().int().min(1).max(MAX_COMMIT_PAGE).default(50).describe(`Commits per page, 1..${MAX_COMMIT_PAGE}.`),
  format: outputFormat,
});

export const archiveCommitInput = z.strictObject({
  project_key: projectKey,
  sha: sha.describe("Commit id (4-40 hex digits)."),
  format: outputFormat,
});

export const archiveFileInput = z.strictObject({
  project_key: projectKey,
  path: archivePath.describe("File path, projects/<slug>/…"),
  sha: sha.optional().describe("Commit id; default the newest."),
  format: outputFormat,
});

const commitSummaryOutput = z.strictObject({
  sha: z.string(),
  summary: z.string(),
  author_name: z.string(),
  authored_ts: timestamp,
  shared: z.boolean(),
});

export const archiveCommitsOutput = z.strictObject({
  /** False when the archive is disabled or not created yet (the page is then empty). */
  available: z.boolean(),
  commits: z.array(commitSummaryOutput),
  next_cursor: z.string().nullable(),
});

export const archiveCommitOutput = commitSummaryOutput.extend({
  parents: z.array(z.string()),
  author_email: z.string(),
  committed_ts: timestamp,
  message: z.string(),
  files: z.array(
    z.strictObject({
      path: z.string(),
      status: z.string(),
      insertions: z.number().int().nullable(),
      deletions: z.number().int().nullable(),
      binary: z.boolean(),
    }),
  ),
  files_truncated: z.boolean(),
  diff: z.string(),
  truncated: z.boolean(),
});

export const archiveFileOutput = z.strictObject({
  commit: z.string(),
  path: z.string(),
  size: z.number().int(),
  binary: z.boolean(),
  encoding: z.enum(["utf-8", "base64"]),
  content: z.string(),
  truncated: z.boolean(),
});

/** whois recent_commits (the reference's shape; hexsha is 12 characters). */
export const recentCommitOutput = z.strictObject({ hexsha: z.string(), summary: z.string(), authored_ts: timestamp });

/** A message's commit on resource://mailbox. */
export const simpleMessageCommitOutput = z.strictObject({ hexsha: z.string(), summary: z.string() });

/** A message's commit on inbox, outbox and mailbox-with-commits: the canonical file's change. */
export const messageCommitOutput = simpleMessageCommitOutput.extend({
  authored_ts: timestamp,
  insertions: z.number().int(),
  deletions: z.number().int(),
  diff_summary: z.strictObject({ hunks: z.number().int(), excerpt: z.array(z.string()) }),
});

export const mailboxWithCommitsOutput = z.looseObject({
  project: z.string(),
  agent: z.string(),
  count: z.number().int(),
  messages: z.array(stateItemOutput.extend({ commit: messageCommitOutput.optional() })),
});
