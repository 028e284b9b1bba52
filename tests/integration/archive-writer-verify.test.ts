import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messagePath, profilePath, threadPath, mailboxPath } from "@/server/archive/layout";
import { rebuildArchive, verifyArchive } from "@/server/archive/verify";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { sendMessageInput } from "@/server/schemas/messages";
import type { ServiceContext } from "@/server/services/context";
import { sendMessage } from "@/server/services/messages/send";
import { archiveConfig, commits, git, waitFor } from "../e2e/support/archive-git";
import { archiveWorkers } from "../helpers/archive-workers";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// The operator tools behind `mailroom archive verify|rebuild`: the database against the
// archive's last commit (missing files, orphan files, pending events), and a rebuild that writes
// back what is missing, once, without ever racing a running writer.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
const { workers, start, stopAll, drained, scratch } = archiveWorkers(() => db);

beforeAll(async () => {
  db = await openTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

function send(ctx: ServiceContext, humanKey: string, from: TestAgent, subject: string, threadId?: string) {
  return invoke(sendMessage, ctx, sendMessageInput.parse({ project_key: humanKey, sender_name: from.name, sender_token: from.token, to: ["BlueDog"], subject, body_md: `${subject} body`, thread_id: threadId }));
}

async function appError(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("verify and rebuild", () => {
  it("report missing and orphan files and pending events; rebuild writes back exactly what is missing", async () => {
    const dir = path.join(scratch("verify"), "repo");
    const config = archiveConfig(dir);
    const humanKey = "/archive-verify/one";
    const { ctx, project, agents } = await projectWithAgents(db, humanKey, ["GreenLake", "BlueDog"]);
    const slug = project.slug;
    start(config);
    const ids: number[] = [];
    for (const subject of ["First", "Second", "Third"]) ids.push((await send(ctx, humanKey, agents.GreenLake!, subject, "T-1")).deliveries[0]!.payload.id);
    await drained();
    await stopAll();

    const clean = await verifyArchive(db.prisma, config);
    expect(clean.ok).toBe(true);
    expect(clean.commit).toBe(git(dir, "rev-parse", "HEAD").trim());
    expect(clean.projects.find((entry) => entry.project === slug)).toEqual({
      project: slug,
      human_key: humanKey,
      messages: 3,
      files: 3,
      pending_events: 0,
      missing_count: 0,
      missing: [],
      orphan_count: 0,
      orphans: [],
      ok: true,
    });

    // Damage: the second message's copies, a profile and the thread digest go; a file no message owns appears.
    const second = await db.prisma.message.findUniqueOrThrow({ where: { id: ids[1]! } });
    const secondFile = { id: second.id, subject: "Second", createdTs: second.createdTs };
    const canonical = messagePath(slug, secondFile);
    const lost = [canonical, mailboxPath(slug, "GreenLake", "outbox", secondFile), mailboxPath(slug, "BlueDog", "inbox", secondFile), profilePath(slug, "BlueDog"), threadPath(slug, "T-1")];
    const before = new Map(lost.map((file) => [file, readFileSync(path.join(dir, file), "utf8")]));
    git(dir, "rm", "--quiet", "--", ...lost);
    const ghost = `projects/${slug}/messages/2020/01/2020-01-01T00-00-00Z__ghost__999999.md`;
    mkdirSync(path.dirname(path.join(dir, ghost)), { recursive: true });
    writeFileSync(path.join(dir, ghost), "---json\n{}\n---\n\nghost\n");
    git(dir, "add", "--", ghost);
    git(dir, "-c", "user.name=Operator", "-c", "user.email=op@example.com", "commit", "--quiet", "-m", "damage");
    // A message whose event is still waiting is late, not missing.
    const late = (await send(ctx, humanKey, agents.GreenLake!, "Fourth", "T-1")).deliveries[0]!.payload.id;

    const damaged = await verifyArchive(db.prisma, config, { project: humanKey });
    expect(damaged.ok).toBe(false);
    expect(damaged.projects).toEqual([
      {
        project: slug,
        human_key: humanKey,
        messages: 4,
        files: 3,
        pending_events: 1,
        missing_count: 1,
        missing: [canonical],
        orphan_count: 1,
        orphans: [ghost],
        ok: false,
      },
    ]);
    expect((await verifyArchive(db.prisma, config, { project: slug })).projects).toEqual(damaged.projects);

    const rebuilt = await rebuildArchive(db.prisma, config, { project: slug });
    expect(rebuilt.commit).toBe(git(dir, "rev-parse", "HEAD").trim());
    expect(rebuilt.written).toBe(lost.length);
    expect(commits(dir).at(-1)!.subject).toBe(`rebuild: ${lost.length} file(s) written from the database`);
    for (const [file, content] of before) expect(readFileSync(path.join(dir, file), "utf8"), file).toBe(content);
    expect(git(dir, "status", "--porcelain")).toBe("");
    const after = await verifyArchive(db.prisma, config, { project: slug });
    expect(after.projects[0]).toMatchObject({ missing_count: 0, orphans: [ghost], pending_events: 1, ok: false });
    expect(await rebuildArchive(db.prisma, config, { project: slug })).toEqual({ written: 0, commit: null });

    // The writer then appends the late message to the rebuilt digest: every entry once, in order.
    start(config);
    await drained();
    await stopAll();
    const digest = readFileSync(path.join(dir, threadPath(slug, "T-1")), "utf8");
    expect([...digest.matchAll(/^### (.+)$/gm)].map((match) => match[1])).toEqual(["First", "Second", "Third", "Fourth"]);
    const final = await verifyArchive(db.prisma, config, { project: slug });
    expect(final.projects[0]).toMatchObject({ messages: 4, files: 5, missing_count: 0, pending_events: 0 });
    expect(late).toBeGreaterThan(ids[2]!);
  });

  it("refuses to rebuild while a writer holds the archive, and names an unknown project", async () => {
    const dir = path.join(scratch("verify"), "repo");
    const config = archiveConfig(dir);
    const worker = start(config);
    await waitFor("the writer", () => worker.state().role === "writer");
    const busy = await appError(rebuildArchive(db.prisma, config));
    expect(busy.code).toBe("CONFLICT");
    expect(busy.message).toContain("stop the servers");
    await stopAll();

    if (db.kind === "postgres") {
      // Another instance's writer (another folder, same database) holds the lock too.
      start(archiveConfig(path.join(scratch("verify-other"), "repo")));
      await waitFor("the other writer", () => workers[0]!.state().role === "writer");
      expect((await appError(rebuildArchive(db.prisma, config))).code).toBe("CONFLICT");
      await stopAll();
    }

    const missing = await appError(verifyArchive(db.prisma, config, { project: "/no/such/project" }));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.data).toEqual({ field: "project" });
  });

  it("lists archive folders of projects the database no longer has, and reads an archive that does not exist yet as empty", async () => {
    const empty = await verifyArchive(db.prisma, archiveConfig(path.join(scratch("verify-none"), "missing")));
    expect(empty.commit).toBeNull();
    expect(empty.unknown_projects).toEqual([]);
    expect(empty.projects.every((entry) => entry.files === 0)).toBe(true);

    const dir = path.join(scratch("verify"), "repo");
    const config = archiveConfig(dir);
    const { project } = await projectWithAgents(db, "/archive-verify/doomed", ["GreenLake"]);
    start(config);
    await drained();
    await stopAll();
    await db.prisma.project.delete({ where: { id: project.id } });
    expect((await verifyArchive(db.prisma, config)).unknown_projects).toEqual([`projects/${project.slug}`]);
  });
});
