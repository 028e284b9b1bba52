import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invoke } from "@/server/operations/invoke";
import { sendMessage } from "@/server/services/messages/send";
import { STALE_CANDIDATES_MAX, releaseStale } from "@/server/services/reservations/expire";
import { fileReservationPaths, fileReservationsResource } from "@/server/services/reservations/operations";
import { CALL_GIT_MAX, CALL_WALKS_MAX, WALK_ENTRIES_MAX, activityProbes, forgetWorkspaceActivity } from "@/server/services/reservations/staleness";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// Staleness (§4.4) against real directories: what the file walk reaches, what happens when it
// cannot finish, what git alone shows, and how much work one call may do.

const SETTINGS = { inactivitySeconds: 1800, activityGraceSeconds: 900, enforcementEnabled: true };
const LONG_AGO = new Date(Date.now() - 3 * 3600_000);
const INACTIVE = ["agent_inactive>1800s", "no_recent_mail_activity>900s"];

let db: Awaited<ReturnType<typeof openTestDatabase>>;
const tempDirs: string[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
});

afterAll(async () => {
  await db?.close();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mailroom-stale-"));
  tempDirs.push(dir);
  return dir;
}

/** Writes `rel` under `dir` (parents made), with its mtime set to `mtime` when given. */
function file(dir: string, rel: string, mtime?: Date): void {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), "x\n");
  if (mtime) utimesSync(path.join(dir, rel), mtime, mtime);
}

/** git in `dir`, committing at `date` (author and committer). */
function git(dir: string, date: Date, ...args: string[]): void {
  execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
    env: { ...process.env, GIT_AUTHOR_DATE: date.toISOString(), GIT_COMMITTER_DATE: date.toISOString(), GIT_CONFIG_NOSYSTEM: "1", HOME: dir },
    stdio: "ignore",
  });
}

function repo(dir: string, date: Date): void {
  git(dir, date, "init", "-q");
  git(dir, date, "add", ".");
  git(dir, date, "commit", "-q", "-m", "init");
}

let projects = 0;

async function holderIn(humanKey = `/stale/p${++projects}`) {
  const { ctx, project, agents } = await projectWithAgents(db, humanKey, ["BlueLake", "GreenCastle"]);
  const holder = agents.BlueLake! as TestAgent;
  const other = agents.GreenCastle! as TestAgent;
  const reserve = (paths: string[]) =>
    invoke(fileReservationPaths, ctx, { project_key: humanKey, agent_name: holder.name, registration_token: holder.token, paths });
  const list = () => invoke(fileReservationsResource, ctx, { project_key: humanKey, active_only: true });
  const inactive = () => db.prisma.agent.update({ where: { id: holder.id }, data: { lastActiveTs: LONG_AGO } });
  const live = () => db.prisma.fileReservation.count({ where: { projectId: project.id, releasedTs: null } });
  const sweep = () => releaseStale(db.prisma, { id: project.id, humanKey }, SETTINGS, new Date());
  return { ctx, project, holder, other, humanKey, reserve, list, inactive, live, sweep };
}

const probes = () => ({ ...activityProbes });

describe("the file walk", () => {
  it("reaches a deep file under src/ past thousands of files in node_modules", async () => {
    const dir = tempDir();
    for (let i = 0; i < 60; i++) mkdirSync(path.join(dir, "node_modules", `pkg${i}`), { recursive: true });
    for (let i = 0; i < 6000; i++) writeFileSync(path.join(dir, "node_modules", `pkg${i % 60}`, `f${i}.js`), "");
    file(dir, "src/a/b/c/d/e/deep.py");
    const { reserve, inactive, list } = await holderIn(dir);
    await reserve(["src/**", "**/deep.py"]);
    await inactive();
    expect((await list()).map((row) => [row.path_pattern, row.stale, row.stale_reasons])).toEqual([
      ["src/**", false, [...INACTIVE, "filesystem_activity_recent"]],
      ["**/deep.py", false, [...INACTIVE, "filesystem_activity_recent"]],
    ]);
  });

  it("a walk cut short at its bound leaves activity unknown and the reservation kept; a walk below another prefix is not cut", async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, "gen"));
    // Fresh files that gen/*.py does not match: only a finished walk could say "unmatched".
    for (let i = 0; i <= WALK_ENTRIES_MAX; i++) writeFileSync(path.join(dir, "gen", `f${i}.txt`), "");
    file(dir, "src/app.py");
    const { reserve, inactive, list, live } = await holderIn(dir);
    await reserve(["gen/*.py", "src/**"]);
    await inactive();
    expect((await list()).map((row) => [row.path_pattern, row.stale, row.stale_reasons])).toEqual([
      ["gen/*.py", false, [...INACTIVE, "filesystem_activity_unknown"]],
      ["src/**", false, [...INACTIVE, "filesystem_activity_recent"]],
    ]);
    expect(await live()).toBe(2);
  });

  it("never walks into node_modules (or .git, or the other heavy directories)", async () => {
    const dir = tempDir();
    file(dir, "node_modules/pkg/index.js");
    file(dir, "src/old.js", LONG_AGO);
    const { reserve, inactive, list } = await holderIn(dir);
    await reserve(["*.js"]);
    await inactive();
    // Only src/old.js counts: the reservation is stale and released.
    expect(await list()).toEqual([]);
  });

  it("does not follow a symlinked prefix out of the project", async () => {
    const outside = tempDir();
    file(outside, "fresh.py");
    const dir = tempDir();
    symlinkSync(outside, path.join(dir, "link"));
    const { reserve, inactive, list } = await holderIn(dir);
    await reserve(["link/**"]);
    await inactive();
    expect(await list()).toEqual([]);
  });

  it("shares one walk between patterns with the same literal prefix, and between calls for a few seconds", async () => {
    const dir = tempDir();
    file(dir, "a/x.py");
    const { reserve, inactive, list } = await holderIn(dir);
    await reserve(["a/**", "a/*.py"]);
    await inactive();
    const before = probes();
    // The resource asks twice (releasing stale ones, then listing): one walk of a/ in all.
    expect((await list()).map((row) => row.stale_reasons)).toEqual([
      [...INACTIVE, "filesystem_activity_recent"],
      [...INACTIVE, "filesystem_activity_recent"],
    ]);
    expect(probes().walks - before.walks).toBe(1);
  });
});

describe("git", () => {
  it("a recent commit touching a matching file keeps the reservation though the file's mtime is old", async () => {
    const dir = tempDir();
    file(dir, "src/main.py");
    repo(dir, new Date());
    utimesSync(path.join(dir, "src", "main.py"), LONG_AGO, LONG_AGO);
    const { reserve, inactive, list } = await holderIn(dir);
    await reserve(["src/*.py"]);
    await inactive();
    expect(await list()).toEqual([
      expect.objectContaining({ stale: false, stale_reasons: [...INACTIVE, "no_recent_filesystem_activity>900s", "git_activity_recent"] }),
    ]);
  });

  it("asks git with the pattern as a glob: a file deleted in a recent commit still counts", async () => {
    const dir = tempDir();
    file(dir, "keep.txt", LONG_AGO);
    file(dir, "lib/deep/gone.ts");
    repo(dir, LONG_AGO);
    git(dir, new Date(), "rm", "-q", "lib/deep/gone.ts");
    git(dir, new Date(), "commit", "-q", "-m", "remove");
    const { reserve, inactive, list } = await holderIn(dir);
    // lib/* covers lib/deep and so what was inside it (git is also asked for lib/*/**).
    await reserve(["lib/**/*.ts", "lib/*", "*.md"]);
    await inactive();
    const kept = { stale: false, stale_reasons: [...INACTIVE, "path_pattern_unmatched", "git_activity_recent"] };
    expect(await list()).toEqual([
      expect.objectContaining({ path_pattern: "lib/**/*.ts", ...kept }),
      expect.objectContaining({ path_pattern: "lib/*", ...kept }),
    ]);
  });
});

describe("work per call", () => {
  it("files and git are not looked at while the holder is active or has recent mail", async () => {
    const dir = tempDir();
    file(dir, "src/main.py", LONG_AGO);
    repo(dir, LONG_AGO);
    const { reserve, inactive, list, ctx, holder, other, humanKey } = await holderIn(dir);
    await reserve(["src/**"]);
    const before = probes();
    expect(await list()).toEqual([expect.objectContaining({ stale: false, stale_reasons: ["agent_recently_active", "no_recent_mail_activity>900s"] })]);
    await invoke(sendMessage, ctx, { project_key: humanKey, sender_name: holder.name, sender_token: holder.token, to: [other.name], subject: "hi", body_md: "x" });
    await inactive();
    expect(await list()).toEqual([expect.objectContaining({ stale: false, stale_reasons: ["agent_inactive>1800s", "mail_activity_recent"] })]);
    expect(probes()).toEqual(before);
  });

  it(`a call starts at most ${CALL_WALKS_MAX} walks; the rows past them are unknown until a later call`, async () => {
    const dir = tempDir();
    const count = CALL_WALKS_MAX + 2;
    for (let i = 0; i < count; i++) file(dir, `d${i}/old.py`, LONG_AGO);
    const { reserve, inactive, sweep } = await holderIn(dir);
    await reserve(Array.from({ length: count }, (_, i) => `d${i}/**`));
    await inactive();
    const before = probes();
    expect(await sweep()).toBe(CALL_WALKS_MAX);
    expect(probes().walks - before.walks).toBe(CALL_WALKS_MAX);
    expect(await sweep()).toBe(2);
  });

  it(`a call starts at most ${CALL_GIT_MAX} git log processes`, async () => {
    const dir = tempDir();
    file(dir, "src/old.py", LONG_AGO);
    repo(dir, LONG_AGO);
    const count = CALL_GIT_MAX + 3;
    const { reserve, inactive, sweep } = await holderIn(dir);
    // One literal prefix (src), so one walk; each pattern needs its own git log.
    await reserve(Array.from({ length: count }, (_, i) => `src/n${i}*.py`));
    await inactive();
    forgetWorkspaceActivity();
    const before = probes();
    expect(await sweep()).toBe(CALL_GIT_MAX);
    // Plus one `git rev-parse` that finds the work tree.
    expect(probes().gitCalls - before.gitCalls).toBe(CALL_GIT_MAX + 1);
    expect(await sweep()).toBe(3);
  });

  it(`releaseStale examines at most ${STALE_CANDIDATES_MAX} candidates per call, oldest first`, async () => {
    const { project, reserve, inactive, live, sweep } = await holderIn();
    const { granted } = await reserve(Array.from({ length: STALE_CANDIDATES_MAX + 5 }, (_, i) => `n${i}/**`));
    await inactive();
    expect(await sweep()).toBe(STALE_CANDIDATES_MAX);
    const left = await db.prisma.fileReservation.findMany({ where: { projectId: project.id, releasedTs: null }, select: { id: true }, orderBy: { id: "asc" } });
    expect(left.map((row) => row.id)).toEqual(granted.slice(STALE_CANDIDATES_MAX).map((row) => row.id));
    expect(await sweep()).toBe(5);
    expect(await live()).toBe(0);
  });
});
