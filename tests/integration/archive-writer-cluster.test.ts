import { spawn } from "node:child_process";
import { existsSync, renameSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARCHIVE_LOCK_CLASS } from "@/server/archive/lock";
import { type ArchiveWorkerOptions } from "@/server/archive/worker";
import { invoke } from "@/server/operations/invoke";
import { sendMessageInput } from "@/server/schemas/messages";
import type { ServiceContext } from "@/server/services/context";
import { sendMessage } from "@/server/services/messages/send";
import { repoRoot } from "../e2e/support/app-server";
import { archiveConfig, commits, git, trailerCounts, waitFor } from "../e2e/support/archive-git";
import { archiveWorkers } from "../helpers/archive-workers";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// Several archive writers on one database, as several instances run them: exactly one holds the
// writer lock and commits, the others stand by and take over when it stops or its connection dies;
// with ARCHIVE_REMOTE they share one history through a bare repository, and a writer whose
// commit never reached the remote gives way to the remote's history without writing anything twice.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let counter = 0;
const { start, stop, drained, scratch } = archiveWorkers(() => db);

beforeAll(async () => {
  db = await openTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

/** Outbox rows of this test (after `since`) that were written to a commit. */
async function processedIds(since: bigint): Promise<bigint[]> {
  const rows = await db.prisma.archiveOutbox.findMany({ where: { id: { gt: since }, processedTs: { not: null }, commitSha: { not: null } }, select: { id: true }, orderBy: { id: "asc" } });
  return rows.map((row) => row.id);
}

/** A fresh project with two agents; `since` is the last outbox id before it. */
async function setup() {
  counter += 1;
  const last = await db.prisma.archiveOutbox.findFirst({ orderBy: { id: "desc" }, select: { id: true } });
  const humanKey = `/archive-cluster/p${counter}`;
  const registered = await projectWithAgents(db, humanKey, ["GreenLake", "BlueDog"]);
  return { ...registered, humanKey, since: last?.id ?? 0n };
}

function send(ctx: ServiceContext, humanKey: string, from: TestAgent, to: string, subject: string) {
  return invoke(sendMessage, ctx, sendMessageInput.parse({ project_key: humanKey, sender_name: from.name, sender_token: from.token, to: [to], subject, body_md: subject }));
}

/** Counts commits in progress across workers: the writer lock must keep it at one. */
function commitWatch() {
  let active = 0;
  let most = 0;
  const byWorker = new Map<string, number>();
  const hooks = (name: string): ArchiveWorkerOptions["hooks"] => ({
    beforeCommit: async () => {
      active += 1;
      most = Math.max(most, active);
      byWorker.set(name, (byWorker.get(name) ?? 0) + 1);
      // Holding the commit open a little gives a second writer, if there were one, time to overlap.
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
    afterCommit: () => {
      active -= 1;
    },
  });
  return { hooks, most: () => most, byWorker };
}

describe("one writer among several workers", () => {
  it("only the lock holder writes; the standby takes over when it stops", async () => {
    const { ctx, humanKey, agents, since } = await setup();
    const [dirA, dirB] = [path.join(scratch("a"), "repo"), path.join(scratch("b"), "repo")];
    const watch = commitWatch();
    const a = start(archiveConfig(dirA), { hooks: watch.hooks("a") });
    await waitFor("a to write", () => a.state().role === "writer");
    const b = start(archiveConfig(dirB), { hooks: watch.hooks("b") });
    for (let index = 0; index < 20; index += 1) await send(ctx, humanKey, agents.GreenLake!, "BlueDog", `first ${index}`);
    await drained();
    expect(a.state().role).toBe("writer");
    expect(b.state().role).toBe("standby");
    expect(watch.byWorker.get("b")).toBeUndefined();
    // A standby never touches its archive folder.
    expect(existsSync(dirB)).toBe(false);

    await stop(a);
    await waitFor("b to take over", () => b.state().role === "writer");
    for (let index = 0; index < 10; index += 1) await send(ctx, humanKey, agents.GreenLake!, "BlueDog", `second ${index}`);
    await drained();
    expect(watch.byWorker.get("b")).toBeGreaterThan(0);
    expect(watch.most()).toBe(1);
    // Every event is in exactly one of the two archives, once.
    const counts = [trailerCounts(dirA), trailerCounts(dirB)];
    for (const id of await processedIds(since)) expect(counts.reduce((sum, map) => sum + (map.get(id) ?? 0), 0), `outbox id ${id}`).toBe(1);
  });

  /** The backend pid holding the archive writer lock in this test's database, if any. */
  async function lockHolder(admin: pg.Client): Promise<number | undefined> {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = 0 AND objsubid = 2 AND granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [ARCHIVE_LOCK_CLASS],
    );
    expect(rows.length).toBeLessThanOrEqual(1);
    return rows[0]?.pid;
  }

  async function adminClient(): Promise<pg.Client> {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    return admin;
  }

  it.runIf(process.env.TEST_DATABASE_URL)("when the writer's connection is cut, the lock is held again within seconds, by one writer (Postgres)", async () => {
    const { ctx, humanKey, agents, since } = await setup();
    const [dirA, dirB] = [path.join(scratch("a"), "repo"), path.join(scratch("b"), "repo")];
    const watch = commitWatch();
    const a = start(archiveConfig(dirA), { hooks: watch.hooks("a") });
    await waitFor("a to write", () => a.state().role === "writer");
    const b = start(archiveConfig(dirB), { hooks: watch.hooks("b") });
    await send(ctx, humanKey, agents.GreenLake!, "BlueDog", "before");
    await drained();

    // The lock's session ends as it does when its network goes.
    const admin = await adminClient();
    try {
      const cut = (await lockHolder(admin))!;
      await admin.query("SELECT pg_terminate_backend($1)", [cut]);
      await waitFor("the lock to be held again", async () => {
        const holder = await lockHolder(admin);
        return holder !== undefined && holder !== cut;
      }, 10_000);
    } finally {
      await admin.end();
    }
    await waitFor("one writer", () => [a.state().role, b.state().role].filter((role) => role === "writer").length === 1, 10_000);
    for (let index = 0; index < 10; index += 1) await send(ctx, humanKey, agents.GreenLake!, "BlueDog", `after ${index}`);
    await drained();
    expect(watch.most()).toBe(1);
    const counts = [trailerCounts(dirA), existsSync(dirB) ? trailerCounts(dirB) : new Map<bigint, number>()];
    for (const id of await processedIds(since)) expect(counts.reduce((sum, map) => sum + (map.get(id) ?? 0), 0), `outbox id ${id}`).toBe(1);
  });

  it.runIf(process.env.TEST_DATABASE_URL)("kill -9 of the writer's process: the standby takes over within seconds (Postgres)", async () => {
    const { ctx, humanKey, agents, since } = await setup();
    const [dirA, dirB] = [path.join(scratch("a"), "repo"), path.join(scratch("b"), "repo")];
    const admin = await adminClient();
    // The writer in a process of its own (the e2e crash tests' child), the standby here.
    const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "tests", "e2e", "support", "archive-worker-child.mts")], {
      cwd: repoRoot,
      env: { ...process.env, CHILD_DATABASE_URL: db.url!, CHILD_ARCHIVE_DIR: dirA },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      await waitFor("the child to hold the lock", async () => (await lockHolder(admin)) !== undefined, 60_000);
      const b = start(archiveConfig(dirB), { lockRetryMs: 1_000 });
      for (let index = 0; index < 10; index += 1) await send(ctx, humanKey, agents.GreenLake!, "BlueDog", `child ${index}`);
      await drained();
      expect(b.state().role).toBe("standby");
      expect(existsSync(dirB)).toBe(false);

      child.kill("SIGKILL");
      await exited;
      await waitFor("b to take over", () => b.state().role === "writer", 10_000);
      for (let index = 0; index < 10; index += 1) await send(ctx, humanKey, agents.GreenLake!, "BlueDog", `standby ${index}`);
      await drained();
      const counts = [trailerCounts(dirA), trailerCounts(dirB)];
      const ids = await processedIds(since);
      for (const id of ids) expect(counts.reduce((sum, map) => sum + (map.get(id) ?? 0), 0), `outbox id ${id}`).toBe(1);
      expect(ids.filter((id) => counts[1]!.has(id))).toHaveLength(10);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- child output ---\n${output}`);
    } finally {
      child.kill("SIGKILL");
      await admin.end();
    }
  });
});

describe("ARCHIVE_REMOTE", () => {
  function bareRemote(): string {
    const remote = path.join(scratch("remote"), "archive.git");
    git(path.dirname(remote), "init", "--quiet", "--bare", "--initial-branch=main", remote);
    return remote;
  }

  it("pushes after each batch; a new writer starts from the remote's history and continues it", async () => {
    const remote = bareRemote();
    const { ctx, humanKey, agents, since } = await setup();
    const dirA = path.join(scratch("a"), "repo");
    const a = start(archiveConfig(dirA, { remote }));
    await send(ctx, humanKey, agents.GreenLake!, "BlueDog", "via a");
    await drained();
    const aHead = git(dirA, "rev-parse", "HEAD").trim();
    expect(git(remote, "rev-parse", "main").trim()).toBe(aHead);
    expect(commits(remote, "main")[0]!.subject).toBe("chore: initialize archive");
    await stop(a);

    const dirB = path.join(scratch("b"), "repo");
    start(archiveConfig(dirB, { remote }));
    await waitFor("b to fetch the remote's history", () => existsSync(path.join(dirB, ".git")) && git(dirB, "rev-parse", "HEAD").trim() === aHead);
    await send(ctx, humanKey, agents.GreenLake!, "BlueDog", "via b");
    await drained();
    const bHead = git(dirB, "rev-parse", "HEAD").trim();
    expect(git(remote, "rev-parse", "main").trim()).toBe(bHead);
    git(dirB, "merge-base", "--is-ancestor", aHead, bHead);
    expect(commits(remote, "main").filter((commit) => commit.subject === "chore: initialize archive")).toHaveLength(1);
    for (const [id, count] of trailerCounts(remote, "main")) expect(count, `outbox id ${id}`).toBe(1);
    for (const id of await processedIds(since)) expect(trailerCounts(remote, "main").get(id), `outbox id ${id}`).toBe(1);
  });

  it("a commit the remote refused is pushed on the retry and marked then, once", async () => {
    const remote = bareRemote();
    const { ctx, humanKey, agents, since } = await setup();
    const dir = path.join(scratch("a"), "repo");
    const aside = `${remote}.aside`;
    let moved = false;
    start(archiveConfig(dir, { remote }), {
      hooks: {
        beforeCommit: () => {
          if (moved) return;
          renameSync(remote, aside);
          moved = true;
        },
      },
    });
    await send(ctx, humanKey, agents.GreenLake!, "BlueDog", "refused first");
    await waitFor("the push to fail", async () => (await db.prisma.archiveOutbox.count({ where: { processedTs: null, attempts: { gt: 0 } } })) > 0);
    renameSync(aside, remote);
    await drained();
    expect(git(remote, "rev-parse", "main").trim()).toBe(git(dir, "rev-parse", "HEAD").trim());
    const counts = trailerCounts(remote, "main");
    for (const id of await processedIds(since)) expect(counts.get(id), `outbox id ${id}`).toBe(1);
    const row = await db.prisma.archiveOutbox.findFirstOrThrow({ where: { kind: "message" }, orderBy: { id: "desc" } });
    expect(counts.get(row.id)).toBe(1);
  });

  it("a writer whose unpushed commit was overtaken drops it for the remote's history; nothing is written twice", async () => {
    const remote = bareRemote();
    const { ctx, humanKey, agents, since } = await setup();
    const dirA = path.join(scratch("a"), "repo");
    const dirB = path.join(scratch("b"), "repo");
    const aside = `${remote}.aside`;
    // a commits while the remote is away, then stops before it can push.
    let armed = false;
    const a = start(archiveConfig(dirA, { remote }), {
      hooks: {
        beforeCommit: () => {
          if (!armed) return;
          armed = false;
          renameSync(remote, aside);
        },
      },
    });
    await drained();
    armed = true;
    await send(ctx, humanKey, agents.GreenLake!, "BlueDog", "written twice?");
    await waitFor("a's commit to fail to push", async () => (await db.prisma.archiveOutbox.count({ where: { processedTs: null, attempts: { gt: 0 } } })) > 0);
    await stop(a);
    const dropped = git(dirA, "rev-parse", "HEAD").trim();
    expect(git(dirA, "log", "-1", "--format=%s").trim()).toContain("written twice?");
    renameSync(aside, remote);

    // b writes the same events from the remote's history and pushes them (as another author, so
    // that its commit is not byte for byte a's, which git would take for the same commit).
    const b = start(archiveConfig(dirB, { remote, authorName: "Archive Test B" }));
    await drained();
    await stop(b);
    // a comes back: its local commit is not on the remote any more and is dropped.
    start(archiveConfig(dirA, { remote }));
    await waitFor("a to follow the remote", () => git(dirA, "rev-parse", "HEAD").trim() === git(remote, "rev-parse", "main").trim());
    expect(() => git(remote, "cat-file", "-e", `${dropped}^{commit}`)).toThrow();
    for (const [id, count] of trailerCounts(remote, "main")) expect(count, `outbox id ${id}`).toBe(1);
    for (const id of await processedIds(since)) expect(trailerCounts(remote, "main").get(id), `outbox id ${id}`).toBe(1);
  });
});
