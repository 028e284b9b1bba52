import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import type { ArchiveConfig } from "@/server/services/context";
import { outboxIdsOfMessage } from "./render";

// The archive repository as the writer uses it (simple-git): create it, repair what a crash left,
// share it through ARCHIVE_REMOTE, commit a batch. Only the holder of the writer lock calls any of
// this, so whatever lock file or uncommitted change it finds was left by a writer that died.

const BRANCH = "main";
const REMOTE = "origin";
const REMOTE_REF = `refs/remotes/${REMOTE}/${BRANCH}`;
/** A git process silent for this long is killed (a push waiting for credentials, a hung network). */
const GIT_SILENCE_MS = 120_000;
/** Lock files a git process killed mid-way leaves behind; any of them would stop every later commit. */
const STALE_LOCKS = ["index.lock", "HEAD.lock", `refs/heads/${BRANCH}.lock`, "packed-refs.lock", "config.lock", "shallow.lock", `refs/remotes/${REMOTE}/${BRANCH}.lock`];
// simple-git waits an extra 50 ms after a git process that wrote nothing at all, so the commands
// of every batch are run in their talkative forms (`update-index --verbose`, `update-ref` as a
// transaction that answers "commit: ok"). It also takes a non-zero exit without any output on
// stderr for success: commands whose answer is only their exit code are not used.
/**
 * Git runs under `nice` (+10 on the priority of the thread that starts it: 10 in the serving
 * thread, 19 in the writer's own thread), so on a busy machine the archive waits for the CPU that
 * serves mail and catches up once the load drops. `nice` must be on the PATH (coreutils), except
 * on Windows, which has none.
 */
const GIT_BINARY: string | [string, string] = process.platform === "win32" ? "git" : ["nice", "git"];
/** How far back the trailers of earlier commits are read when repairing. */
const REPAIR_COMMITS = 200;

/** Repository settings, written on every start so a changed author or an old repository is brought in line. */
function repoSettings(config: ArchiveConfig): [string, string][] {
  return [
    ["user.name", config.authorName],
    ["user.email", config.authorEmail],
    ["commit.gpgsign", "false"],
    ["core.autocrlf", "false"],
    // The writer's `gc --auto` (maintain) runs to its end instead of in the background, where its
    // lock files would meet the next batch's commit.
    ["gc.autoDetach", "false"],
    // A smaller index to rewrite on every commit of a large archive.
    ["index.version", "4"],
  ];
}

export interface SyncResult {
  /** What happened to the local branch: nothing, brought up to the remote's, or pushed to it. */
  action: "none" | "fast-forward" | "pushed" | "reset" | "initialised";
  /** Local commits that the remote did not have and that were dropped because the remote moved on. */
  discarded: number;
}

export class ArchiveRepo {
  readonly dir: string;
  private gitClient: SimpleGit | undefined;
  /** What the next git process with these exact arguments reads on its standard input. */
  private readonly stdin = new Map<string, string>();

  constructor(private readonly config: ArchiveConfig) {
    this.dir = path.resolve(config.dir);
  }

  private git(): SimpleGit {
    this.gitClient ??= simpleGit({
      baseDir: this.dir,
      binary: GIT_BINARY,
      maxConcurrentProcesses: 1,
      timeout: { block: GIT_SILENCE_MS },
      allowConfig: repoSettings(this.config).map(([key]) => key),
      input: (commands) => this.inputFor(commands),
    });
    return this.gitClient;
  }

  private async raw(args: string[]): Promise<string> {
    return this.git().raw(args);
  }

  /** The input of a command given to rawWithInput: what follows the binary (and its prefix, `nice git`) is its key. */
  private inputFor(commands: readonly string[]): string | undefined {
    for (let start = 0; start < commands.length; start += 1) {
      const input = this.stdin.get(commands.slice(start).join("\0"));
      if (input !== undefined) return input;
    }
    return undefined;
  }

  private async rawWithInput(args: string[], input: string): Promise<string> {
    // simple-git leaves standard input open when given nothing: git would wait for it until killed.
    if (input === "") throw new Error(`git ${args[0]} needs input`);
    const key = args.join("\0");
    this.stdin.set(key, input);
    try {
      return await this.raw(args);
    } finally {
      this.stdin.delete(key);
    }
  }

  /** The sha of a revision, or undefined when it does not exist (an unborn branch, no remote branch). */
  async revision(rev: string): Promise<string | undefined> {
    try {
      const sha = (await this.raw(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`])).trim();
      return sha || undefined;
    } catch {
      return undefined;
    }
  }

  async head(): Promise<{ sha: string; ts: Date } | undefined> {
    const sha = await this.revision("HEAD");
    if (!sha) return undefined;
    const seconds = Number((await this.raw(["show", "-s", "--format=%ct", sha])).trim());
    return { sha, ts: new Date(seconds * 1000) };
  }

  /**
   * Makes the directory a repository on branch main with the writer's settings. A fresh one gets
   * the remote's history when there is a remote with some, else the first commit,
   * `chore: initialize archive` with .gitattributes.
   */
  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const isRepo = await stat(path.join(this.dir, ".git")).then(
      () => true,
      () => false,
    );
    if (!isRepo) await this.raw(["init", "--quiet", `--initial-branch=${BRANCH}`]);
    const current = new Map(
      (await this.raw(["config", "--local", "--list"]))
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
    );
    for (const [key, value] of repoSettings(this.config)) if (current.get(key) !== value) await this.raw(["config", "--local", key, value]);
    if (this.config.remote) await this.setRemote(this.config.remote);
    // A repository made by an older writer or by hand may sit on another branch: the archive is main.
    const branch = (await this.raw(["symbolic-ref", "--quiet", "--short", "HEAD"]).catch(() => "")).trim();
    if (branch !== BRANCH) await this.raw(["symbolic-ref", "HEAD", `refs/heads/${BRANCH}`]);
  }

  private async setRemote(url: string): Promise<void> {
    const current = (await this.raw(["remote"])).split("\n").map((line) => line.trim());
    if (current.includes(REMOTE)) await this.raw(["remote", "set-url", REMOTE, url]);
    else await this.raw(["remote", "add", REMOTE, url]);
  }

  /** The first commit, when the branch has none yet. */
  async initialCommit(): Promise<boolean> {
    if (await this.revision("HEAD")) return false;
    await writeFile(path.join(this.dir, ".gitattributes"), "*.json text\n*.md text\n");
    await this.raw(["add", "--", ".gitattributes"]);
    await this.raw(["commit", "--quiet", "--no-verify", "--no-gpg-sign", "--allow-empty", "-m", "chore: initialize archive"]);
    return true;
  }

  /**
   * Puts the working tree back to the last commit: stale lock files go, uncommitted changes are
   * reset and untracked files removed (a batch that died between writing and committing).
   */
  async repair(): Promise<void> {
    const gitDir = path.join(this.dir, ".git");
    for (const lock of STALE_LOCKS) await rm(path.join(gitDir, lock), { force: true });
    if (await this.revision("HEAD")) await this.raw(["reset", "--hard", "--quiet", "HEAD"]);
    else await this.raw(["rm", "-r", "--cached", "--quiet", "--ignore-unmatch", "."]);
    await this.raw(["clean", "-f", "-d", "-x", "--quiet"]);
  }

  /**
   * With a remote: fetches it and makes the local branch agree. Behind → fast-forward; ahead →
   * push (commits a previous life of this writer made but could not push); diverged → the remote
   * wins (another writer took over meanwhile), and the local-only commits are dropped: their
   * events were never marked done (marking follows the push), so they are written again.
   */
  async sync(): Promise<SyncResult> {
    if (!this.config.remote) return { action: "none", discarded: 0 };
    await this.raw(["fetch", "--quiet", "--no-tags", REMOTE, `+refs/heads/${BRANCH}:${REMOTE_REF}`]).catch(async (error: unknown) => {
      // An empty remote has no main to fetch yet; anything else is a real failure.
      const heads = await this.raw(["ls-remote", "--heads", REMOTE]);
      if (heads.trim()) throw error;
    });
    const remote = await this.revision(REMOTE_REF);
    const local = await this.revision("HEAD");
    if (!remote) {
      if (!local) return { action: "none", discarded: 0 };
      await this.push();
      return { action: "pushed", discarded: 0 };
    }
    if (!local) {
      await this.raw(["reset", "--hard", "--quiet", REMOTE_REF]);
      return { action: "initialised", discarded: 0 };
    }
    if (local === remote) return { action: "none", discarded: 0 };
    if (await this.isAncestor(local, remote)) {
      await this.raw(["reset", "--hard", "--quiet", REMOTE_REF]);
      return { action: "fast-forward", discarded: 0 };
    }
    if (await this.isAncestor(remote, local)) {
      await this.push();
      return { action: "pushed", discarded: 0 };
    }
    const discarded = Number((await this.raw(["rev-list", "--count", `${REMOTE_REF}..HEAD`])).trim()) || 0;
    await this.raw(["reset", "--hard", "--quiet", REMOTE_REF]);
    return { action: "reset", discarded };
  }

  // Not `merge-base --is-ancestor`: its "no" is exit code 1 with no output, which simple-git
  // reports as success.
  private async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return (await this.raw(["merge-base", ancestor, descendant])).trim() === ancestor;
  }

  async push(): Promise<void> {
    if (!this.config.remote) return;
    await this.raw(["push", "--quiet", "--porcelain", REMOTE, `HEAD:refs/heads/${BRANCH}`]);
  }

  /**
   * Commits the given repository-relative paths on top of HEAD; returns the new commit's sha.
   * Plumbing, not `add` + `commit`: `commit` lstat()s every tracked file and `add` rewrites the
   * index once per call, so a batch cost grew with the whole archive (1.5–3 s at 39,000 files).
   * `update-index` hashes only the batch's files, `write-tree` rewrites only the trees they
   * changed. Files are only ever written, never removed, by a batch.
   */
  async commit(paths: readonly string[], message: string): Promise<string> {
    const unique = [...new Set(paths)];
    const parent = await this.revision("HEAD");
    if (unique.length > 0) await this.rawWithInput(["update-index", "--add", "--verbose", "-z", "--stdin"], unique.map((file) => `${file}\0`).join(""));
    const tree = (await this.raw(["write-tree"])).trim();
    // A batch whose files already had this content (a profile saved unchanged) still gets its
    // commit, so its trailer proves the events were written.
    const sha = (await this.rawWithInput(["commit-tree", "--no-gpg-sign", tree, ...(parent ? ["-p", parent] : []), "-F", "-"], message)).trim();
    if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new Error("git commit-tree gave no commit");
    // Checked against the parent, so a HEAD that moved meanwhile fails the batch instead of losing a commit.
    await this.rawWithInput(["update-ref", "--stdin"], `start\nupdate refs/heads/${BRANCH} ${sha} ${parent ?? "0".repeat(sha.length)}\nprepare\ncommit\n`);
    return sha;
  }

  /**
   * Packs loose objects when there are many (`git gc --auto`): commits by plumbing never trigger
   * it the way `git commit` did, and each batch leaves a loose object per new blob and tree.
   */
  async maintain(): Promise<void> {
    await this.raw(["gc", "--auto", "--quiet"]);
  }

  /** Repository-relative paths of the files under `prefix` in the last commit (none without one). */
  async committedFiles(prefix: string): Promise<string[]> {
    if (!(await this.revision("HEAD"))) return [];
    const listing = await this.raw(["ls-tree", "-r", "-z", "--name-only", "HEAD", "--", prefix]);
    return listing.split("\0").filter(Boolean);
  }

  /** The outbox ids that the newest commits name in their Mailroom-Outbox trailers, with each commit's sha. */
  async recentOutboxCommits(limit = REPAIR_COMMITS): Promise<{ sha: string; ids: bigint[] }[]> {
    if (!(await this.revision("HEAD"))) return [];
    const log = await this.raw(["log", `-n${limit}`, "--format=%H%x1f%B%x1e", "HEAD"]);
    const commits: { sha: string; ids: bigint[] }[] = [];
    for (const record of log.split("\x1e")) {
      const [sha, message] = record.replace(/^\n/, "").split("\x1f");
      if (!sha || message === undefined) continue;
      const ids = outboxIdsOfMessage(message);
      if (ids.length) commits.push({ sha: sha.trim(), ids });
    }
    return commits;
  }
}
