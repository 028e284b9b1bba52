import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messagePath, profilePath, projectDirName, reservationPath, threadPath, mailboxPath, attachmentPath } from "@/server/archive/layout";
import { archiveStatus } from "@/server/archive/status";
import { invoke } from "@/server/operations/invoke";
import { sendMessageInput, type SendMessageInput } from "@/server/schemas/messages";
import type { ServiceContext } from "@/server/services/context";
import { sendMessage } from "@/server/services/messages/send";
import { fileReservationPaths, releaseFileReservations } from "@/server/services/reservations/operations";
import { healthCheck } from "@/server/services/system/health";
import { archiveConfig, commits, git, removeDir, trailerCounts, waitFor } from "../e2e/support/archive-git";
import { archiveWorkers } from "../helpers/archive-workers";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// The archive writer against a real database (PGlite, or Postgres with TEST_DATABASE_URL) and
// real git in temporary folders: the files and commits of sends, profiles and reservations, the
// batching, the crash repair (a batch stopped between writing and committing, and between
// committing and marking), deleted rows, and a broken archive that must not touch mail.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let counter = 0;
const { workers, start, stop, drained, scratch } = archiveWorkers(() => db);

beforeAll(async () => {
  db = await openTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

function archiveDir(): string {
  return path.join(scratch("archive"), "repo");
}

/** Outbox ids not processed yet, in order. */
async function pendingIds(): Promise<bigint[]> {
  return (await db.prisma.archiveOutbox.findMany({ where: { processedTs: null }, select: { id: true }, orderBy: { id: "asc" } })).map((row) => row.id);
}

async function setup(names: string[] = ["GreenLake", "BlueDog", "RedFox"]) {
  counter += 1;
  const humanKey = `/archive/p${counter}`;
  const registered = await projectWithAgents(db, humanKey, names);
  return { ...registered, humanKey, slug: registered.project.slug };
}

type SendArgs = Omit<Partial<SendMessageInput>, "to"> & { to?: string[] };
function send(ctx: ServiceContext, humanKey: string, from: TestAgent, input: SendArgs) {
  return invoke(sendMessage, ctx, sendMessageInput.parse({ project_key: humanKey, sender_name: from.name, sender_token: from.token, subject: "Hello", body_md: "Body", ...input }));
}

function read(dir: string, relative: string): string {
  return readFileSync(path.join(dir, relative), "utf8");
}

function expectEachOnce(dir: string, ids: readonly bigint[]): void {
  const counts = trailerCounts(dir);
  for (const id of ids) expect(counts.get(id), `outbox id ${id}`).toBe(1);
}

describe("the files and commit of a send (reference §8 layout)", () => {
  it("writes canonical, outbox, inbox copies, the thread digest and profiles, and commits them with the trailer", async () => {
    const dir = archiveDir();
    const config = archiveConfig(dir);
    const { ctx, humanKey, slug, agents } = await setup(["GreenLake", "BlueDog", "RedFox", "alpha-one"]);
    const worker = start(config);
    await drained();

    const first = await send(ctx, humanKey, agents.GreenLake!, {
      to: ["BlueDog"],
      cc: ["RedFox"],
      bcc: ["alpha-one"],
      subject: "Plan: ../../etc/passwd ✓",
      body_md: "  Line one\n\nLine two  ",
      thread_id: "FEAT-1",
      importance: "high",
      ack_required: true,
    });
    await drained();
    const id = first.deliveries[0]!.payload.id;
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id } });
    const created = message.createdTs.toISOString().replace("Z", "+00:00");
    const file = { id, subject: message.subject, createdTs: message.createdTs };

    const canonical = messagePath(slug, file);
    expect(canonical).toMatch(new RegExp(`^projects/${slug}/messages/\\d{4}/\\d{2}/\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}Z__plan-..-..-etc-passwd__${id}\\.md$`));
    const expected = [
      "---json",
      "{",
      '  "ack_required": true,',
      '  "attachments": [],',
      '  "bcc": [',
      '    "alpha-one"',
      "  ],",
      '  "cc": [',
      '    "RedFox"',
      "  ],",
      `  "created": "${created}",`,
      '  "from": "GreenLake",',
      `  "id": ${id},`,
      '  "importance": "high",',
      `  "project": "${humanKey}",`,
      `  "project_slug": "${slug}",`,
      '  "subject": "Plan: ../../etc/passwd ✓",',
      '  "thread_id": "FEAT-1",',
      '  "to": [',
      '    "BlueDog"',
      "  ]",
      "}",
      "---",
      "",
      "Line one",
      "",
      "Line two",
      "",
    ].join("\n");
    expect(read(dir, canonical)).toBe(expected);
    expect(read(dir, mailboxPath(slug, "GreenLake", "outbox", file))).toBe(expected);
    for (const name of ["BlueDog", "RedFox", "alpha-one"]) expect(read(dir, mailboxPath(slug, name, "inbox", file))).toBe(expected);
    expect(existsSync(path.join(dir, mailboxPath(slug, "GreenLake", "inbox", file)))).toBe(false);

    expect(read(dir, threadPath(slug, "FEAT-1"))).toBe(
      `# Thread FEAT-1\n\n### Plan: ../../etc/passwd ✓\n\n## ${created} — GreenLake → BlueDog, RedFox, alpha-one\n\n[View canonical](${canonical})\n\nLine one\n\nLine two\n\n---\n\n`,
    );

    const profile = JSON.parse(read(dir, profilePath(slug, "BlueDog"))) as Record<string, unknown>;
    expect(profile).toMatchObject({ name: "BlueDog", program: "test-suite", model: "test-model", task_description: "testing as BlueDog" });
    expect(Object.keys(profile)).toEqual([...Object.keys(profile)].sort());
    expect(read(dir, profilePath(slug, "BlueDog"))).not.toMatch(/token/i);

    // The send's own commit: the reference's fallback message, the trailer naming its outbox row.
    const row = await db.prisma.archiveOutbox.findFirstOrThrow({ where: { messageId: id } });
    const head = commits(dir).at(-1)!;
    expect(head.message).toBe(
      `mail: GreenLake -> BlueDog, RedFox, alpha-one | Plan: ../../etc/passwd ✓\n\nTOOL: send_message\nAgent: GreenLake\nProject: ${humanKey}\nStarted: ${created}\nStatus: SUCCESS\nThread: FEAT-1\nMailroom-Outbox: ${row.id}\n`,
    );
    expect(row.commitSha).toBe(head.sha);
    expect(row.processedTs).not.toBeNull();
    expect(git(dir, "show", "--name-only", "--format=", head.sha).trim().split("\n").sort()).toEqual(
      [canonical, mailboxPath(slug, "GreenLake", "outbox", file), ...["BlueDog", "RedFox", "alpha-one"].map((name) => mailboxPath(slug, name, "inbox", file)), threadPath(slug, "FEAT-1")].sort(),
    );
    expect(git(dir, "log", "-1", "--format=%an <%ae> / %cn <%ce>").trim()).toBe("Archive Test <archive-test@example.com> / Archive Test <archive-test@example.com>");
    expect(git(dir, "rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("main");
    expect(git(dir, "status", "--porcelain")).toBe("");

    // A reply in the thread appends to the digest.
    await send(ctx, humanKey, agents.BlueDog!, { to: ["GreenLake"], subject: "Re: Plan", body_md: "x".repeat(1300), thread_id: "FEAT-1" });
    await drained();
    const digest = read(dir, threadPath(slug, "FEAT-1"));
    expect(digest.match(/^## /gm)).toHaveLength(2);
    expect(digest).toContain(`### Re: Plan\n\n`);
    expect(digest).toContain(`${"x".repeat(1200)}\n...\n\n---\n\n`);

    const status = await archiveStatus(db.prisma, config);
    expect(status).toMatchObject({ enabled: true, role: "writer", pending_events: 0, oldest_pending_age_seconds: null, last_error: null, last_commit_sha: commits(dir).at(-1)!.sha });
    expect(status.commits).toBeGreaterThanOrEqual(2);
    expect(status.events_written).toBeGreaterThanOrEqual(6);
    expect(worker.state().role).toBe("writer");
  });

  it("starts the repository with `chore: initialize archive` and .gitattributes, on main, unsigned", async () => {
    const dir = archiveDir();
    start(archiveConfig(dir));
    await setup(["GreenLake"]);
    await drained();
    const [first] = commits(dir);
    expect(first!.subject).toBe("chore: initialize archive");
    expect(git(dir, "show", "--name-only", "--format=", first!.sha).trim()).toBe(".gitattributes");
    expect(read(dir, ".gitattributes")).toBe("*.json text\n*.md text\n");
    expect(git(dir, "config", "--local", "commit.gpgsign").trim()).toBe("false");
  });

  it("writes cross-project mail without an outbox copy and with the sender's project in the front matter", async () => {
    const dir = archiveDir();
    const here = await setup(["GreenLake"]);
    const there = await setup(["BlueDog"]);
    start(archiveConfig(dir));
    const sent = await send(here.ctx, here.humanKey, here.agents.GreenLake!, { to: [`project:${there.slug}#BlueDog`], subject: "Across" });
    await drained();
    const delivery = sent.deliveries.find((item) => item.project === there.humanKey)!.payload;
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id: delivery.id } });
    const file = { id: message.id, subject: "Across", createdTs: message.createdTs };
    const front = JSON.parse(read(dir, messagePath(there.slug, file)).split("\n---\n")[0]!.replace("---json\n", "")) as Record<string, unknown>;
    expect(front).toMatchObject({
      project: there.humanKey,
      project_slug: there.slug,
      from: "GreenLake",
      from_project: here.humanKey,
      from_project_slug: here.slug,
      from_address: `project:${here.slug}#GreenLake`,
      to: ["BlueDog"],
    });
    expect(existsSync(path.join(dir, mailboxPath(there.slug, "BlueDog", "inbox", file)))).toBe(true);
    expect(existsSync(path.join(dir, mailboxPath(there.slug, "GreenLake", "outbox", file)))).toBe(false);
    expect(existsSync(path.join(dir, "projects", projectDirName(there.slug), "agents", "GreenLake"))).toBe(false);
  });

  it("writes a message's attachments from attachment_blobs, byte for byte", async () => {
    const dir = archiveDir();
    const { ctx, humanKey, slug, agents } = await setup(["GreenLake", "BlueDog"]);
    const sent = await send(ctx, humanKey, agents.GreenLake!, { to: ["BlueDog"], subject: "With a file" });
    const id = sent.deliveries[0]!.payload.id;
    const data = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255, 254, 10, 13]);
    const sha256 = (await import("node:crypto")).createHash("sha256").update(data).digest("hex");
    await db.prisma.attachmentBlob.create({ data: { sha256, bytes: data.length, data } });
    await db.prisma.message.update({ where: { id }, data: { attachments: [{ name: "logo.png", media_type: "image/png", bytes: data.length, sha256 }] } });
    start(archiveConfig(dir));
    await drained();
    const target = attachmentPath(slug, sha256, "image/png");
    expect(readFileSync(path.join(dir, target)).equals(data)).toBe(true);
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id } });
    const front = read(dir, messagePath(slug, { id, subject: "With a file", createdTs: message.createdTs }));
    expect(front).toContain(`"path": "${target}"`);
    expect(git(dir, "ls-files", "--", target).trim()).toBe(target);
  });
});

describe("file reservations", () => {
  it("writes id-<id>.json on grant and again on release, with the reference's commit lines", async () => {
    const dir = archiveDir();
    const { ctx, humanKey, slug, agents } = await setup(["GreenLake"]);
    start(archiveConfig(dir));
    await drained();
    const as = { project_key: humanKey, agent_name: "GreenLake", registration_token: agents.GreenLake!.token };
    const granted = await invoke(fileReservationPaths, ctx, { ...as, paths: ["src/**", "docs/*.md"], reason: "refactor", ttl_seconds: 3600 });
    await drained();
    const [a, b] = granted.granted;
    const grantCommit = commits(dir).at(-1)!;
    expect(grantCommit.message).toMatch(/^file_reservation: GreenLake src\/\*\* \(\+1 more\)\n\n- GreenLake src\/\*\*\n- GreenLake docs\/\*\.md\n\nAgent: GreenLake\nMailroom-Outbox: \d+\n$/);
    const before = JSON.parse(read(dir, reservationPath(slug, a!.id))) as Record<string, unknown>;
    expect(before).toEqual({ id: a!.id, project: humanKey, agent: "GreenLake", path_pattern: "src/**", exclusive: true, reason: "refactor", created_ts: expect.any(String), expires_ts: a!.expires_ts });
    expect(Object.keys(before)).toEqual([...Object.keys(before)].sort());

    const released = await invoke(releaseFileReservations, ctx, { ...as, paths: ["src/**"] });
    await drained();
    const after = JSON.parse(read(dir, reservationPath(slug, a!.id))) as Record<string, unknown>;
    expect(after).toMatchObject({ released_ts: released.released_at, expires_ts: released.released_at });
    expect(JSON.parse(read(dir, reservationPath(slug, b!.id)))).not.toHaveProperty("released_ts");
    expect(commits(dir).at(-1)!.subject).toBe("file_reservation: GreenLake src/**");
  });
});

describe("batching", () => {
  it("writes many events in few commits, in id order, each event once", async () => {
    const dir = archiveDir();
    const { ctx, humanKey, slug, agents } = await setup(["GreenLake", "BlueDog"]);
    start(archiveConfig(dir));
    await drained();
    const firstWorker = workers.at(-1)!;
    await stop(firstWorker);

    // The ids cross from two digits to three (and from 999 to 1000), where text order is not number order.
    const [{ next }] = (await db.prisma.$queryRaw<{ next: bigint }[]>`SELECT last_value + 1 AS next FROM archive_outbox_id_seq`) as [{ next: bigint }];
    const from = next < 90n ? 90n : next < 990n ? 990n : next;
    await db.prisma.$executeRaw`SELECT setval('archive_outbox_id_seq', ${from}::bigint)`;
    const sent: number[] = [];
    for (let index = 0; index < 30; index += 1) {
      const result = await send(ctx, humanKey, agents.GreenLake!, { to: ["BlueDog"], subject: `Item ${index}`, thread_id: "BATCH" });
      sent.push(result.deliveries[0]!.payload.id);
    }
    const ids = await pendingIds();
    expect(ids).toHaveLength(30);
    const before = commits(dir).length;
    start(archiveConfig(dir), { batchSize: 10 });
    await drained();
    const added = commits(dir).slice(before);
    expect(added.map((commit) => commit.subject)).toEqual(["batch: 10 commits", "batch: 10 commits", "batch: 10 commits"]);
    expect(added.flatMap((commit) => commit.ids)).toEqual(ids);
    expect(added[0]!.message.split("\n").filter((line) => line.startsWith("- "))).toEqual(
      Array.from({ length: 10 }, (_, index) => `- mail: GreenLake -> BlueDog | Item ${index}`),
    );
    const digest = read(dir, threadPath(slug, "BATCH"));
    const order = [...digest.matchAll(/^### Item (\d+)$/gm)].map((match) => Number(match[1]));
    expect(order).toEqual(Array.from({ length: 30 }, (_, index) => index));
    const rows = await db.prisma.archiveOutbox.findMany({ where: { id: { in: ids } }, orderBy: { id: "asc" } });
    expect(rows.map((row) => row.commitSha)).toEqual(added.flatMap((commit) => commit.ids.map(() => commit.sha)));
  });

  it("waits while the server is busy, up to the lag allowed", async () => {
    const dir = archiveDir();
    const { ctx, humanKey, agents } = await setup(["GreenLake", "BlueDog"]);
    let busy = false;
    const written: { at: number; ids: readonly bigint[] }[] = [];
    const options = { pollMs: 20, busy: () => busy, hooks: { afterWrite: (ids: readonly bigint[]) => void written.push({ at: Date.now(), ids }) } };
    const first = start(archiveConfig(dir), { ...options, maxDeferMs: 60_000 });
    await drained();

    busy = true;
    await send(ctx, humanKey, agents.GreenLake!, { to: ["BlueDog"], subject: "While busy" });
    const [held] = await pendingIds();
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await pendingIds()).toEqual([held]);
    busy = false;
    await drained();
    expect(written.at(-1)!.ids).toEqual([held]);
    await stop(first);

    // Busy for good: the writer still goes on once the oldest event is maxDeferMs old.
    busy = true;
    start(archiveConfig(dir), { ...options, maxDeferMs: 600 });
    const sentAt = Date.now();
    await send(ctx, humanKey, agents.GreenLake!, { to: ["BlueDog"], subject: "Busy for good" });
    const [late] = await pendingIds();
    await drained();
    const batch = written.find((entry) => entry.ids.includes(late!));
    expect(batch!.at - sentAt).toBeGreaterThanOrEqual(600 - 50);
  });

  it("spaces batches under a stream of mail, and goes on at once after a full batch", async () => {
    const dir = archiveDir();
    const { ctx, humanKey, agents } = await setup(["GreenLake", "BlueDog"]);
    const starts: { at: number; size: number }[] = [];
    const interval = 400;
    start(archiveConfig(dir), { pollMs: 20, batchSize: 8, batchIntervalMs: interval, hooks: { afterWrite: (ids) => void starts.push({ at: Date.now(), size: ids.length }) } });
    await drained();
    starts.length = 0;
    // A stream: a send every ~25 ms for about 1.5 s, far more often than the interval.
    for (let index = 0; index < 60; index += 1) {
      await send(ctx, humanKey, agents.GreenLake!, { to: ["BlueDog"], subject: `Stream ${index}` });
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await drained();
    expect(starts.reduce((sum, batch) => sum + batch.size, 0)).toBe(60);
    let full = 0;
    for (let index = 1; index < starts.length; index += 1) {
      const previous = starts[index - 1]!;
      // Times are taken once a batch's files are written, not when it starts: allow for batches
      // that took longer to load and write than the next. A batch after a full one is not held back.
      if (previous.size === 8) full += 1;
      else expect(starts[index]!.at - previous.at, `batch ${index} after ${previous.size} events`).toBeGreaterThanOrEqual(interval - 100);
    }
    expect(starts.length - 1 - full).toBeGreaterThanOrEqual(2);
    expect(full).toBeGreaterThanOrEqual(1);
  });
});

describe("crash safety", () => {
  async function thirtyMessages(thread: string) {
    const { ctx, humanKey, slug, agents } = await setup(["GreenLake", "BlueDog"]);
    await drainedWith();
    for (let index = 0; index < 12; index += 1) await send(ctx, humanKey, agents.GreenLake!, { to: ["BlueDog"], subject: `M${index}`, thread_id: thread });
    return { slug, ids: await pendingIds() };
  }

  /** Writes whatever is pending into a throwaway archive, so that a test starts from an empty outbox. */
  async function drainedWith(): Promise<void> {
    const worker = start(archiveConfig(archiveDir()));
    await drained();
    await stop(worker);
  }

  function digestEntries(dir: string, slug: string, thread: string): string[] {
    return [...read(dir, threadPath(slug, thread)).matchAll(/^### (M\d+)$/gm)].map((match) => match[1]!);
  }

  it("a batch that dies between writing and committing is written again after a restart, once", async () => {
    const dir = archiveDir();
    const config = archiveConfig(dir);
    // The archive exists and is current before the crash.
    const warm = start(config);
    await drained();
    await stop(warm);
    const { slug, ids } = await thirtyMessages("CRASH-W");

    let seen = 0;
    const crashing = start(config, {
      hooks: {
        afterWrite: () => {
          seen += 1;
          throw new Error("simulated crash after writing");
        },
      },
    });
    await waitFor("the crashing batch", () => seen > 0);
    await stop(crashing);
    // What the dead writer left: files written, nothing committed, a stale index lock.
    expect(git(dir, "status", "--porcelain")).not.toBe("");
    writeFileSync(path.join(dir, ".git", "index.lock"), "");
    expect((await pendingIds()).length).toBe(ids.length);

    start(config);
    await drained();
    expectEachOnce(dir, ids);
    expect(digestEntries(dir, slug, "CRASH-W")).toEqual(Array.from({ length: 12 }, (_, index) => `M${index}`));
    expect(git(dir, "status", "--porcelain")).toBe("");
    const rows = await db.prisma.archiveOutbox.findMany({ where: { id: { in: ids } } });
    expect(rows.every((row) => row.attempts === 1 && row.lastError === null && row.commitSha !== null)).toBe(true);
  });

  it("a batch that dies between committing and marking is marked from the trailers after a restart, not written again", async () => {
    const dir = archiveDir();
    const config = archiveConfig(dir);
    const warm = start(config);
    await drained();
    await stop(warm);
    const { slug, ids } = await thirtyMessages("CRASH-C");

    let committed: string | undefined;
    const crashing = start(config, {
      hooks: {
        afterCommit: (sha) => {
          committed = sha;
          throw new Error("simulated crash after committing");
        },
      },
    });
    await waitFor("the crashing batch", () => committed);
    await stop(crashing);
    expect((await pendingIds()).length).toBe(ids.length);
    expect(commits(dir).at(-1)!.sha).toBe(committed);

    start(config);
    await drained();
    expectEachOnce(dir, ids);
    expect(commits(dir).at(-1)!.sha).toBe(committed);
    expect(digestEntries(dir, slug, "CRASH-C")).toEqual(Array.from({ length: 12 }, (_, index) => `M${index}`));
    const rows = await db.prisma.archiveOutbox.findMany({ where: { id: { in: ids } } });
    expect(rows.every((row) => row.commitSha === committed)).toBe(true);
  });

  it("a failure inside the running writer is repaired and retried with the same guarantees", async () => {
    const dir = archiveDir();
    const config = archiveConfig(dir);
    const warm = start(config);
    await drained();
    await stop(warm);
    const { slug, ids } = await thirtyMessages("RETRY");
    let failures = 0;
    const worker = start(config, {
      hooks: {
        afterWrite: () => {
          if (failures++ === 0) throw new Error("first write fails");
        },
        afterCommit: () => {
          if (failures++ === 2) throw new Error("first mark fails");
        },
      },
    });
    await drained();
    expect(failures).toBeGreaterThanOrEqual(3);
    expectEachOnce(dir, ids);
    expect(digestEntries(dir, slug, "RETRY")).toHaveLength(12);
    await waitFor("the error to clear", () => worker.state().last_error === null);
  });
});

describe("rows that are gone and rows that cannot be written", () => {
  it("marks an event whose message was deleted as processed, without a file or a commit", async () => {
    const dir = archiveDir();
    const { ctx, humanKey, agents } = await setup(["GreenLake", "BlueDog"]);
    start(archiveConfig(dir));
    await drained();
    await stop(workers.at(-1)!);
    const sent = await send(ctx, humanKey, agents.GreenLake!, { to: ["BlueDog"], subject: "Vanishing" });
    const id = sent.deliveries[0]!.payload.id;
    const row = await db.prisma.archiveOutbox.findFirstOrThrow({ where: { messageId: id } });
    await db.prisma.message.delete({ where: { id } });
    const before = commits(dir).length;
    start(archiveConfig(dir));
    await drained();
    const after = await db.prisma.archiveOutbox.findUniqueOrThrow({ where: { id: row.id } });
    expect(after.processedTs).not.toBeNull();
    expect(after.commitSha).toBeNull();
    expect(commits(dir)).toHaveLength(before);
    expect(git(dir, "ls-files").includes("vanishing")).toBe(false);
  });

  it("records an event whose payload is not its kind's on the row and goes on with the others", async () => {
    const dir = archiveDir();
    const { project, slug } = await setup(["GreenLake"]);
    start(archiveConfig(dir));
    await drained();
    const bad = await db.prisma.archiveOutbox.create({ data: { projectId: project.id, kind: "file_reservation", payload: { reservation_ids: "all" } } });
    const unknown = await db.prisma.archiveOutbox.create({ data: { projectId: project.id, kind: "from_the_future", payload: {} } });
    await waitFor("the bad row", async () => (await db.prisma.archiveOutbox.findUniqueOrThrow({ where: { id: bad.id } })).processedTs);
    const row = await db.prisma.archiveOutbox.findUniqueOrThrow({ where: { id: bad.id } });
    expect(row.lastError).toBe("The reservation event names no reservations.");
    expect(row.commitSha).toBeNull();
    // An unknown kind (written by a newer version) is left for a writer that knows it.
    expect((await db.prisma.archiveOutbox.findUniqueOrThrow({ where: { id: unknown.id } })).processedTs).toBeNull();
    await db.prisma.archiveOutbox.delete({ where: { id: unknown.id } });
    expect(existsSync(path.join(dir, "projects", slug))).toBe(true);
  });
});

describe("a broken archive never touches mail", () => {
  it("sends succeed, the failure shows in health_check without a path, and the backlog is written once the archive is fixed", async () => {
    const base = archiveDir();
    // A file where the archive folder should be: every write fails.
    writeFileSync(base, "not a folder");
    const config = archiveConfig(path.join(base, "repo"));
    const worker = start(config);
    const { ctx, humanKey, agents } = await setup(["GreenLake", "BlueDog"]);
    const sent = await send(ctx, humanKey, agents.GreenLake!, { to: ["BlueDog"], subject: "Still delivered" });
    expect(sent.count).toBe(1);
    const messageId = sent.deliveries[0]!.payload.id;
    await waitFor("the failure to be recorded on the send's event", async () => (await db.prisma.archiveOutbox.findFirstOrThrow({ where: { messageId } })).attempts > 0);

    const health = await invoke(healthCheck, { ...ctx, config: { ...ctx.config, archive: config } }, {});
    expect(health.status).toBe("ok");
    expect(health.archive.enabled).toBe(true);
    expect(health.archive.role).toBe("writer");
    expect(health.archive.pending_events).toBeGreaterThan(0);
    expect(health.archive.last_error).toMatch(/^E[A-Z]+: /);
    expect(health.archive.last_error).not.toContain(base);
    expect(health.archive.last_error).not.toContain("/tmp");
    const rows = await db.prisma.archiveOutbox.findMany({ where: { processedTs: null } });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((row) => [row.kind, row.attempts, row.lastError])).toEqual(rows.map((row) => [row.kind, expect.any(Number), health.archive.last_error]));
    expect(rows.every((row) => row.attempts >= 1)).toBe(true);
    expect(health.archive.oldest_pending_age_seconds).toBeGreaterThanOrEqual(0);

    await stop(worker);
    removeDir(base);
    start(config);
    await drained();
    expect(commits(config.dir).some((commit) => commit.message.includes("mail: GreenLake -> BlueDog | Still delivered"))).toBe(true);
  });

  it("health_check reports a disabled archive and its backlog when no worker runs", async () => {
    const { ctx } = await setup(["GreenLake"]);
    const health = await invoke(healthCheck, ctx, {});
    expect(health.archive).toEqual({
      enabled: false,
      role: "disabled",
      pending_events: expect.any(Number),
      oldest_pending_age_seconds: expect.anything(),
      last_commit_sha: null,
      last_commit_ts: null,
      last_error: null,
      commits: 0,
      events_written: 0,
    });
    expect(health.archive.pending_events).toBeGreaterThan(0);
    const worker = start(archiveConfig(archiveDir()));
    await drained();
    await stop(worker);
  });
});
