import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";
import { tempGitRepo } from "../helpers/samples/guard";

// The guard end to end: a real git repository, the hook installed through the tool, real commits
// and pushes whose hook asks the test server (over HTTP) about another agent's exclusive reservation.

const ORIGINAL_HOOK = "#!/bin/sh\necho 'original pre-commit ran'\n";
/** What git shows of the hooks when nothing was in the way (git sends hook output to stderr). */
const QUIET = "original pre-commit ran\n";

let database: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let mcp: Client;
let repo: string;
let remote: string;
let home: string;
let agents: Record<string, TestAgent>;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs git in the repository with only the variables given (plus PATH and a private HOME). Async
 * on purpose: the hook calls the test server, which lives in this very process.
 */
function git(args: string[], env: Record<string, string> = {}, cwd = repo): Promise<Run> {
  const base: NodeJS.ProcessEnv = { NODE_ENV: "test", PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, GIT_CONFIG_NOSYSTEM: "1", LANG: "C" };
  return new Promise((resolve) => {
    execFile("git", args, { cwd, env: { ...base, ...env }, encoding: "utf8" }, (error, stdout: string, stderr: string) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function mustGit(args: string[], env: Record<string, string> = {}): Promise<string> {
  const run = await git(args, env);
  if (run.code !== 0) throw new Error(`git ${args.join(" ")} failed: ${run.stderr}`);
  return run.stdout;
}

/** The committing environment of an agent (the server from AGENT_MAIL_URL, its token). */
function as(agent: TestAgent, extra: Record<string, string> = {}): Record<string, string> {
  return { AGENT_NAME: agent.name, AGENT_MAIL_TOKEN: agent.token, AGENT_MAIL_URL: server.url, ...extra };
}

async function stage(file: string, content = `${Math.random()}\n`): Promise<void> {
  mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
  writeFileSync(path.join(repo, file), content);
  await mustGit(["add", "--", file]);
}

const head = async () => (await git(["rev-parse", "--verify", "-q", "HEAD"])).stdout.trim();

/** A port nothing listens on: bound and released again. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  database = await openTestDatabase();
  home = mkdtempSync(path.join(os.tmpdir(), "mailroom-guard-home-"));
  repo = tempGitRepo("guard");
  remote = mkdtempSync(path.join(os.tmpdir(), "mailroom-guard-remote-"));
  await git(["init", "-q", "--bare", remote], {}, remote);
  await mustGit(["config", "user.email", "agents@example.test"]);
  await mustGit(["config", "user.name", "Agents"]);
  await mustGit(["remote", "add", "origin", remote]);
  writeFileSync(path.join(repo, ".git", "hooks", "pre-commit"), ORIGINAL_HOOK, { mode: 0o755 });
  ({ agents } = await projectWithAgents(database, repo, ["GreenLake", "BlueDog"]));
  server = await startTestServer(database);
  mcp = await connectMcp(server.url);
  await callOk(mcp, "file_reservation_paths", {
    project_key: repo,
    agent_name: "GreenLake",
    registration_token: agents.GreenLake!.token,
    paths: ["src/locked.ts", "src/reserved-destination.ts", "tool://deploy"],
    exclusive: true,
    ttl_seconds: 3600,
  });
  await callOk(mcp, "file_reservation_paths", {
    project_key: repo,
    agent_name: "GreenLake",
    registration_token: agents.GreenLake!.token,
    paths: ["docs/*.md"],
    exclusive: false,
    ttl_seconds: 3600,
  });
});

afterAll(async () => {
  await mcp?.close();
  await server?.close();
  await database?.close();
  for (const directory of [repo, remote, home]) if (directory) rmSync(directory, { recursive: true, force: true });
});

describe("install_precommit_guard", () => {
  it("installs chain runners for pre-commit and pre-push, keeping the existing hook as pre-commit.orig", async () => {
    const result = await callOk<{ hook: string; pre_push_hook: string }>(mcp, "install_precommit_guard", { project_key: repo, code_repo_path: repo });
    const hooks = path.join(repo, ".git", "hooks");
    expect(result).toEqual({ hook: path.join(hooks, "pre-commit"), pre_push_hook: path.join(hooks, "pre-push") });
    expect(readFileSync(path.join(hooks, "pre-commit.orig"), "utf8")).toBe(ORIGINAL_HOOK);
    expect(readFileSync(path.join(hooks, "pre-commit"), "utf8")).toContain("mailroom chain-runner (pre-commit)");
    for (const file of ["pre-commit", "pre-push", "hooks.d/pre-commit/50-mailroom", "hooks.d/pre-push/50-mailroom"]) {
      accessSync(path.join(hooks, file), constants.X_OK);
    }
    const plugin = readFileSync(path.join(hooks, "hooks.d", "pre-commit", "50-mailroom"), "utf8");
    expect(plugin).toContain(`MAILROOM_GUARD_PROJECT='${repo}'`);
  });

  it("is idempotent: a second install keeps the original hook where it is", async () => {
    await callOk(mcp, "install_precommit_guard", { project_key: repo, code_repo_path: repo });
    expect(readFileSync(path.join(repo, ".git", "hooks", "pre-commit.orig"), "utf8")).toBe(ORIGINAL_HOOK);
  });

  it("refuses a directory that is not a git working tree, and relative paths", async () => {
    const plain = mkdtempSync(path.join(os.tmpdir(), "mailroom-guard-plain-"));
    try {
      const error = await callError(mcp, "install_precommit_guard", { project_key: repo, code_repo_path: plain });
      expect(error).toMatch(/^INVALID_ARGUMENT: code_repo_path .* is not a git working tree/);
      expect(existsSync(path.join(plain, "hooks.d"))).toBe(false);
      expect(await callError(mcp, "install_precommit_guard", { project_key: repo, code_repo_path: path.join(repo, ".git") })).toMatch(/not a git working tree/);
      expect(await callError(mcp, "install_precommit_guard", { project_key: repo, code_repo_path: "relative/repo" })).toMatch(/code_repo_path.*absolute path/);
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
  });
});

describe("install_precommit_guard next to hooks it cannot keep", () => {
  it("refuses when a foreign hook and its .orig both exist, writing nothing", async () => {
    const other = tempGitRepo("guard-orig");
    try {
      const hooks = path.join(other, ".git", "hooks");
      writeFileSync(path.join(hooks, "pre-push"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      writeFileSync(path.join(hooks, "pre-push.orig"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      const error = await callError(mcp, "install_precommit_guard", { project_key: repo, code_repo_path: other });
      expect(error).toBe("CONFLICT: The repository already has a pre-push hook and a pre-push.orig; move one of them away first.");
      for (const gone of ["pre-commit", "hooks.d"]) expect(existsSync(path.join(hooks, gone))).toBe(false);
      expect(await callOk(mcp, "uninstall_precommit_guard", { code_repo_path: other })).toEqual({ removed: false });
      expect(readFileSync(path.join(hooks, "pre-push"), "utf8")).toBe("#!/bin/sh\nexit 0\n");
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe("the pre-commit hook", () => {
  it("refuses a commit touching another agent's exclusively reserved file, naming the holder", async () => {
    const before = await head();
    await stage("src/locked.ts");
    const run = await git(["commit", "-m", "touch locked"], as(agents.BlueDog!));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Exclusive file_reservation conflicts detected");
    expect(run.stderr).toContain("- src/locked.ts matches src/locked.ts (holder: GreenLake)");
    expect(run.stderr).toContain("AGENT_MAIL_BYPASS=1");
    expect(await head()).toBe(before);
    await mustGit(["reset", "-q"]);
  });

  it("lets a commit of a free file through, and still runs the hook that was there before", async () => {
    await stage("src/free.ts");
    const run = await git(["commit", "-m", "free file"], as(agents.BlueDog!));
    expect(run.stderr).toBe(QUIET);
    expect(run.code).toBe(0);
  });

  it("checks both names of a rename: moving the reserved file away is refused", async () => {
    await mustGit(["reset", "-q"]);
    writeFileSync(path.join(repo, "src", "locked.ts"), "v1\n");
    await mustGit(["add", "src/locked.ts"]);
    expect((await git(["commit", "-m", "holder adds it"], as(agents.GreenLake!))).code).toBe(0);
    await mustGit(["mv", "src/locked.ts", "src/moved.ts"]);
    const run = await git(["commit", "-m", "rename"], as(agents.BlueDog!));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("- src/locked.ts matches src/locked.ts (holder: GreenLake)");
    await mustGit(["mv", "src/moved.ts", "src/locked.ts"]);
  });

  it("checks both names of a rename: moving a file onto a reserved name is refused", async () => {
    await mustGit(["mv", "src/free.ts", "src/reserved-destination.ts"]);
    const run = await git(["commit", "-m", "rename onto"], as(agents.BlueDog!));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("- src/reserved-destination.ts matches src/reserved-destination.ts (holder: GreenLake)");
    expect(run.stderr).not.toContain("src/free.ts matches");
    await mustGit(["mv", "src/reserved-destination.ts", "src/free.ts"]);
  });

  it("lets the holder itself commit the file, and shared reservations never block", async () => {
    await stage("src/locked.ts", "v2\n");
    expect((await git(["commit", "-m", "holder edits"], as(agents.GreenLake!))).code).toBe(0);
    await stage("docs/guide.md");
    const run = await git(["commit", "-m", "docs"], as(agents.BlueDog!));
    expect(run.stderr).toBe(QUIET);
    expect(run.code).toBe(0);
  });

  it("AGENT_MAIL_BYPASS=1 lets the commit through with a notice", async () => {
    await stage("src/locked.ts");
    const run = await git(["commit", "-m", "bypass"], as(agents.BlueDog!, { AGENT_MAIL_BYPASS: "1" }));
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("bypassed (AGENT_MAIL_BYPASS=1)");
  });

  it("warn mode prints the conflicts and lets the commit through", async () => {
    await stage("src/locked.ts");
    const run = await git(["commit", "-m", "warn"], as(agents.BlueDog!, { AGENT_MAIL_GUARD_MODE: "warn" }));
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("Warning: Exclusive file_reservation conflicts detected");
    expect(run.stderr).toContain("- src/locked.ts matches src/locked.ts (holder: GreenLake)");
  });

  it("requires AGENT_NAME", async () => {
    await stage("src/free.ts");
    const run = await git(["commit", "-m", "anonymous"], { AGENT_MAIL_URL: server.url });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("AGENT_NAME environment variable is required.");
  });

  it("refuses a commit when the server rejects the agent's credentials, saying why", async () => {
    const run = await git(["commit", "-m", "wrong token"], as(agents.BlueDog!, { AGENT_MAIL_TOKEN: "not-the-token" }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/the reservation check failed: .*registration_token/);
  });

  it("lets the commit through with one clear line when the server cannot be reached", async () => {
    await stage("src/locked.ts");
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await git(["commit", "-m", "offline"], as(agents.BlueDog!, { AGENT_MAIL_URL: url }));
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      `mailroom guard: the Mailroom server at ${url} could not be reached (ECONNREFUSED); pre-commit not checked against file reservations.\n${QUIET}`,
    );
  });
});

describe("the pre-push hook", () => {
  it("refuses to push commits that touch another agent's exclusive reservation, and bypass lets them through", async () => {
    const run = await git(["push", "-q", "origin", "HEAD:refs/heads/main"], as(agents.BlueDog!));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("- src/locked.ts matches src/locked.ts (holder: GreenLake)");
    expect((await git(["ls-remote", remote], {}, remote)).stdout).toBe("");
    const bypass = await git(["push", "-q", "origin", "HEAD:refs/heads/main"], as(agents.BlueDog!, { AGENT_MAIL_BYPASS: "1" }));
    expect(bypass.code).toBe(0);
  });

  it("checks only the commits the remote does not have", async () => {
    await stage("src/another.ts");
    expect((await git(["commit", "-m", "another"], as(agents.BlueDog!))).code).toBe(0);
    const run = await git(["push", "-q", "origin", "HEAD:refs/heads/main"], as(agents.BlueDog!));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });
});

describe("uninstall_precommit_guard", () => {
  it("removes Mailroom's files and puts the original hook back", async () => {
    const hooks = path.join(repo, ".git", "hooks");
    expect(await callOk(mcp, "uninstall_precommit_guard", { code_repo_path: repo })).toEqual({ removed: true });
    expect(readFileSync(path.join(hooks, "pre-commit"), "utf8")).toBe(ORIGINAL_HOOK);
    for (const gone of ["pre-commit.orig", "pre-push", "hooks.d"]) expect(existsSync(path.join(hooks, gone))).toBe(false);
    expect(await callOk(mcp, "uninstall_precommit_guard", { code_repo_path: repo })).toEqual({ removed: false });
    await stage("src/locked.ts");
    expect((await git(["commit", "-m", "unguarded"], as(agents.BlueDog!))).code).toBe(0);
  });

  it("follows core.hooksPath, keeps other plugins' chain runner, and leaves a repository without Mailroom's files as it was", async () => {
    await mustGit(["config", "core.hooksPath", "custom-hooks"]);
    try {
      const result = await callOk<{ hook: string }>(mcp, "install_precommit_guard", { project_key: repo, code_repo_path: repo });
      expect(result.hook).toBe(path.join(repo, "custom-hooks", "pre-commit"));
      await stage("src/locked.ts");
      expect((await git(["commit", "-m", "hooksPath"], as(agents.BlueDog!))).code).toBe(1);
      await mustGit(["reset", "-q"]);
      const other = path.join(repo, "custom-hooks", "hooks.d", "pre-commit", "10-other");
      writeFileSync(other, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      expect(await callOk(mcp, "uninstall_precommit_guard", { code_repo_path: repo })).toEqual({ removed: true });
      expect(readFileSync(path.join(repo, "custom-hooks", "pre-commit"), "utf8")).toContain("mailroom chain-runner (pre-commit)");
      expect(existsSync(path.join(repo, "custom-hooks", "pre-push"))).toBe(false);
      expect(existsSync(path.join(repo, "custom-hooks", "hooks.d", "mailroom-guard.cjs"))).toBe(false);
    } finally {
      await mustGit(["config", "--unset", "core.hooksPath"]);
    }
  });
});
