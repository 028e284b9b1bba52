import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { AppError, quote } from "@/server/errors";
import type { ArchiveConfig } from "@/server/services/context";
import { isoTs } from "@/server/services/format";
import { messageIdFromFileName, projectDir } from "./layout";

// Reading the Git audit archive back: bounded, read-only git calls over the repository the writer
// keeps at config.archive.dir. git runs from child_process.spawn with argument arrays (never a
// shell) so that every call can stream, stop at a byte cap and be killed at a deadline; simple-git
// buffers whole outputs. Every revision the caller names is checked (hex only) and resolved with
// `rev-parse --end-of-options` to a full id before any other command sees it, and caller paths
// go through --literal-pathspecs or the `<commit>:<path>` object syntax, so no value can become a
// git option or pathspec magic.

/** The branch the writer commits to (the layout contract). */
export const ARCHIVE_BRANCH = "refs/heads/main";
/** Longest time one git process may run. */
export const GIT_TIMEOUT_MS = 5_000;
/** git processes this server runs at once for reads; more wait their turn. */
const MAX_GIT_PROCESSES = 4;
export const MAX_COMMIT_PAGE = 200;
/** A commit's diff is cut here (and `truncated` set). */
export const MAX_DIFF_BYTES = 512 * 1024;
/** A file read at a commit is cut here (and `truncated` set). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** A commit's full message is cut here. */
const MAX_MESSAGE_BYTES = 16 * 1024;
/** Changed files listed for one commit. */
export const MAX_COMMIT_FILES = 1000;
/** Lines of a message's diff excerpt (the reference's ≤ 12), each cut to EXCERPT_LINE_CHARS. */
const EXCERPT_LINES = 12;
const EXCERPT_LINE_CHARS = 300;
/** Longest line the streaming parser keeps; the rest of a longer line is dropped. */
const MAX_LINE_CHARS = 8 * 1024;
/** git's own test for binary content: a NUL in the first 8000 bytes. */
const BINARY_PROBE_BYTES = 8000;

export const SHA_RULE = "must be 4 to 40 hexadecimal digits (a commit id)";
const SHA_PATTERN = /^[0-9a-fA-F]{4,40}$/;
const FULL_SHA = /^[0-9a-f]{40}$/;
/** What layout's project directory names are made of; anything else here is a bug, not input. */
const PROJECT_DIR = /^projects\/[a-z0-9][a-z0-9._-]*$/;
export const MAX_PATH_CHARS = 1024;

export interface ReadableArchive {
  gitDir: string;
}

export interface CommitSummary {
  sha: string;
  summary: string;
  author_name: string;
  authored_ts: string;
  /** The commit also changes other projects' files: only its subject is shown (its body names them). */
  shared: boolean;
}

export interface CommitPage {
  commits: CommitSummary[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

export interface CommitFile {
  path: string;
  /** git's status letter: A added, M modified, D deleted, T type changed. */
  status: string;
  /** null for binary files. */
  insertions: number | null;
  deletions: number | null;
  binary: boolean;
}

export interface CommitDetail extends CommitSummary {
  parents: string[];
  author_email: string;
  committed_ts: string;
  message: string;
  files: CommitFile[];
  files_truncated: boolean;
  diff: string;
  truncated: boolean;
}

export interface FileAtCommit {
  commit: string;
  path: string;
  size: number;
  binary: boolean;
  encoding: "utf-8" | "base64";
  content: string;
  truncated: boolean;
}

export interface MessageCommit {
  hexsha: string;
  summary: string;
  authored_ts: string;
  insertions: number;
  deletions: number;
  diff_summary: { hunks: number; excerpt: string[] };
}

/**
 * What stands for the body of a commit that also touches other projects. Its subject stays: a
 * commit of one event is never shared, and a batch's subject is only `batch: N commits`
 * (render.ts batchCommitMessage; archive-read.test.ts holds it to that).
 */
export const WITHHELD_BODY = "(the rest of this message is withheld: the commit also changes other projects' files)";

// ----- validation -----

function invalid(field: string, rule: string): AppError {
  return new AppError("INVALID_ARGUMENT", `${field}: ${rule}.`, { field });
}

/** A caller's commit id: 4–40 hex digits, lower-cased. Nothing else reaches git as a revision. */
export function checkSha(value: string, field = "sha"): string {
  if (!SHA_PATTERN.test(value)) throw invalid(field, `${SHA_RULE}; got '${quote(value)}'`);
  return value.toLowerCase();
}

/** Why `value` is not an archive path, or undefined when it is one (relative, `/`-separated, no `.`/`..`). */
export function archivePathProblem(value: string): string | undefined {
  if (value.length === 0) return "must not be empty";
  if (value.length > MAX_PATH_CHARS) return `must be at most ${MAX_PATH_CHARS} characters`;
  // Control characters include NUL and the newline that would end a `cat-file --batch` request.
  if (/[\u0000-\u001f\u007f]/.test(value)) return "must not contain control characters";
  if (value.includes("\\")) return "must use '/' as the separator";
  if (value.startsWith("/") || /^[A-Za-z]:/.test(value)) return "must be relative to the archive root (projects/<slug>/…)";
  const segments = value.replace(/\/$/, "").split("/");
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) return "must not contain empty, '.' or '..' segments";
  return undefined;
}

/** The directory of a project in the archive (`projects/<slug>`), as the writer places it. */
export function projectRoot(slug: string): string {
  const root = projectDir(slug);
  // It goes into pathspec magic (`:(exclude)…`, `:(glob)…`): it must stay plain.
  if (!PROJECT_DIR.test(root)) throw new Error(`unexpected project directory ${JSON.stringify(root)}`);
  return root;
}

/**
 * `value` as a path of project `slug` (the project's directory itself or anything under it),
 * without a trailing slash; INVALID_ARGUMENT naming `field` otherwise.
 */
export function projectPath(value: string, slug: string, field = "path"): string {
  const problem = archivePathProblem(value);
  if (problem) throw invalid(field, problem);
  const root = projectRoot(slug);
  const trimmed = value.replace(/\/$/, "");
  if (trimmed !== root && !trimmed.startsWith(`${root}/`)) throw invalid(field, `must be inside this project's archive directory ${root}/`);
  return trimmed;
}

// ----- running git -----

let running = 0;
const waiting: (() => void)[] = [];

async function acquire(): Promise<void> {
  if (running < MAX_GIT_PROCESSES) {
    running += 1;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function release(): void {
  const next = waiting.shift();
  // The slot passes straight to the next waiter.
  if (next) next();
  else running -= 1;
}

/** Only what git needs, and no user or system configuration: outputs must not depend on either. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {
    // eslint-disable-next-line no-restricted-properties -- the child's environment, not configuration
    PATH: process.env.PATH,
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    // Reads must never take the index lock the writer needs.
    GIT_OPTIONAL_LOCKS: "0",
    GIT_NO_REPLACE_OBJECTS: "1",
  };
  return env as NodeJS.ProcessEnv;
}

interface GitCall {
  args: string[];
  /** Written to git's standard input (revisions for --stdin, requests for cat-file --batch). */
  input?: string;
  /** Output kept; git is stopped once it has written more. */
  maxBytes: number;
  /** Streaming mode: each output line (cut to MAX_LINE_CHARS) goes here and nothing is kept. */
  onLine?: (line: string) => void;
}

interface GitResult {
  stdout: Buffer;
  truncated: boolean;
  code: number | null;
  stderr: string;
}

export class GitReadError extends Error {}

/**
 * Runs one git command against the archive with a deadline and an output cap. Resolves with
 * whatever exit code git gave (callers decide what a failure means); rejects on a timeout or when
 * git cannot be started.
 */
async function runGit(repo: ReadableArchive, call: GitCall): Promise<GitResult> {
  await acquire();
  try {
    return await new Promise<GitResult>((resolve, reject) => {
      const child = spawn("git", [`--git-dir=${repo.gitDir}`, "-c", "core.quotePath=false", ...call.args], {
        env: gitEnv(),
        stdio: [call.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        shell: false,
        windowsHide: true,
      });
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      let stderr = "";
      let timedOut = false;
      const decoder = new StringDecoder("utf8");
      let pending = "";
      let overlong = false;

      const emit = (text: string) => {
        const parts = (pending + text).split("\n");
        pending = parts.pop() ?? "";
        for (const line of parts) {
          if (overlong) overlong = false;
          else call.onLine!(line);
        }
        if (pending.length > MAX_LINE_CHARS) {
          if (!overlong) call.onLine!(pending.slice(0, MAX_LINE_CHARS));
          overlong = true;
          pending = "";
        }
      };

      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, GIT_TIMEOUT_MS);

      child.stdout!.on("data", (chunk: Buffer) => {
        if (call.onLine) {
          emit(decoder.write(chunk));
          return;
        }
        if (truncated) return;
        const room = call.maxBytes - kept;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          kept += room;
          truncated = true;
          child.kill("SIGKILL");
          return;
        }
        chunks.push(chunk);
        kept += chunk.length;
      });
      child.stderr!.on("data", (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString("utf8");
      });
      if (call.input !== undefined) {
        // git may exit (or be killed) before it has read everything: that is not an error here.
        child.stdin!.on("error", () => undefined);
        child.stdin!.end(call.input);
      }
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new GitReadError(`git could not be started: ${error.message}`));
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        if (timedOut) {
          reject(new GitReadError(`git ${call.args[0] ?? ""} took longer than ${GIT_TIMEOUT_MS} ms`));
          return;
        }
        if (call.onLine) {
          emit(decoder.end());
          if (pending && !overlong) call.onLine(pending);
        }
        resolve({ stdout: Buffer.concat(chunks), truncated, code: truncated ? 0 : code, stderr });
      });
    });
  } finally {
    release();
  }
}

/** Fails loudly on an unexpected git failure: the caller's surface turns it into INTERNAL_ERROR. */
function ensureOk(result: GitResult, what: string): Buffer {
  if (result.code !== 0) throw new GitReadError(`git ${what} failed (${result.code}): ${result.stderr.trim().slice(0, 300)}`);
  return result.stdout;
}

// ----- the repository -----

async function isDirectory(candidate: string): Promise<boolean> {
  try {
    return (await stat(candidate)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The archive repository, or null when the archive is disabled or nothing has created it yet.
 * The git directory is named explicitly: a missing repository must never make git search the
 * parent directories and read whatever repository encloses ARCHIVE_DIR.
 */
export async function openArchive(config: ArchiveConfig): Promise<ReadableArchive | null> {
  if (!config.enabled || !path.isAbsolute(config.dir)) return null;
  const dotGit = path.join(config.dir, ".git");
  if (await isDirectory(path.join(dotGit, "objects"))) return { gitDir: dotGit };
  // A bare repository (ARCHIVE_DIR itself holds objects/ and HEAD).
  if (await isDirectory(path.join(config.dir, "objects"))) return { gitDir: config.dir };
  return null;
}

/**
 * The full id of the commit `rev` names, or null when there is none. `rev` is either the branch
 * or a caller's sha already checked by checkSha; an ambiguous short id is the caller's mistake.
 */
export async function resolveCommit(repo: ReadableArchive, rev: string, field = "sha"): Promise<string | null> {
  if (rev !== ARCHIVE_BRANCH) checkSha(rev, field);
  const result = await runGit(repo, { args: ["rev-parse", "--verify", "--end-of-options", `${rev}^{commit}`], maxBytes: 1024 });
  if (result.code === 0) {
    const sha = result.stdout.toString("utf8").trim();
    if (FULL_SHA.test(sha)) return sha;
  }
  if (/ambiguous/i.test(result.stderr)) throw invalid(field, `'${quote(rev)}' matches several commits; give more digits`);
  return null;
}

/** A summary is the subject (the message's first paragraph on one line), cut to this many columns. */
const SUMMARY_CHARS = 300;
// %<(N,trunc) cuts the subject git-side (and pads it, hence trimEnd), so a writer's long first
// paragraph cannot blow up a page of commits.
const LOG_FORMAT = `--format=%x1e%H%x00%an%x00%at%x00%<(${SUMMARY_CHARS},trunc)%s`;
/** Bytes one LOG_FORMAT record can take (a 300-column subject is at most 1,200 bytes). */
const LOG_RECORD_BYTES = 2048;

/** The subject of a full message, as %s gives it: the first paragraph on one line, cut like LOG_FORMAT. */
function summaryOf(message: string): string {
  const subject = (message.split(/\n\s*\n/)[0] ?? "").replace(/\s*\n\s*/g, " ").trim();
  return Array.from(subject).length > SUMMARY_CHARS ? `${Array.from(subject).slice(0, SUMMARY_CHARS - 2).join("")}..` : subject;
}

function parseLog(result: GitResult): Omit<CommitSummary, "shared">[] {
  const records = ensureOk(result, "log").toString("utf8").split("\x1e").filter((record) => record.trim());
  // A cut output ends inside its last record.
  if (result.truncated) records.pop();
  return records.map((record) => {
    const [sha = "", author = "", at = "0", summary = ""] = record.replace(/\n+$/, "").split("\0");
    return { sha, author_name: author, authored_ts: isoTs(new Date(Number(at) * 1000)), summary: summary.trimEnd() };
  });
}

/**
 * Which of `shas` also change files of projects other than `slug`. A writer may batch several
 * projects' events into one commit, and its message then names them all.
 */
async function sharedCommits(repo: ReadableArchive, slug: string, shas: string[]): Promise<Set<string>> {
  if (shas.length === 0) return new Set();
  const result = await runGit(repo, {
    args: ["log", "--no-walk=unsorted", "--ignore-missing", "--stdin", "--format=%H", "--", "projects", `:(exclude)${projectRoot(slug)}`],
    input: `${shas.join("\n")}\n`,
    maxBytes: 64 * shas.length + 1024,
  });
  return new Set(ensureOk(result, "log (shared)").toString("utf8").split("\n").filter(Boolean));
}


/**
 * Commits of the branch that touch any of `paths` (project paths checked by projectPath), newest
 * first, at most `limit` (1..MAX_COMMIT_PAGE); `before` continues after a page's next_cursor.
 * A branch with no commits yet is an empty page. `markShared: false` skips finding which commits
 * are shared (every `shared` is then false) for callers that do not show it.
 */
export async function listCommits(
  repo: ReadableArchive,
  options: { slug: string; paths: string[]; limit: number; before?: string; markShared?: boolean },
): Promise<CommitPage> {
  const limit = Math.max(1, Math.min(MAX_COMMIT_PAGE, Math.trunc(options.limit)));
  let start: string | null;
  if (options.before !== undefined) {
    start = await resolveCommit(repo, options.before, "cursor");
    if (!start) throw new AppError("NOT_FOUND", `cursor: no commit '${quote(options.before)}' in the archive.`, { field: "cursor" });
  } else {
    start = await resolveCommit(repo, ARCHIVE_BRANCH);
    if (!start) return { commits: [], next_cursor: null };
  }
  // One more than asked shows whether there is another page; the cursor commit itself comes first.
  const count = limit + 1 + (options.before === undefined ? 0 : 1);
  const result = await runGit(repo, {
    args: ["--literal-pathspecs", "log", "--no-color", LOG_FORMAT, `--max-count=${count}`, start, "--", ...options.paths],
    maxBytes: count * LOG_RECORD_BYTES,
  });
  let commits = parseLog(result);
  if (options.before !== undefined && commits[0]?.sha === start) commits = commits.slice(1);
  const page = commits.slice(0, limit);
  const shared = options.markShared === false ? new Set<string>() : await sharedCommits(repo, options.slug, page.map((commit) => commit.sha));
  return {
    commits: page.map((commit) => ({ ...commit, shared: shared.has(commit.sha) })),
    next_cursor: commits.length > limit ? page[page.length - 1]!.sha : null,
  };
}

function parseRawAndNumstat(buffer: Buffer, truncated: boolean): { files: CommitFile[]; truncated: boolean } {
  const fields = buffer.toString("utf8").split("\0");
  // A cut output may end inside an entry: drop the incomplete tail.
  if (truncated) fields.pop();
  const status = new Map<string, string>();
  const stats = new Map<string, { insertions: number | null; deletions: number | null }>();
  for (let i = 0; i < fields.length; i += 1) {
    const field = fields[i]!.replace(/^\n+/, "");
    if (field.startsWith(":")) {
      const filePath = fields[i + 1];
      if (filePath === undefined) break;
      status.set(filePath, field.trim().split(" ").pop()!.charAt(0));
      i += 1;
    } else if (/^(\d+|-)\t(\d+|-)\t/.test(field)) {
      const [added, removed, ...rest] = field.split("\t");
      stats.set(rest.join("\t"), { insertions: added === "-" ? null : Number(added), deletions: removed === "-" ? null : Number(removed) });
    }
  }
  const files = [...status].map(([filePath, letter]) => {
    const counted = stats.get(filePath) ?? { insertions: null, deletions: null };
    return { path: filePath, status: letter, ...counted, binary: stats.has(filePath) && counted.insertions === null };
  });
  return { files: files.slice(0, MAX_COMMIT_FILES), truncated: truncated || files.length > MAX_COMMIT_FILES };
}

/** `buffer` as text, cut back to its last complete line when it was cut. */
function textOf(buffer: Buffer, truncated: boolean): string {
  if (!truncated) return buffer.toString("utf8");
  const end = buffer.lastIndexOf(0x0a);
  return buffer.subarray(0, end + 1).toString("utf8");
}

/**
 * One commit as project `slug` may see it: its files and diff limited to the project's directory,
 * its message withheld when it also changes other projects. Null when there is no such commit or
 * it does not touch the project.
 */
export async function commitDetail(repo: ReadableArchive, slug: string, sha: string): Promise<CommitDetail | null> {
  const full = await resolveCommit(repo, checkSha(sha));
  if (!full) return null;
  const root = projectRoot(slug);
  const diffArgs = ["--no-color", "--format=", "--no-renames", "--diff-merges=first-parent", full, "--", root];
  const [meta, changed, patch, shared] = await Promise.all([
    runGit(repo, { args: ["show", "-s", "--no-color", "--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%ct%x00%B", full], maxBytes: MAX_MESSAGE_BYTES + 1024 }),
    runGit(repo, { args: ["--literal-pathspecs", "show", "--raw", "--numstat", "-z", ...diffArgs], maxBytes: MAX_COMMIT_FILES * 1024 }),
    runGit(repo, { args: ["--literal-pathspecs", "show", "--patch", "--no-ext-diff", "--no-textconv", ...diffArgs], maxBytes: MAX_DIFF_BYTES }),
    sharedCommits(repo, slug, [full]),
  ]);
  const { files, truncated: filesTruncated } = parseRawAndNumstat(ensureOk(changed, "show (files)"), changed.truncated);
  if (files.length === 0) return null;
  const [, parents = "", author = "", email = "", at = "0", committed = "0", ...message] = textOf(ensureOk(meta, "show"), false).split("\0");
  const isShared = shared.has(full);
  const fullMessage = message.join("\0").trim();
  return {
    sha: full,
    parents: parents.split(" ").filter(Boolean),
    author_name: author,
    author_email: email,
    authored_ts: isoTs(new Date(Number(at) * 1000)),
    committed_ts: isoTs(new Date(Number(committed) * 1000)),
    summary: summaryOf(fullMessage),
    message: isShared ? `${fullMessage.split(/\n\s*\n/)[0]}\n\n${WITHHELD_BODY}` : fullMessage,
    shared: isShared,
    files,
    files_truncated: filesTruncated,
    diff: textOf(ensureOk(patch, "show (patch)"), patch.truncated),
    truncated: patch.truncated,
  };
}

/** Longest prefix of `bytes` that is valid UTF-8 when `cut` may have split the last character, or null. */
function utf8Text(bytes: Buffer, cut: boolean): string | null {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let drop = 0; drop <= (cut ? 3 : 0); drop += 1) {
    try {
      return decoder.decode(bytes.subarray(0, bytes.length - drop));
    } catch {
      // Try again without one more trailing byte.
    }
  }
  return null;
}

/**
 * The file at `filePath` (checked by projectPath) in commit `sha` (default: the branch's newest),
 * cut at MAX_FILE_BYTES; null when the commit or the file does not exist. Text comes as UTF-8,
 * anything else as base64. A directory is INVALID_ARGUMENT.
 */
export async function readFileAt(repo: ReadableArchive, filePath: string, sha?: string): Promise<FileAtCommit | null> {
  const commit = await resolveCommit(repo, sha === undefined ? ARCHIVE_BRANCH : checkSha(sha));
  if (!commit) return null;
  const result = await runGit(repo, { args: ["cat-file", "--batch"], input: `${commit}:${filePath}\n`, maxBytes: MAX_FILE_BYTES + 256 });
  const out = ensureOk(result, "cat-file");
  const headerEnd = out.indexOf(0x0a);
  const header = out.subarray(0, headerEnd < 0 ? out.length : headerEnd).toString("utf8").split(" ");
  if (header.length !== 3 || header[2] === "missing") return null;
  const [, type, sizeText] = header;
  if (type === "tree") throw invalid("path", `'${quote(filePath)}' is a directory, not a file`);
  if (type !== "blob") return null;
  const size = Number(sizeText);
  const bytes = out.subarray(headerEnd + 1, headerEnd + 1 + Math.min(size, MAX_FILE_BYTES));
  const truncated = size > bytes.length;
  const binary = bytes.subarray(0, BINARY_PROBE_BYTES).includes(0);
  const text = binary ? null : utf8Text(bytes, truncated);
  return {
    commit,
    path: filePath,
    size,
    binary: text === null,
    encoding: text === null ? "base64" : "utf-8",
    content: text ?? bytes.toString("base64"),
    truncated,
  };
}

// ----- the commit of each message -----

interface FileDiff {
  hunks: number;
  excerpt: string[];
  inHunk: boolean;
  /** A leading front-matter block (`---json` … `---`) is skipped: it lists bcc recipients. */
  frontMatter: "unknown" | "inside" | "after" | "done";
}

/**
 * Commit info for messages of project `slug`, from the commit each was archived in
 * (`commits`: message id → full sha, from archive_outbox). "simple" is `{hexsha, summary}` (the
 * reference's mailbox); "full" adds authored_ts, the canonical file's insertions and deletions
 * and a diff summary (hunks, ≤ 12 changed lines of the body). Commits missing from the
 * repository are left out. At most two git processes whatever the number of messages.
 */
export async function messageCommits(
  repo: ReadableArchive,
  slug: string,
  commits: ReadonlyMap<number, string>,
  detail: "simple" | "full",
): Promise<Map<number, MessageCommit | Pick<MessageCommit, "hexsha" | "summary">>> {
  const shas = [...new Set([...commits.values()].filter((sha) => FULL_SHA.test(sha)))];
  const found = new Map<number, MessageCommit | Pick<MessageCommit, "hexsha" | "summary">>();
  if (shas.length === 0) return found;
  const ids = [...commits.keys()];
  const [metaResult, diffs] = await Promise.all([
    runGit(repo, {
      args: ["log", "--no-walk=unsorted", "--ignore-missing", "--stdin", "--no-color", LOG_FORMAT],
      input: `${shas.join("\n")}\n`,
      maxBytes: shas.length * LOG_RECORD_BYTES,
    }),
    detail === "full" ? canonicalDiffs(repo, slug, shas, ids) : Promise.resolve(new Map<string, FileDiff & { insertions: number; deletions: number }>()),
  ]);
  const meta = new Map(parseLog(metaResult).map((commit) => [commit.sha, commit]));
  for (const [id, sha] of commits) {
    const commit = meta.get(sha);
    if (!commit) continue;
    const simple = { hexsha: sha.slice(0, 12), summary: commit.summary };
    if (detail === "simple") {
      found.set(id, simple);
      continue;
    }
    const diff = diffs.get(`${sha} ${id}`);
    found.set(id, {
      ...simple,
      authored_ts: commit.authored_ts,
      insertions: diff?.insertions ?? 0,
      deletions: diff?.deletions ?? 0,
      diff_summary: { hunks: diff?.hunks ?? 0, excerpt: diff?.excerpt ?? [] },
    });
  }
  return found;
}

/**
 * Per `<sha> <message id>`: the numstat and diff summary of each message's canonical file
 * (`projects/<slug>/messages/YYYY/MM/…__<id>.md`) in the given commits, parsed as git streams it
 * so that only the counters and the excerpts are ever held.
 */
async function canonicalDiffs(repo: ReadableArchive, slug: string, shas: string[], ids: number[]) {
  const root = projectRoot(slug);
  const pathspecs = ids.map((id) => `:(glob)${root}/messages/[0-9][0-9][0-9][0-9]/[0-9][0-9]/*__${id}.md`);
  const diffs = new Map<string, FileDiff & { insertions: number; deletions: number }>();
  let sha = "";
  let current: (FileDiff & { insertions: number; deletions: number }) | undefined;
  const entry = (id: number) => {
    const key = `${sha} ${id}`;
    let value = diffs.get(key);
    if (!value) {
      value = { hunks: 0, excerpt: [], inHunk: false, frontMatter: "unknown", insertions: 0, deletions: 0 };
      diffs.set(key, value);
    }
    return value;
  };
  const onLine = (line: string) => {
    if (line.startsWith("\x1e")) {
      sha = line.slice(1, 41);
      current = undefined;
      return;
    }
    const numstat = /^(\d+)\t(\d+)\t(.*)$/.exec(line);
    if (numstat && !current) {
      const id = messageIdFromFileName(numstat[3]!);
      if (id) Object.assign(entry(id), { insertions: Number(numstat[1]), deletions: Number(numstat[2]) });
      return;
    }
    if (line.startsWith("diff --git ")) {
      const id = messageIdFromFileName(line);
      current = id ? entry(id) : undefined;
      if (current) current.inHunk = false;
      return;
    }
    if (!current) return;
    if (line.startsWith("@@")) {
      current.hunks += 1;
      current.inHunk = true;
      return;
    }
    if (!current.inHunk || !(line.startsWith("+") || line.startsWith("-"))) return;
    const body = line.slice(1);
    if (current.frontMatter === "unknown") {
      current.frontMatter = body.startsWith("---") ? "inside" : "done";
      if (current.frontMatter === "inside") return;
    } else if (current.frontMatter === "inside") {
      if (body === "---") current.frontMatter = "after";
      return;
    } else if (current.frontMatter === "after") {
      current.frontMatter = "done";
      if (body === "") return;
    }
    if (current.excerpt.length < EXCERPT_LINES) current.excerpt.push(line.slice(0, EXCERPT_LINE_CHARS));
  };
  const result = await runGit(repo, {
    args: [
      "log",
      "--no-walk=unsorted",
      "--ignore-missing",
      "--stdin",
      "--no-color",
      "--format=%x1e%H",
      "--numstat",
      "--patch",
      "--no-renames",
      "--no-ext-diff",
      "--no-textconv",
      "--diff-merges=first-parent",
    ],
    input: `${shas.join("\n")}\n--\n${pathspecs.join("\n")}\n`,
    maxBytes: 0,
    onLine,
  });
  ensureOk(result, "log (message diffs)");
  return diffs;
}
