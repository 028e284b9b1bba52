import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { threadPath } from "@/server/archive/layout";
import { openDatabase, type Database } from "@/server/db/client";
import { invoke } from "@/server/operations/invoke";
import { sendMessageInput } from "@/server/schemas/messages";
import { sendMessage } from "@/server/services/messages/send";
import { serviceContext } from "../helpers/context";
import { projectWithAgents } from "../helpers/mail";
import { createDatabase, repoRoot } from "./support/app-server";
import { commits, git, tempDir, trailerCounts, waitFor } from "./support/archive-git";

// The archive writer killed with SIGKILL (kill -9) in a process of its own, then started again:
// every event must end up committed exactly once. First at chosen points of a batch (after its
// files are written, after its commit), on the embedded database and on Postgres; then at random
// moments while mail keeps arriving (Postgres: the test process sends while the writer dies).

const POSTGRES = process.env.E2E_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const CHILD = path.join(repoRoot, "tests", "e2e", "support", "archive-worker-child.mts");
const MESSAGES = 12;

interface Child {
  pid: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill9(): Promise<void>;
}

const children: Child[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

function startChild(settings: Record<string, string>): Child {
  // Vitest's own settings (NODE_ENV=test among them) stay out of the child.
  const inherited = Object.entries(process.env).filter(([key]) => key !== "NODE_ENV" && !key.startsWith("VITEST") && !key.startsWith("__VITEST"));
  const env = { ...Object.fromEntries(inherited), ...settings } as NodeJS.ProcessEnv;
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const handle: Child = {
    pid: child.pid!,
    output: () => output,
    exited,
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
  };
  children.push(handle);
  return handle;
}

afterEach(async (context) => {
  if (context.task.result?.state === "fail") for (const child of children) console.error(`--- child ${child.pid} ---\n${child.output()}`);
  for (const child of children.splice(0)) await child.kill9();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

afterAll(async () => {
  for (const child of children) await child.kill9();
});

/** Runs a child until the outbox is empty; fails with its output if it does not exit 0. */
async function drain(settings: Record<string, string>): Promise<void> {
  const child = startChild({ ...settings, CHILD_DRAIN: "1" });
  const { code, signal } = await child.exited;
  expect(code, `the draining writer exited with ${code ?? signal}:\n${child.output()}`).toBe(0);
}

function digestSubjects(archive: string, slug: string, thread: string): string[] {
  return [...readFileSync(path.join(archive, threadPath(slug, thread)), "utf8").matchAll(/^### (.+)$/gm)].map((match) => match[1]!);
}

/** Checks the archive against the database: each written event once in the trailers, each marked with the commit that names it. */
async function expectExactlyOnce(archive: string, database: Database): Promise<void> {
  const rows = await database.prisma.archiveOutbox.findMany({ orderBy: { id: "asc" } });
  expect(rows.length).toBeGreaterThan(0);
  const counts = trailerCounts(archive);
  const shaOf = new Map<bigint, string>();
  for (const commit of commits(archive)) for (const id of commit.ids) shaOf.set(id, commit.sha);
  for (const row of rows) {
    expect(row.processedTs, `outbox row ${row.id} processed`).not.toBeNull();
    expect(counts.get(row.id), `outbox row ${row.id} in the trailers`).toBe(1);
    expect(row.commitSha, `outbox row ${row.id} commit`).toBe(shaOf.get(row.id));
  }
  expect(git(archive, "status", "--porcelain")).toBe("");
}

interface Setup {
  settings: Record<string, string>;
  /** For the first child only: the embedded database is seeded by the process that owns it. */
  seed: Record<string, string>;
  archive: string;
  /** Opens the database for checks (for the embedded one: only once no child runs). */
  open(): Promise<Database>;
}

/** An archive folder and a database with a project, two agents and MESSAGES messages in thread CRASH. */
async function prepare(kind: "pglite" | "postgres", key: string): Promise<Setup> {
  const scratch = tempDir("crash");
  cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
  const archive = path.join(scratch, "archive");
  if (kind === "pglite") {
    const dataDir = path.join(scratch, "data");
    return { settings: { CHILD_DATA_DIR: dataDir, CHILD_ARCHIVE_DIR: archive }, seed: { CHILD_SEED: `${key}:${MESSAGES}` }, archive, open: () => openDatabase({ dataDir }) };
  }
  const created = await createDatabase(POSTGRES!);
  cleanups.push(() => created.drop());
  const database = await openDatabase({ url: created.url, poolMax: 4 });
  const { agents } = await projectWithAgents(database, key, ["GreenLake", "BlueDog"]);
  const ctx = serviceContext(database);
  for (let index = 0; index < MESSAGES; index += 1) {
    await invoke(sendMessage, ctx, sendMessageInput.parse({ project_key: key, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: `M${index}`, body_md: `body ${index}`, thread_id: "CRASH" }));
  }
  await database.close();
  return { settings: { CHILD_DATABASE_URL: created.url, CHILD_ARCHIVE_DIR: archive }, seed: {}, archive, open: () => openDatabase({ url: created.url, poolMax: 2 }) };
}

const KINDS = POSTGRES ? (["pglite", "postgres"] as const) : (["pglite"] as const);

describe.each(KINDS)("kill -9 at a chosen stage of a batch (%s)", (kind) => {
  it("after writing the files, before the commit: the restarted writer repairs the tree and writes every event once", async () => {
    const setup = await prepare(kind, `/crash/${kind}/write`);
    const first = startChild({ ...setup.settings, ...setup.seed, CHILD_PAUSE: "afterWrite" });
    await waitFor("the writer to stop after writing", () => existsSync(`${setup.archive}.paused`) || first.output().includes("Error"), 120_000);
    expect(readFileSync(`${setup.archive}.paused`, "utf8")).toBe("afterWrite");
    await first.kill9();
    // The dead writer left files that no commit holds.
    expect(git(setup.archive, "status", "--porcelain")).not.toBe("");
    rmSync(`${setup.archive}.paused`);

    await drain(setup.settings);
    const database = await setup.open();
    try {
      await expectExactlyOnce(setup.archive, database);
      const project = await database.prisma.project.findFirstOrThrow({ where: { humanKey: `/crash/${kind}/write` } });
      expect(digestSubjects(setup.archive, project.slug, "CRASH")).toEqual(Array.from({ length: MESSAGES }, (_, index) => `M${index}`));
    } finally {
      await database.close();
    }
  });

  it("after the commit, before the rows are marked: the restarted writer marks them from the trailers and writes nothing twice", async () => {
    const setup = await prepare(kind, `/crash/${kind}/commit`);
    const first = startChild({ ...setup.settings, ...setup.seed, CHILD_PAUSE: "afterCommit" });
    await waitFor("the writer to stop after committing", () => existsSync(`${setup.archive}.paused`) || first.output().includes("Error"), 120_000);
    await first.kill9();
    const committed = commits(setup.archive).at(-1)!;
    expect(committed.ids.length).toBeGreaterThan(0);
    rmSync(`${setup.archive}.paused`);

    await drain(setup.settings);
    const database = await setup.open();
    try {
      await expectExactlyOnce(setup.archive, database);
      const marked = await database.prisma.archiveOutbox.findMany({ where: { id: { in: committed.ids } } });
      expect(marked.every((row) => row.commitSha === committed.sha)).toBe(true);
      const project = await database.prisma.project.findFirstOrThrow({ where: { humanKey: `/crash/${kind}/commit` } });
      expect(digestSubjects(setup.archive, project.slug, "CRASH")).toEqual(Array.from({ length: MESSAGES }, (_, index) => `M${index}`));
    } finally {
      await database.close();
    }
  });
});

describe.runIf(POSTGRES)("kill -9 at random moments while mail arrives (Postgres)", () => {
  it("ends with every event committed exactly once", async () => {
    const created = await createDatabase(POSTGRES!);
    cleanups.push(() => created.drop());
    const scratch = tempDir("crash-random");
    cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
    const archive = path.join(scratch, "archive");
    const settings = { CHILD_DATABASE_URL: created.url, CHILD_ARCHIVE_DIR: archive };
    const database = await openDatabase({ url: created.url, poolMax: 4 });
    cleanups.push(() => database.close());
    const key = "/crash/random";
    const { agents } = await projectWithAgents(database, key, ["GreenLake", "BlueDog"]);
    const ctx = serviceContext(database);

    let sending = true;
    let sent = 0;
    const sender = (async () => {
      while (sending) {
        await invoke(sendMessage, ctx, sendMessageInput.parse({ project_key: key, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: `R${sent}`, body_md: `random ${sent}`, thread_id: "RANDOM" }));
        sent += 1;
      }
    })();

    for (let round = 0; round < 6; round += 1) {
      const child = startChild(settings);
      await waitFor("the writer to start", () => child.output().includes('"started":true'), 120_000);
      // Long enough for a few batches, short enough to land inside one now and then.
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(Math.random() * 600)));
      await child.kill9();
    }
    sending = false;
    await sender;
    await drain(settings);

    await expectExactlyOnce(archive, database);
    const project = await database.prisma.project.findFirstOrThrow({ where: { humanKey: key } });
    expect(digestSubjects(archive, project.slug, "RANDOM")).toEqual(Array.from({ length: sent }, (_, index) => `R${index}`));
    expect(sent).toBeGreaterThan(0);
  });
});
