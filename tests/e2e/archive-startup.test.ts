import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { threadPath } from "@/server/archive/layout";
import { openDatabase, type Database } from "@/server/db/client";
import { createDatabase, repoRoot } from "./support/app-server";
import { commits, git, tempDir, trailerCounts } from "./support/archive-git";

// The archive worker as the server runs it (src/server/startup.ts, without Next, so no build is
// needed): started once the database is open, shown in /api/ready and health_check, and stopped
// by the shutdown only after the batch under way is committed and marked, so a restart finds a
// clean tree and writes the rest of the backlog once.

const POSTGRES = process.env.E2E_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const CHILD = path.join(repoRoot, "tests", "e2e", "support", "archive-startup-child.mts");
// More than two batches (500 events each): the first run stops in the middle of the backlog and
// finishes the batch under way, which leaves the rest for the restart.
const COUNT = 1_100;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

interface Report {
  ready: { status: string; database: string; archive: Record<string, unknown> };
  health: { status: string; archive: Record<string, unknown> };
}

/** Runs the startup child to its end; returns its report (its output is in the failure message). */
async function run(settings: Record<string, string>): Promise<Report> {
  const inherited = Object.entries(process.env).filter(([key]) => !["NODE_ENV", "DATABASE_URL", "DATA_DIR", "ARCHIVE_DIR", "ARCHIVE_ENABLED", "ARCHIVE_REMOTE"].includes(key) && !key.startsWith("VITEST") && !key.startsWith("__VITEST"));
  const env = { ...Object.fromEntries(inherited), NODE_ENV: "production", CONTACT_ENFORCEMENT_ENABLED: "false", ...settings } as NodeJS.ProcessEnv;
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect(code, output).toBe(0);
  const line = output.split("\n").findLast((text) => text.startsWith('{"ready"'));
  expect(line, output).toBeDefined();
  return JSON.parse(line!) as Report;
}

const KINDS = POSTGRES ? (["pglite", "postgres"] as const) : (["pglite"] as const);

describe.each(KINDS)("the archive worker in the server's start and stop (%s)", (kind) => {
  async function prepare(): Promise<{ settings: Record<string, string>; dataDir: string; open: () => Promise<Database> }> {
    const dataDir = tempDir("startup");
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    if (kind === "pglite") return { settings: { DATA_DIR: dataDir }, dataDir, open: () => openDatabase({ dataDir }) };
    const created = await createDatabase(POSTGRES!);
    cleanups.push(() => created.drop());
    return { settings: { DATA_DIR: dataDir, DATABASE_URL: created.url }, dataDir, open: () => openDatabase({ url: created.url, poolMax: 2 }) };
  }

  it("writes the archive under DATA_DIR, reports it, and stops between batches; a restart writes the rest once", async () => {
    const { settings, dataDir, open } = await prepare();
    const project = `/startup/${kind}`;
    // A backlog first (written with the archive off), so that the next run stops in the middle of it.
    await run({ ...settings, ARCHIVE_ENABLED: "false", CHILD_MODE: "seed", CHILD_PROJECT: project, CHILD_COUNT: String(COUNT) });
    const first = await run({ ...settings, CHILD_MODE: "first" });
    expect(first.ready).toMatchObject({ status: "ready", database: kind, archive: { enabled: true, role: "writer", last_error: null } });
    expect(first.health.archive).toMatchObject({ enabled: true, role: "writer" });
    expect(first.ready.archive.commits).toBeGreaterThan(0);
    expect(first.ready.archive.pending_events).toBeGreaterThan(0);

    const archive = path.join(dataDir, "archive");
    // Stopped between batches: nothing half-written, and what was committed is marked.
    expect(git(archive, "status", "--porcelain")).toBe("");
    let database: Database = await open();
    try {
      const counts = trailerCounts(archive);
      const rows = await database.prisma.archiveOutbox.findMany();
      expect(rows.length).toBeGreaterThan(COUNT);
      for (const row of rows) expect(counts.get(row.id) ?? 0, `outbox row ${row.id}`).toBe(row.processedTs ? 1 : 0);
      // The batch that was under way when the stop came was finished, not dropped.
      expect(rows.filter((row) => row.processedTs).length).toBeGreaterThan(first.ready.archive.events_written as number);
    } finally {
      await database.close();
    }

    const drained = await run({ ...settings, CHILD_MODE: "drain" });
    expect(drained.ready.archive).toMatchObject({ pending_events: 0, oldest_pending_age_seconds: null, role: "writer" });
    database = await open();
    try {
      const counts = trailerCounts(archive);
      for (const row of await database.prisma.archiveOutbox.findMany()) {
        expect(row.processedTs, `outbox row ${row.id}`).not.toBeNull();
        expect(counts.get(row.id), `outbox row ${row.id}`).toBe(1);
      }
      const slug = (await database.prisma.project.findFirstOrThrow({ where: { humanKey: project } })).slug;
      const digest = readFileSync(path.join(archive, threadPath(slug, "STARTUP")), "utf8");
      expect([...digest.matchAll(/^### (.+)$/gm)].map((match) => match[1])).toEqual(Array.from({ length: COUNT }, (_, index) => `S${index}`));
    } finally {
      await database.close();
    }
    expect(commits(archive)[0]!.subject).toBe("chore: initialize archive");
  });

  it("ARCHIVE_ENABLED=false starts no writer and writes nothing, and says so", async () => {
    const { settings, dataDir } = await prepare();
    const report = await run({ ...settings, ARCHIVE_ENABLED: "false", CHILD_MODE: "status" });
    expect(report.ready.archive).toMatchObject({ enabled: false, role: "disabled", commits: 0 });
    expect(report.health.archive).toMatchObject({ enabled: false, role: "disabled" });
    expect(existsSync(path.join(dataDir, "archive"))).toBe(false);
  });
});
