import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentDir, attachmentPath, mailboxPath, messagePath, profilePath, threadPath } from "@/server/archive/layout";
import { MAX_DIFF_BYTES, MAX_FILE_BYTES, openArchive, projectPath, readFileAt, resolveCommit } from "@/server/archive/read";
import { batchCommitMessage, mailCommitPart, profileCommitPart } from "@/server/archive/render";
import type { AnyOperation } from "@/server/operations/define";
import { invoke } from "@/server/operations/invoke";
import { whois } from "@/server/services/agents/queries";
import { archiveCommit, archiveCommits, archiveFile } from "@/server/services/archive/operations";
import { sendMessage } from "@/server/services/messages/send";
import type { ServiceContext } from "@/server/services/context";
import { testConfig } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { readAgentResource, readUri } from "../helpers/resources";

// Reading the Git archive back, over a real repository built here with simple-git the way the
// layout contract places files (src/server/archive/layout.ts) and the writer words commits
// (render.ts), with archive_outbox.commit_sha set as the writer sets it: whois.recent_commits,
// the commit on mailbox resources, archive_commits/archive_commit/archive_file, what one project
// may see of another, hostile input, and a disabled or missing archive.

const ALPHA = "/archive-read/alpha";
const BETA = "/archive-read/beta";

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let dir: string;
let git: SimpleGit;
let alpha: { ctx: ServiceContext; slug: string; agents: Record<string, TestAgent> };
let beta: { ctx: ServiceContext; slug: string; agents: Record<string, TestAgent> };
const commits: Record<string, string> = {};
let m1: { id: number; canonical: string; content: string; file: { id: number; subject: string; createdTs: Date } };
let m2: { id: number };
let bigFile: string;
let attachment: { path: string; bytes: Buffer };

async function commit(files: Record<string, string | Buffer>, message: string): Promise<string> {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  await git.add(Object.keys(files));
  await git.commit(message);
  return (await git.revparse(["HEAD"])).trim();
}

/** The reference's message file: `---json` front matter (bcc included, as in every copy) and the body. */
function messageFile(document: Record<string, unknown>, body: string): string {
  return `---json\n${JSON.stringify(document, Object.keys(document).sort(), 2)}\n---\n\n${body}\n`;
}

async function sent(ctx: ServiceContext, input: Record<string, unknown>) {
  const result = await invoke(sendMessage, ctx, input as never);
  const id = result.deliveries[0]!.payload.id;
  const row = await db.prisma.message.findUniqueOrThrow({ where: { id } });
  return { id, subject: row.subject, createdTs: row.createdTs };
}

async function markCommitted(messageId: number, sha: string) {
  await db.prisma.archiveOutbox.updateMany({ where: { messageId }, data: { commitSha: sha, processedTs: new Date() } });
}

const tools = { archiveCommits, archiveCommit, archiveFile };
type Tool = keyof typeof tools;
type Result<T extends Tool> = Awaited<ReturnType<(typeof tools)[T]["handler"]>>;
/** The tool as a caller would call it: the input is raw, so hostile values reach the checks. */
const call = <T extends Tool>(ctx: ServiceContext, tool: T, input: Record<string, unknown>): Promise<Result<T>> =>
  invoke(tools[tool] as AnyOperation, ctx, input) as Promise<Result<T>>;

beforeAll(async () => {
  db = await openTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), "mailroom-archive-read-"));
  git = simpleGit(dir);
  await git.init(["--initial-branch=main"]);
  await git.addConfig("user.name", "Mailroom Test").addConfig("user.email", "test@localhost").addConfig("commit.gpgsign", "false");
  const config = { archive: { ...testConfig.archive, enabled: true, dir } };
  const a = await projectWithAgents(db, ALPHA, ["GreenLake", "BlueDog", "RedCat"], config);
  const b = await projectWithAgents(db, BETA, ["PinkFox"], config);
  alpha = { ctx: a.ctx, slug: a.project.slug, agents: a.agents };
  beta = { ctx: b.ctx, slug: b.project.slug, agents: b.agents };

  commits.init = await commit({ ".gitattributes": "*.json text\n*.md text\n" }, "chore: initialize archive");
  commits.greenProfile = await commit({ [profilePath(alpha.slug, "GreenLake")]: '{"name": "GreenLake"}\n' }, batchCommitMessage([profileCommitPart({ outboxId: 1n, agent: "GreenLake" })]));
  commits.blueProfile = await commit({ [profilePath(alpha.slug, "BlueDog")]: '{"name": "BlueDog"}\n' }, batchCommitMessage([profileCommitPart({ outboxId: 2n, agent: "BlueDog" })]));

  // m1: GreenLake → BlueDog, RedCat blind-copied. One event, one commit.
  const first = await sent(alpha.ctx, {
    project_key: ALPHA,
    sender_name: "GreenLake",
    sender_token: alpha.agents.GreenLake!.token,
    to: ["BlueDog"],
    bcc: ["RedCat"],
    subject: "Plan review",
    body_md: "Line one of the plan.\nLine two of the plan.",
    thread_id: "PLAN-1",
  });
  const content = messageFile({ id: first.id, from: "GreenLake", to: ["BlueDog"], cc: [], bcc: ["RedCat"], subject: "Plan review", project_slug: alpha.slug }, "Line one of the plan.\nLine two of the plan.");
  const canonical = messagePath(alpha.slug, first);
  commits.m1 = await commit(
    {
      [canonical]: content,
      [mailboxPath(alpha.slug, "GreenLake", "outbox", first)]: content,
      [mailboxPath(alpha.slug, "BlueDog", "inbox", first)]: content,
      [mailboxPath(alpha.slug, "RedCat", "inbox", first)]: content,
      [threadPath(alpha.slug, "PLAN-1")]: "# Thread PLAN-1\n\n### Plan review\n",
    },
    batchCommitMessage([
      mailCommitPart({ outboxId: 3n, sender: "GreenLake", recipients: ["BlueDog", "RedCat"], subject: "Plan review", projectKey: ALPHA, created: "", threadId: "PLAN-1", messageId: first.id }),
    ]),
  );
  await markCommitted(first.id, commits.m1);
  m1 = { id: first.id, canonical, content, file: first };

  // m2 (alpha) and m3 (beta) in one batch commit, as the writer batches events of several projects.
  const second = await sent(alpha.ctx, { project_key: ALPHA, sender_name: "BlueDog", sender_token: alpha.agents.BlueDog!.token, to: ["GreenLake"], subject: "Re: plan", body_md: "Agreed." });
  const third = await sent(beta.ctx, { project_key: BETA, sender_name: "PinkFox", sender_token: beta.agents.PinkFox!.token, to: ["PinkFox"], subject: "beta secret", body_md: "Beta's own business." });
  const secondFile = messageFile({ id: second.id, from: "BlueDog", to: ["GreenLake"], subject: "Re: plan" }, "Agreed.");
  const thirdFile = messageFile({ id: third.id, from: "PinkFox", to: ["PinkFox"], subject: "beta secret" }, "Beta's own business.");
  commits.batch = await commit(
    {
      [messagePath(alpha.slug, second)]: secondFile,
      [mailboxPath(alpha.slug, "BlueDog", "outbox", second)]: secondFile,
      [mailboxPath(alpha.slug, "GreenLake", "inbox", second)]: secondFile,
      [messagePath(beta.slug, third)]: thirdFile,
      [mailboxPath(beta.slug, "PinkFox", "inbox", third)]: thirdFile,
    },
    batchCommitMessage([
      mailCommitPart({ outboxId: 4n, sender: "BlueDog", recipients: ["GreenLake"], subject: "Re: plan", projectKey: ALPHA, created: "", threadId: null, messageId: second.id }),
      mailCommitPart({ outboxId: 5n, sender: "PinkFox", recipients: ["PinkFox"], subject: "beta secret", projectKey: BETA, created: "", threadId: null, messageId: third.id }),
    ]),
  );
  await markCommitted(second.id, commits.batch);
  await markCommitted(third.id, commits.batch);
  m2 = { id: second.id };

  commits.betaProfile = await commit({ [profilePath(beta.slug, "PinkFox")]: '{"name": "PinkFox"}\n' }, batchCommitMessage([profileCommitPart({ outboxId: 6n, agent: "PinkFox" })]));

  // A large text file (over both the diff and the file caps) and a binary attachment.
  bigFile = `${agentDir(alpha.slug, "GreenLake")}/notes.md`;
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02, 0xff]);
  attachment = { path: attachmentPath(alpha.slug, "a".repeat(64), "image/png"), bytes };
  commits.image = await commit({ [attachment.path]: bytes }, "attachments: an image");
  commits.big = await commit({ [bigFile]: `${"x".repeat(99)}\n`.repeat(12_000) }, "notes: a large file");
});

afterAll(async () => {
  await db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("whois recent_commits", () => {
  it("lists the newest commits touching the agent's folder in the reference's shape", async () => {
    const result = await invoke(whois, alpha.ctx, { project_key: ALPHA, agent_name: "GreenLake", registration_token: alpha.agents.GreenLake!.token });
    expect(result.recent_commits).toEqual([
      { hexsha: commits.big!.slice(0, 12), summary: "notes: a large file", authored_ts: expect.stringMatching(/\+00:00$/) },
      { hexsha: commits.batch!.slice(0, 12), summary: "batch: 2 commits", authored_ts: expect.any(String) },
      { hexsha: commits.m1!.slice(0, 12), summary: "mail: GreenLake -> BlueDog, RedCat | Plan review", authored_ts: expect.any(String) },
      { hexsha: commits.greenProfile!.slice(0, 12), summary: "agent: profile GreenLake", authored_ts: expect.any(String) },
    ]);
  });

  it("clamps commit_limit to 1..50 and leaves recent_commits out when not asked", async () => {
    const base = { project_key: ALPHA, agent_name: "GreenLake", registration_token: alpha.agents.GreenLake!.token };
    expect((await invoke(whois, alpha.ctx, { ...base, commit_limit: 2 })).recent_commits).toHaveLength(2);
    expect((await invoke(whois, alpha.ctx, { ...base, commit_limit: 0 })).recent_commits).toHaveLength(1);
    expect((await invoke(whois, alpha.ctx, { ...base, commit_limit: 1000 })).recent_commits).toHaveLength(4);
    expect(await invoke(whois, alpha.ctx, { ...base, include_recent_commits: false })).not.toHaveProperty("recent_commits");
  });

  it("shows a recipient who sent a mail commit but not to whom: the list names bcc recipients", async () => {
    const result = await invoke(whois, alpha.ctx, { project_key: ALPHA, agent_name: "BlueDog", registration_token: alpha.agents.BlueDog!.token });
    expect(result.recent_commits!.map((c) => c.summary)).toEqual(["batch: 2 commits", "mail: GreenLake | Plan review", "agent: profile BlueDog"]);
    expect(JSON.stringify(result)).not.toContain("RedCat");
  });
});

describe("commit info on mailbox resources", () => {
  const query = (agent: string, token: string) => new URLSearchParams({ project: ALPHA, agent_token: token, limit: "10" });

  it("inbox: each committed message carries its commit with the canonical file's diff summary, front matter left out", async () => {
    const inbox = await readAgentResource(alpha.ctx, "inbox", "BlueDog", query("BlueDog", alpha.agents.BlueDog!.token));
    const item = inbox.messages.find((message) => message.id === m1.id);
    expect(item.commit).toEqual({
      hexsha: commits.m1!.slice(0, 12),
      summary: "mail: GreenLake | Plan review",
      authored_ts: expect.stringMatching(/\+00:00$/),
      insertions: m1.content.split("\n").length - 1,
      deletions: 0,
      diff_summary: { hunks: 1, excerpt: ["+Line one of the plan.", "+Line two of the plan."] },
    });
    // Neither the commit subject nor the front matter may show BlueDog who was blind-copied.
    expect(JSON.stringify(inbox)).not.toContain("RedCat");
  });

  it("outbox: the sender sees the whole commit subject", async () => {
    const outbox = await readAgentResource(alpha.ctx, "outbox", "GreenLake", query("GreenLake", alpha.agents.GreenLake!.token));
    expect(outbox.messages.find((message) => message.id === m1.id).commit).toMatchObject({ summary: "mail: GreenLake -> BlueDog, RedCat | Plan review", insertions: expect.any(Number) });
  });

  it("mailbox carries {hexsha, summary}; mailbox-with-commits the full commit; batch commits keep their subject", async () => {
    const token = alpha.agents.GreenLake!.token;
    const mailbox = await readAgentResource(alpha.ctx, "mailbox", "GreenLake", query("GreenLake", token));
    expect(mailbox.messages.map((message) => [message.id, message.commit])).toEqual([[m2.id, { hexsha: commits.batch!.slice(0, 12), summary: "batch: 2 commits" }]]);
    const full = await readUri(alpha.ctx, `resource://mailbox-with-commits/GreenLake?${query("GreenLake", token)}`);
    expect(full).toMatchObject({ project: ALPHA, agent: "GreenLake", count: 1 });
    expect(full.messages[0]).toMatchObject({ id: m2.id, read_at: null, commit: { hexsha: commits.batch!.slice(0, 12), summary: "batch: 2 commits", diff_summary: { hunks: 1, excerpt: ["+Agreed."] } } });
  });

  it("a message not committed yet has no commit", async () => {
    const later = await sent(alpha.ctx, { project_key: ALPHA, sender_name: "GreenLake", sender_token: alpha.agents.GreenLake!.token, to: ["BlueDog"], subject: "not yet", body_md: "pending" });
    const inbox = await readAgentResource(alpha.ctx, "inbox", "BlueDog", query("BlueDog", alpha.agents.BlueDog!.token));
    expect(inbox.messages.find((message) => message.id === later.id)).not.toHaveProperty("commit");
    expect(inbox.messages.find((message) => message.id === m1.id)).toHaveProperty("commit");
  });
});

describe("archive_commits", () => {
  it("lists the project's commits newest first, with shared commits marked", async () => {
    const page = await call(alpha.ctx, "archiveCommits", { project_key: ALPHA });
    expect(page).toMatchObject({ available: true, next_cursor: null });
    expect(page.commits.map((c) => [c.sha, c.shared])).toEqual([
      [commits.big, false],
      [commits.image, false],
      [commits.batch, true],
      [commits.m1, false],
      [commits.blueProfile, false],
      [commits.greenProfile, false],
    ]);
    expect(page.commits[3]).toEqual({ sha: commits.m1, summary: "mail: GreenLake -> BlueDog, RedCat | Plan review", author_name: "Mailroom Test", authored_ts: expect.stringMatching(/\+00:00$/), shared: false });
  });

  it("pages with next_cursor until the oldest", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages += 1) {
      const page = await call(alpha.ctx, "archiveCommits", { project_key: ALPHA, limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.commits.map((c) => c.sha));
      if (!page.next_cursor) break;
      expect(page.commits).toHaveLength(2);
      cursor = page.next_cursor;
    }
    expect(seen).toEqual([commits.big, commits.image, commits.batch, commits.m1, commits.blueProfile, commits.greenProfile]);
  });

  it("narrows to a path inside the project", async () => {
    const page = await call(alpha.ctx, "archiveCommits", { project_key: ALPHA, path: `${agentDir(alpha.slug, "BlueDog")}/` });
    expect(page.commits.map((c) => c.sha)).toEqual([commits.batch, commits.m1, commits.blueProfile]);
    const thread = await call(alpha.ctx, "archiveCommits", { project_key: ALPHA, path: threadPath(alpha.slug, "PLAN-1") });
    expect(thread.commits.map((c) => c.sha)).toEqual([commits.m1]);
  });

  it("shows another project only its own commits", async () => {
    const page = await call(beta.ctx, "archiveCommits", { project_key: BETA });
    expect(page.commits.map((c) => c.sha)).toEqual([commits.betaProfile, commits.batch]);
  });
});

describe("archive_commit", () => {
  it("gives a commit's message, the project's changed files and their diff", async () => {
    const detail = await call(alpha.ctx, "archiveCommit", { project_key: ALPHA, sha: commits.m1!.slice(0, 8) });
    expect(detail).toMatchObject({
      sha: commits.m1,
      parents: [commits.blueProfile],
      summary: "mail: GreenLake -> BlueDog, RedCat | Plan review",
      message: expect.stringContaining("TOOL: send_message"),
      author_email: "test@localhost",
      shared: false,
      truncated: false,
      files_truncated: false,
    });
    expect(detail.files.map((file) => file.path).sort()).toEqual(
      [
        m1.canonical,
        mailboxPath(alpha.slug, "GreenLake", "outbox", m1.file),
        mailboxPath(alpha.slug, "BlueDog", "inbox", m1.file),
        mailboxPath(alpha.slug, "RedCat", "inbox", m1.file),
        threadPath(alpha.slug, "PLAN-1"),
      ].sort(),
    );
    expect(detail.files.every((file) => file.status === "A" && !file.binary)).toBe(true);
    expect(detail.diff).toContain("+Line one of the plan.");
  });

  it("shows a commit shared with another project only as far as this project's files, its body withheld", async () => {
    const detail = await call(alpha.ctx, "archiveCommit", { project_key: ALPHA, sha: commits.batch! });
    expect(detail.shared).toBe(true);
    expect(detail.summary).toBe("batch: 2 commits");
    expect(detail.files.every((file) => file.path.startsWith(`projects/${alpha.slug}/`))).toBe(true);
    expect(detail.files).toHaveLength(3);
    expect(JSON.stringify(detail)).not.toContain("beta");
    expect(detail.message).toContain("withheld");
    const fromBeta = await call(beta.ctx, "archiveCommit", { project_key: BETA, sha: commits.batch! });
    expect(fromBeta.files.map((file) => file.path).every((file) => file.startsWith(`projects/${beta.slug}/`))).toBe(true);
    expect(JSON.stringify(fromBeta)).not.toContain("Re: plan");
  });

  it("is NOT_FOUND for another project's commit and for one that does not exist", async () => {
    await expect(call(alpha.ctx, "archiveCommit", { project_key: ALPHA, sha: commits.betaProfile! })).rejects.toMatchObject({ code: "NOT_FOUND", data: { field: "sha" } });
    await expect(call(alpha.ctx, "archiveCommit", { project_key: ALPHA, sha: "0123456789abcdef0123456789abcdef01234567" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("cuts a large diff at 512 KiB and notes binary files without their bytes", async () => {
    const detail = await call(alpha.ctx, "archiveCommit", { project_key: ALPHA, sha: commits.big! });
    expect(detail.truncated).toBe(true);
    expect(Buffer.byteLength(detail.diff)).toBeLessThanOrEqual(MAX_DIFF_BYTES);
    expect(Buffer.byteLength(detail.diff)).toBeGreaterThan(MAX_DIFF_BYTES - 200);
    expect(detail.diff.endsWith("\n")).toBe(true);
    expect(detail.files).toEqual([{ path: bigFile, status: "A", insertions: 12_000, deletions: 0, binary: false }]);
    const image = await call(alpha.ctx, "archiveCommit", { project_key: ALPHA, sha: commits.image! });
    expect(image.files).toEqual([{ path: attachment.path, status: "A", insertions: null, deletions: null, binary: true }]);
    expect(image.diff).toContain(`Binary files /dev/null and b/${attachment.path} differ`);
    expect(image.diff).not.toContain("PNG");
  });
});

describe("archive_file", () => {
  it("reads a file at a commit and at the newest commit", async () => {
    const at = await call(alpha.ctx, "archiveFile", { project_key: ALPHA, path: m1.canonical, sha: commits.m1! });
    expect(at).toEqual({ commit: commits.m1, path: m1.canonical, size: Buffer.byteLength(m1.content), binary: false, encoding: "utf-8", content: m1.content, truncated: false });
    expect((await call(alpha.ctx, "archiveFile", { project_key: ALPHA, path: m1.canonical })).commit).toBe(commits.big);
  });

  it("returns binary files as base64 and cuts large ones at 1 MiB", async () => {
    const image = await call(alpha.ctx, "archiveFile", { project_key: ALPHA, path: attachment.path });
    expect(image).toMatchObject({ binary: true, encoding: "base64", size: attachment.bytes.length, truncated: false });
    expect(Buffer.from(image.content, "base64")).toEqual(attachment.bytes);
    const big = await call(alpha.ctx, "archiveFile", { project_key: ALPHA, path: bigFile });
    expect(big).toMatchObject({ truncated: true, size: 1_200_000, encoding: "utf-8" });
    expect(big.content.length).toBe(MAX_FILE_BYTES);
  });

  it("is NOT_FOUND for a file missing at that commit, INVALID_ARGUMENT for a directory", async () => {
    await expect(call(alpha.ctx, "archiveFile", { project_key: ALPHA, path: m1.canonical, sha: commits.greenProfile! })).rejects.toMatchObject({ code: "NOT_FOUND", data: { field: "path" } });
    await expect(call(alpha.ctx, "archiveFile", { project_key: ALPHA, path: agentDir(alpha.slug, "BlueDog") })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", data: { field: "path" } });
  });

  it("never reads another project's files", async () => {
    const betaFile = profilePath(beta.slug, "PinkFox");
    expect((await call(beta.ctx, "archiveFile", { project_key: BETA, path: betaFile })).content).toContain("PinkFox");
    for (const attempt of [betaFile, `projects/${alpha.slug}/../${beta.slug}/agents/PinkFox/profile.json`, `projects/${alpha.slug}-x/a.md`]) {
      const error = await call(alpha.ctx, "archiveFile", { project_key: ALPHA, path: attempt }).catch((e: unknown) => e);
      expect(error, attempt).toMatchObject({ code: "INVALID_ARGUMENT", data: { field: "path" } });
    }
  });
});

describe("hostile input", () => {
  it("refuses a sha that is not hex, before git sees it", async () => {
    const target = path.join(dir, "..", `mailroom-hostile-${process.pid}`);
    for (const sha of [`--output=${target}`, "-n1", "HEAD", "main~1", "abc", "a".repeat(41)]) {
      const error = await call(alpha.ctx, "archiveCommit", { project_key: ALPHA, sha }).catch((e: unknown) => e);
      expect(error, sha).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("Invalid arguments for archive_commit: sha: ") });
      const asCursor = await call(alpha.ctx, "archiveCommits", { project_key: ALPHA, cursor: sha }).catch((e: unknown) => e);
      expect(asCursor, sha).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("Invalid arguments for archive_commits: cursor: ") });
    }
    expect(existsSync(target)).toBe(false);
  });

  it("refuses the same in the read functions themselves", async () => {
    const repo = (await openArchive(alpha.ctx.config.archive))!;
    await expect(resolveCommit(repo, "--output=/tmp/x")).rejects.toMatchObject({ code: "INVALID_ARGUMENT", data: { field: "sha" } });
    await expect(readFileAt(repo, m1.canonical, "--all")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    for (const bad of [`projects/${alpha.slug}/../${beta.slug}/x`, `/projects/${alpha.slug}/x`, `projects/${alpha.slug}/a\nb`]) {
      expect(() => projectPath(bad, alpha.slug), bad).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT", data: { field: "path" } }));
    }
  });

  it("refuses paths that are absolute, climb out, or hold control characters, naming the field", async () => {
    for (const bad of ["/etc/passwd", "../x", `projects/${alpha.slug}/../${beta.slug}`, `projects/${alpha.slug}/./a`, `projects//${alpha.slug}`, "projects\\x", "C:/x", `projects/${alpha.slug}/a\nb`, "x".repeat(1025)]) {
      for (const tool of ["archiveFile", "archiveCommits"] as const) {
        const error = await call(alpha.ctx, tool, { project_key: ALPHA, path: bad }).catch((e: unknown) => e);
        expect(error, `${tool} ${JSON.stringify(bad)}`).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/^Invalid arguments for archive_\w+: path: /) });
      }
    }
    const nul = await call(alpha.ctx, "archiveFile", { project_key: ALPHA, path: `${m1.canonical}\u0000` }).catch((e: unknown) => e);
    expect(nul).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("NUL") });
  });

  it("refuses a limit outside 1..200", async () => {
    for (const limit of [0, 201, 10_000_000]) {
      const error = await call(alpha.ctx, "archiveCommits", { project_key: ALPHA, limit }).catch((e: unknown) => e);
      expect(error, String(limit)).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("limit") });
    }
  });
});

describe("a disabled or missing archive", () => {
  const cases = [
    ["disabled", () => ({ ...testConfig.archive, enabled: false, dir })],
    ["not created yet", () => ({ ...testConfig.archive, enabled: true, dir: mkdtempSync(path.join(os.tmpdir(), "mailroom-archive-empty-")) })],
  ] as const;

  it.each(cases)("%s: empty lists, no commit info, NOT_FOUND for a named commit or file", async (_, archive) => {
    const ctx = { ...alpha.ctx, config: { ...alpha.ctx.config, archive: archive() } };
    expect(await call(ctx, "archiveCommits", { project_key: ALPHA })).toEqual({ available: false, commits: [], next_cursor: null });
    expect((await invoke(whois, ctx, { project_key: ALPHA, agent_name: "GreenLake", registration_token: alpha.agents.GreenLake!.token })).recent_commits).toEqual([]);
    const inbox = await readAgentResource(ctx, "inbox", "BlueDog", new URLSearchParams({ project: ALPHA, agent_token: alpha.agents.BlueDog!.token }));
    expect(inbox.messages.length).toBeGreaterThan(0);
    expect(inbox.messages.some((message) => "commit" in message)).toBe(false);
    await expect(call(ctx, "archiveCommit", { project_key: ALPHA, sha: commits.m1! })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(call(ctx, "archiveFile", { project_key: ALPHA, path: m1.canonical })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("never reads a repository that merely encloses ARCHIVE_DIR", async () => {
    const inside = path.join(dir, "projects", "nested-archive");
    mkdirSync(inside, { recursive: true });
    expect(await openArchive({ ...testConfig.archive, enabled: true, dir: inside })).toBeNull();
  });
});

describe("the writer's batch subject", () => {
  it("names no event, so a commit shared between projects can show it", () => {
    const message = batchCommitMessage([
      mailCommitPart({ outboxId: 1n, sender: "A", recipients: ["B"], subject: "alpha subject", projectKey: ALPHA, created: "", threadId: null, messageId: 1 }),
      mailCommitPart({ outboxId: 2n, sender: "C", recipients: ["D"], subject: "beta subject", projectKey: BETA, created: "", threadId: null, messageId: 2 }),
    ]);
    expect(message.split("\n")[0]).toBe("batch: 2 commits");
  });
});
