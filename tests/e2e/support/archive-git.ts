import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { outboxIdsOfMessage } from "@/server/archive/render";
import type { ArchiveConfig } from "@/server/services/context";

// Looking at an archive repository from the outside, with the git command line: the archive
// tests (integration and e2e) judge the writer by what Git itself reports.

/** Runs git in `dir` and returns its standard output. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

export interface LoggedCommit {
  sha: string;
  subject: string;
  message: string;
  /** The outbox ids its Mailroom-Outbox trailer lists. */
  ids: bigint[];
}

/** Every commit of the branch, oldest first. */
export function commits(dir: string, rev = "HEAD"): LoggedCommit[] {
  const log = git(dir, "log", "--reverse", "--format=%H%x1f%B%x1e", rev);
  return log
    .split("\x1e")
    .map((record) => record.replace(/^\n/, ""))
    .filter((record) => record.includes("\x1f"))
    .map((record) => {
      const [sha, message] = record.split("\x1f") as [string, string];
      return { sha, subject: message.split("\n", 1)[0]!, message, ids: outboxIdsOfMessage(message) };
    });
}

/** How many times each outbox id appears in the trailers of the branch. */
export function trailerCounts(dir: string, rev = "HEAD"): Map<bigint, number> {
  const counts = new Map<bigint, number>();
  for (const commit of commits(dir, rev)) for (const id of commit.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `mailroom-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function archiveConfig(dir: string, extra: Partial<ArchiveConfig> = {}): ArchiveConfig {
  return { enabled: true, dir, authorName: "Archive Test", authorEmail: "archive-test@example.com", ...extra };
}

/** Resolves once `check` returns a truthy value; fails naming `what` if it never does within `limitMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, limitMs = 30_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
