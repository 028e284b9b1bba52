import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ArchiveRepo } from "@/server/archive/git";
import { archiveConfig, commits, git, removeDir, tempDir } from "../e2e/support/archive-git";

// ArchiveRepo.commit with real git: a batch is committed by plumbing (update-index, write-tree,
// commit-tree, update-ref), so what git porcelain would have checked is checked here: only the
// batch's files change, the index and the working tree agree with the new commit, the message
// is kept byte for byte, and a HEAD that moved under the batch fails it instead of being lost.

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

async function freshRepo(): Promise<{ repo: ArchiveRepo; dir: string }> {
  const dir = path.join(tempDir("archive-git"), "repo");
  dirs.push(path.dirname(dir));
  const repo = new ArchiveRepo(archiveConfig(dir));
  await repo.ensure();
  await repo.initialCommit();
  return { repo, dir };
}

/** git's answer without its final newline. */
function sh(dir: string, ...args: string[]): string {
  return git(dir, ...args).trimEnd();
}

function put(dir: string, relative: string, content: string): string {
  mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
  writeFileSync(path.join(dir, relative), content);
  return relative;
}

describe("ArchiveRepo.commit", () => {
  it("commits exactly the given files on top of HEAD, leaves a clean tree and keeps the message", async () => {
    const { repo, dir } = await freshRepo();
    const parent = sh(dir, "rev-parse", "HEAD");
    const files = [put(dir, "projects/p/messages/2026/12/a.md", "A\n"), put(dir, "projects/p/agents/X/inbox/2026/12/a.md", "A\n")];
    // A file the batch did not name stays out of the commit.
    put(dir, "stray.txt", "not mine\n");
    const message = "batch: 2 commits\n\n- mail: X -> Y | Hi\n- mail: Y -> X | Re: Hi\n\nAgent: X\nMailroom-Outbox: 1-2\n";
    const sha = await repo.commit([...files, files[0]!], message);

    expect(sh(dir, "rev-parse", "HEAD")).toBe(sha);
    expect(sh(dir, "rev-parse", `${sha}^`)).toBe(parent);
    expect(sh(dir, "show", "-s", "--format=%B", sha)).toBe(message.trimEnd());
    expect(sh(dir, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).split("\n").sort()).toEqual([...files].sort());
    expect(sh(dir, "status", "--porcelain")).toBe("?? stray.txt");
    expect(commits(dir).at(-1)).toMatchObject({ sha, subject: "batch: 2 commits" });
  });

  it("still commits when nothing changed, so the trailer records the events", async () => {
    const { repo, dir } = await freshRepo();
    const file = put(dir, "projects/p/agents/X/profile.json", "{}\n");
    const first = await repo.commit([file], "agent: profile X\n");
    const second = await repo.commit([file], "agent: profile X\n\nMailroom-Outbox: 7\n");
    expect(sh(dir, "rev-parse", `${second}^`)).toBe(first);
    expect(sh(dir, "rev-parse", `${second}^{tree}`)).toBe(sh(dir, "rev-parse", `${first}^{tree}`));
  });

  it("maintain() packs the loose objects the commits leave once git finds them many", async () => {
    const { repo, dir } = await freshRepo();
    // gc --auto estimates the loose objects from one fan-out folder (objects/17): with gc.auto=1
    // two objects there are "many". Commit until there are.
    sh(dir, "config", "gc.auto", "1");
    const sample = path.join(dir, ".git", "objects", "17");
    let index = 0;
    while ((existsSync(sample) ? readdirSync(sample).length : 0) < 2) {
      await repo.commit([put(dir, `projects/p/messages/m${index}.md`, `message ${index}\n`)], `mail ${index}\n`);
      index += 1;
    }
    const loose = () => Number(/^count: (\d+)$/m.exec(sh(dir, "count-objects", "-v"))![1]);
    expect(loose()).toBeGreaterThan(2);
    await repo.maintain();
    expect(loose()).toBe(0);
    expect(sh(dir, "rev-list", "--count", "HEAD")).toBe(String(index + 1));
    expect(sh(dir, "status", "--porcelain")).toBe("");
  });

  it("fails the batch when HEAD moved after it read it, and leaves the other commit in place", async () => {
    const { repo, dir } = await freshRepo();
    const stale = sh(dir, "rev-parse", "HEAD");
    put(dir, "other.md", "x\n");
    sh(dir, "add", "other.md");
    sh(dir, "commit", "-q", "-m", "someone else");
    const moved = sh(dir, "rev-parse", "HEAD");
    vi.spyOn(repo, "revision").mockResolvedValueOnce(stale);
    await expect(repo.commit([put(dir, "mine.md", "y\n")], "mine\n")).rejects.toThrow();
    expect(sh(dir, "rev-parse", "HEAD")).toBe(moved);
  });
});
