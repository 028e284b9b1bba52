import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "@/server/db/client";
import { invoke } from "@/server/operations/invoke";
import { sendMessageInput } from "@/server/schemas/messages";
import { sendMessage } from "@/server/services/messages/send";
import { serviceContext } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// `mailroom archive verify|rebuild` as a script sees them: the real command in a child process on
// a PGlite data directory or a Postgres database, against a real Git archive. What verify compares
// and what rebuild writes is the archive writer's (tests/integration/archive-writer*.test.ts);
// here: the reports, --json, the exit codes (0 agree, 1 differ), and errors as one line.

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "mailroom.mjs");
const KEY = "/archive-cli";

let database: Database;
let work: string;
let archiveDir: string;
let env: NodeJS.ProcessEnv;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mailroom(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: tmpdir(), env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
  });
}

interface Report {
  ok: boolean;
  commit: string | null;
  projects: Array<{ project: string; messages: number; files: number; missing_count: number; missing: string[]; orphan_count: number; orphans: string[]; ok: boolean }>;
}

async function verifyJson(args: string[] = []): Promise<{ run: Run; report: Report }> {
  const run = await mailroom(["archive", "verify", "--json", ...args]);
  expect(run.stderr).toBe("");
  return { run, report: JSON.parse(run.stdout) as Report };
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "mailroom-archive-cli-"));
  archiveDir = path.join(work, "archive");
  const base: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: "", ARCHIVE_DIR: archiveDir, MAILROOM_MIGRATE_ON_START: "true" };
  delete base.TEST_DATABASE_URL;
  const dataDir = path.join(work, "data");
  database = process.env.TEST_DATABASE_URL ? await openTestDatabase() : await openDatabase({ dataDir, migrate: true });
  const { agents } = await projectWithAgents(database, KEY, ["GreenLake", "BlueDog"]);
  const ctx = serviceContext(database);
  for (const subject of ["One", "Two", "Three"]) {
    await invoke(
      sendMessage,
      ctx,
      sendMessageInput.parse({ project_key: KEY, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject, body_md: `${subject} body` }),
    );
  }
  // As if a writer had taken the events and the archive were then lost: verify must call the
  // messages missing (queued events would only be "not written yet").
  await database.prisma.archiveOutbox.updateMany({ data: { processedTs: new Date() } });
  if (database.kind === "pglite") {
    // The embedded database admits one process: hand it over to the command.
    await database.close();
    env = { ...base, DATA_DIR: dataDir };
  } else {
    env = { ...base, DATABASE_URL: (database as Database & { url?: string }).url };
  }
});

afterAll(async () => {
  if (database?.kind === "postgres") await database.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("mailroom archive", () => {
  it("verify: an archive without the messages differs — exit 1, the missing files listed", async () => {
    const { run, report } = await verifyJson();
    expect(run.code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.commit).toBeNull();
    expect(report.projects).toHaveLength(1);
    expect(report.projects[0]).toMatchObject({ project: "archive-cli", messages: 3, files: 0, missing_count: 3, orphan_count: 0, ok: false });
    for (const file of report.projects[0]!.missing) expect(file).toMatch(/^projects\/archive-cli\/messages\/\d{4}\/\d{2}\/.+__\d+\.md$/);

    const text = await mailroom(["archive", "verify"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("archive-cli: 3 messages, 0 message files, 3 missing — DIFFERS");
    expect(text.stdout).toContain(`    missing ${report.projects[0]!.missing[0]}`);
    expect(text.stdout).toContain("The archive and the database differ: 3 missing, 0 orphan files.");
  });

  it("rebuild writes what is missing as one commit; verify then agrees — exit 0", async () => {
    const rebuilt = await mailroom(["archive", "rebuild", "--json"]);
    expect(rebuilt.stderr).toBe("");
    expect(rebuilt.code).toBe(0);
    const result = JSON.parse(rebuilt.stdout) as { written: number; commit: string };
    expect(result.written).toBeGreaterThanOrEqual(3);
    expect(result.commit).toMatch(/^[0-9a-f]{40}$/);

    const { run, report } = await verifyJson();
    expect(run.code).toBe(0);
    expect(report).toMatchObject({ ok: true, commit: result.commit });
    expect(report.projects[0]).toMatchObject({ messages: 3, files: 3, missing_count: 0, orphan_count: 0, ok: true });

    const text = await mailroom(["archive", "verify", "--project", KEY]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("archive-cli: 3 messages, 3 message files — ok");
    expect(text.stdout).toContain("The archive and the database agree.");

    const again = await mailroom(["archive", "rebuild"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("Nothing to write: the archive already holds everything the database has.\n");
  });

  it("verify: a committed message file with no message behind it is an orphan — exit 1", async () => {
    const ghost = "projects/archive-cli/messages/2020/01/2020-01-01T00-00-00Z__ghost__999999.md";
    mkdirSync(path.join(archiveDir, path.dirname(ghost)), { recursive: true });
    writeFileSync(path.join(archiveDir, ghost), "---\nid: 999999\n---\nghost\n");
    const git = (...args: string[]) => execFileSync("git", ["-C", archiveDir, "-c", "user.name=Test", "-c", "user.email=test@localhost", ...args], { stdio: "pipe" });
    git("add", ghost);
    git("commit", "-q", "-m", "a file no message explains");

    const { run, report } = await verifyJson(["--project", "archive-cli"]);
    expect(run.code).toBe(1);
    expect(report.projects[0]).toMatchObject({ missing_count: 0, orphan_count: 1, orphans: [ghost], ok: false });
    const text = await mailroom(["archive", "verify"]);
    expect(text.stdout).toContain(`    orphan ${ghost}`);
  });

  it("answers --help for the group and each command", async () => {
    for (const args of [["archive", "--help"], ["archive", "verify", "--help"], ["help", "archive", "rebuild"]]) {
      const run = await mailroom(args);
      expect(run.code, args.join(" ")).toBe(0);
      expect(run.stdout).toMatch(/^Usage: mailroom archive/);
    }
    const bare = await mailroom(["archive"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe("mailroom: 'archive' needs a command: verify, rebuild (see `mailroom archive --help`)\n");
  });

  it("an unknown project is one line on stderr, exit 1; a wrong option exit 2", async () => {
    const unknown = await mailroom(["archive", "verify", "--project", "/no/such/project"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toBe("mailroom archive verify: Project '/no/such/project' not found.\n");
    const usage = await mailroom(["archive", "rebuild", "--force"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe("mailroom archive rebuild: unknown option '--force' (see `mailroom archive rebuild --help`)\n");
  });
});
