import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, childEnv, closedPort, expectOk, expectOneLineFailure, inParallel, mailroom, type Run } from "../helpers/cli";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { callOk, connectMcp } from "../helpers/mcp-client";
import { tempGitRepo } from "../helpers/samples/guard";

// The `mailroom` commands an agent's machine runs next to its work: `guard` (the pre-commit /
// pre-push guard in a git working tree), `watch` (the event stream, followed live) and `config
// check <client>` (an MCP client's file against the running server). The real executable in a
// child process (bin/mailroom.mjs), talking over HTTP to a server started here on a test database
// (PGlite or TEST_DATABASE_URL). Exact output, exit codes (0 done, 1 failed, 2 wrong usage,
// 130 interrupted) and what the commands leave in the repository and the client's file.

const KEY = "/cli-agent-tools";
const SECRET = "cli-agent-tools-jwt-secret-0123456789abcdef";
/** Someone else's pre-commit hook, there before the guard. */
const ORIGINAL_HOOK = "#!/bin/sh\necho 'original pre-commit ran'\n";

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let agents: Record<string, TestAgent>;
let mcp: Client;
let work: string;
let downUrl: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "mailroom-cli-agent-tools-"));
  db = await openTestDatabase();
  server = await startTestServer(db);
  agents = (await projectWithAgents(db, KEY, ["GreenLake", "BlueDog"])).agents;
  mcp = await connectMcp(server.url);
  downUrl = `http://127.0.0.1:${await closedPort()}`;
});

afterAll(async () => {
  await mcp?.close();
  await server?.close();
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The environment of an agent's shell: server, project, agent and its registration token. */
function as(agent: string, extra: Record<string, string> = {}): Record<string, string> {
  return { MAILROOM_URL: server.url, MAILROOM_PROJECT: KEY, MAILROOM_AGENT: agent, MAILROOM_AGENT_TOKEN: agents[agent]!.token, ...extra };
}

describe("guard install, status, check and uninstall", () => {
  const HELD = "src/locked/api.ts";
  const PATTERN = "src/locked/*.ts";
  let repo: string;
  let hooks: string;

  beforeAll(async () => {
    repo = tempGitRepo("cli-guard");
    hooks = path.join(repo, ".git", "hooks");
    writeFileSync(path.join(hooks, "pre-commit"), ORIGINAL_HOOK, { mode: 0o755 });
    await callOk(mcp, "file_reservation_paths", {
      project_key: KEY,
      agent_name: "GreenLake",
      registration_token: agents.GreenLake!.token,
      paths: [PATTERN],
      exclusive: true,
      ttl_seconds: 3600,
    });
    // Staged: the held file and a free one.
    mkdirSync(path.join(repo, "src", "locked"), { recursive: true });
    writeFileSync(path.join(repo, HELD), "export {};\n");
    writeFileSync(path.join(repo, "README.md"), "# app\n");
    execFileSync("git", ["add", "--", HELD, "README.md"], { cwd: repo });
  });

  afterAll(() => {
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it("install keeps the existing pre-commit hook and names both hooks; status shows project, server and the kept hook", async () => {
    const install = await mailroom(["guard", "install", "--repo", repo, "--project", KEY], { MAILROOM_URL: server.url });
    expectOk(install, `installed the guard: ${path.join(hooks, "pre-commit")} and ${path.join(hooks, "pre-push")} (project ${KEY}, server ${server.url})\n`);
    expect(readFileSync(path.join(hooks, "pre-commit.orig"), "utf8")).toBe(ORIGINAL_HOOK);

    const [asJson, text] = await inParallel([() => mailroom(["guard", "status", "--repo", repo, "--json"]), () => mailroom(["guard", "status", "--repo", repo])]);
    expect(asJson.stderr).toBe("");
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toEqual({
      hooks_dir: hooks,
      installed: true,
      hooks: {
        "pre-commit": { runner: "mailroom", plugin: true, previous_hook: true },
        "pre-push": { runner: "mailroom", plugin: true, previous_hook: false },
      },
      project: KEY,
      server_url: server.url,
    });
    expectOk(
      text,
      `installed in ${hooks} (project ${KEY}, server ${server.url})\n` +
        "  pre-commit: Mailroom's chain runner, guard plugin, earlier hook kept as pre-commit.orig\n" +
        "  pre-push: Mailroom's chain runner, guard plugin\n",
    );
  });

  it("check refuses a staged file another agent holds exclusively (exit 1, the holder named); its holder passes; warn mode only warns", async () => {
    // Project and server come from the installed guard: no MAILROOM_URL or MAILROOM_PROJECT here.
    const blue = ["guard", "check", "--repo", repo, "--agent", "BlueDog", "--agent-token", agents.BlueDog!.token];
    const conflict = `Exclusive file_reservation conflicts detected\n- ${HELD} matches ${PATTERN} (holder: GreenLake)\n`;
    const [blocked, holder, warned, down] = await inParallel([
      // A stray AGENT_MAIL_URL (the hook's override) does not take the check elsewhere.
      () => mailroom(blue, { AGENT_MAIL_URL: downUrl }),
      () => mailroom(["guard", "check", "--repo", repo], { MAILROOM_AGENT: "GreenLake", MAILROOM_AGENT_TOKEN: agents.GreenLake!.token }),
      () => mailroom(blue, { AGENT_MAIL_GUARD_MODE: "warn" }),
      () => mailroom([...blue, "--url", downUrl]),
    ]);
    // Where the hook lets a commit through, the command that asks on purpose fails.
    expect(down.stdout).toBe("");
    expect(down.stderr).toBe(`mailroom guard: the Mailroom server at ${downUrl} could not be reached (ECONNREFUSED); pre-commit not checked against file reservations.\n`);
    expect(down.code).toBe(1);
    expectOk(holder, "");
    expect(blocked.stdout).toBe("");
    expect(blocked.stderr).toBe(`${conflict}mailroom guard: blocked. Coordinate with the holder, or set AGENT_MAIL_BYPASS=1 to override.\n`);
    expect(blocked.code).toBe(1);
    expect(warned.stdout).toBe("");
    expect(warned.stderr).toBe(`Warning: ${conflict}mailroom guard: warn mode (AGENT_MAIL_GUARD_MODE=warn): not blocking.\n`);
    expect(warned.code).toBe(0);
  });

  it("uninstall puts the original hook back byte for byte; a second one has nothing to remove; status then exits 1", async () => {
    const removed = await mailroom(["guard", "uninstall", "--repo", repo]);
    expectOk(removed, "removed the guard\n");
    expect(readFileSync(path.join(hooks, "pre-commit"), "utf8")).toBe(ORIGINAL_HOOK);
    expect(statSync(path.join(hooks, "pre-commit")).mode & 0o111).not.toBe(0);
    for (const gone of ["pre-commit.orig", "pre-push", "hooks.d"]) expect(existsSync(path.join(hooks, gone)), gone).toBe(false);

    const plain = path.join(work, "not-a-repo");
    mkdirSync(plain);
    const [again, status, notRepo, noProject, unknownProject] = await inParallel([
      () => mailroom(["guard", "uninstall", "--repo", repo]),
      () => mailroom(["guard", "status", "--repo", repo]),
      () => mailroom(["guard", "status", "--repo", plain]),
      () => mailroom(["guard", "install", "--repo", repo], { MAILROOM_URL: server.url }),
      () => mailroom(["guard", "install", "--repo", repo, "--project", "/no-such-project"], { MAILROOM_URL: server.url }),
    ]);
    // A mistyped project would block every commit: a server that answers must know it.
    expect(unknownProject.code).toBe(1);
    expect(unknownProject.stdout).toBe("");
    expect(unknownProject.stderr).toMatch(/^mailroom guard install: the server does not know project '\/no-such-project' \(--project\): .*not found.*\n$/);
    expectOk(again, "no guard was installed\n");
    expectOk(status, `not installed in ${hooks}\n  pre-commit: another program's hook\n  pre-push: no hook\n`, 1);
    expectOneLineFailure(notRepo, 1, `mailroom guard status: ${plain} is not a git working tree (--repo)`);
    expectOneLineFailure(noProject, 2, "mailroom guard install: missing --project <key> (or MAILROOM_PROJECT) (see `mailroom guard install --help`)");
    expect(existsSync(path.join(hooks, "hooks.d"))).toBe(false);
    expect(readFileSync(path.join(hooks, "pre-commit"), "utf8")).toBe(ORIGINAL_HOOK);
  });
});

/** A `mailroom` child left running (a watch): its output so far, and its end. */
interface Running {
  stdout: () => string;
  stderr: () => string;
  /** Waits (up to 30 s) until `ready` holds of the output so far. */
  until(ready: () => boolean): Promise<void>;
  interrupt(): void;
  done: Promise<Run>;
}

function start(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: tmpdir(), env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const done = new Promise<Run>((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    async until(ready) {
      const deadline = Date.now() + 30_000;
      while (!ready()) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) throw new Error(`mailroom ${args.join(" ")} never got there; stdout: ${stdout}; stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    interrupt: () => child.kill("SIGINT"),
    done,
  };
}

describe("watch", () => {
  const FOLLOWING = `mailroom watch: following BlueDog's mail in ${KEY}\n`;

  it("--json --count 3 prints the message, its read and its ack as NDJSON and exits 0; a text watch shows them as lines until Ctrl-C (exit 130)", async () => {
    const asJson = start(["watch", "--json", "--count", "3"], as("BlueDog"));
    const text = start(["watch"], as("BlueDog"));
    try {
      // The line on stderr comes once the server has subscribed the stream: nothing is missed after it.
      await Promise.all([asJson.until(() => asJson.stderr() === FOLLOWING), text.until(() => text.stderr() === FOLLOWING)]);
      const sent = await callOk<{ deliveries: { payload: { id: number } }[] }>(mcp, "send_message", {
        project_key: KEY,
        sender_name: "GreenLake",
        sender_token: agents.GreenLake!.token,
        to: ["BlueDog"],
        subject: "Watch this",
        body_md: "body",
        importance: "high",
        ack_required: true,
      });
      const id = sent.deliveries[0]!.payload.id;
      const identity = { project_key: KEY, agent_name: "BlueDog", registration_token: agents.BlueDog!.token, message_id: id };
      await callOk(mcp, "mark_message_read", identity);
      await callOk(mcp, "acknowledge_message", identity);

      const run = await asJson.done;
      expect(run.stderr).toBe(FOLLOWING);
      expect(run.code).toBe(0);
      expect(run.stdout.endsWith("\n")).toBe(true);
      const message = await db.prisma.message.findUniqueOrThrow({ where: { id } });
      const reader = { message_id: id, agent_id: agents.BlueDog!.id, agent: "BlueDog" };
      expect(run.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as unknown)).toEqual([
        {
          event: "message",
          data: {
            id,
            thread_id: null,
            topic: null,
            subject: "Watch this",
            from: "GreenLake",
            importance: "high",
            ack_required: true,
            created_ts: message.createdTs.toISOString().replace("Z", "+00:00"),
            kind: "to",
          },
        },
        { event: "read", data: reader },
        { event: "ack", data: reader },
      ]);

      await text.until(() => text.stdout().split("\n").length > 3);
      text.interrupt();
      const stopped = await text.done;
      const time = "\\d\\d:\\d\\d:\\d\\d";
      expect(stopped.stdout).toMatch(
        new RegExp(`^${time}  mail {9}#${id} from GreenLake: Watch this  \\[high, ack requested\\]\n${time}  read {9}#${id} by BlueDog\n${time}  ack {10}#${id} by BlueDog\n$`),
      );
      expect(stopped.stderr).toBe(`${FOLLOWING}mailroom watch: interrupted\n`);
      expect(stopped.code).toBe(130);
    } finally {
      for (const running of [asJson, text]) running.interrupt();
    }
  });

  it("a wrong agent token and a server that is down fail in one line (exit 1); --count 0 is a usage error (exit 2)", async () => {
    const [wrong, down, zero] = await inParallel([
      () => mailroom(["watch"], as("BlueDog", { MAILROOM_AGENT_TOKEN: "not-the-token" })),
      () => mailroom(["watch"], as("BlueDog", { MAILROOM_URL: downUrl })),
      () => mailroom(["watch", "--count", "0"], as("BlueDog")),
    ]);
    expectOneLineFailure(wrong, 1, "mailroom watch: AUTHENTICATION_REQUIRED: Invalid agent_token for agent 'BlueDog'.");
    expectOneLineFailure(down, 1, `mailroom watch: cannot reach Mailroom at ${downUrl} (connection refused): start it with \`mailroom serve\` or set MAILROOM_URL`);
    expectOneLineFailure(zero, 2, "mailroom watch: --count must be a whole number of at least 1 (see `mailroom watch --help`)");
  });
});

describe("config check <client>", () => {
  let tokenServer: TestServer;
  let tools: number;
  const REQUIRED = "health_check, register_agent, send_message, fetch_inbox";

  beforeAll(async () => {
    tokenServer = await startTestServer(db, { auth: { mode: "tokens", secret: SECRET } });
    tools = (await mcp.listTools()).tools.length;
  });
  afterAll(async () => {
    await tokenServer?.close();
  });

  const mint = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("10m").sign(new TextEncoder().encode(SECRET));

  it("a Claude Code file written by `config claude-code --write` for a local-mode server passes every check, in text and --json", async () => {
    const file = path.join(work, "claude", ".mcp.json");
    const url = `${server.url}/api/mcp`;
    const written = await mailroom(["config", "claude-code", "--write", "--file", file], { MAILROOM_URL: server.url });
    expectOk(written, `wrote the mailroom entry to ${file}\n`);

    const down = path.join(work, "down.json");
    writeFileSync(down, JSON.stringify({ mcpServers: { mailroom: { type: "http", url: `${downUrl}/api/mcp` } } }));
    const missing = path.join(work, "nowhere", ".mcp.json");
    const [text, asJson, absent, unreachable, unknown] = await inParallel([
      () => mailroom(["config", "check", "claude-code", "--file", file]),
      () => mailroom(["config", "check", "claude-code", "--file", file, "--json"]),
      () => mailroom(["config", "check", "claude-code", "--file", missing]),
      () => mailroom(["config", "check", "claude-code", "--file", down]),
      () => mailroom(["config", "check", "nope"]),
    ]);
    expectOk(
      text,
      `ok    file       ${file}: 'mailroom' at ${url}\n` +
        `ok    reachable  Mailroom answers at ${url}\n` +
        "ok    token      the server accepts calls without a token (local mode)\n" +
        `ok    tools      ${tools} tools listed, ${REQUIRED} among them\n` +
        "Claude Code is set up for Mailroom.\n",
    );
    expect(asJson.stderr).toBe("");
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toEqual({
      client: "claude-code",
      file,
      url,
      ok: true,
      checks: [
        { name: "file", status: "ok", detail: `${file}: 'mailroom' at ${url}` },
        { name: "reachable", status: "ok", detail: `Mailroom answers at ${url}` },
        { name: "token", status: "ok", detail: "the server accepts calls without a token (local mode)" },
        { name: "tools", status: "ok", detail: `${tools} tools listed, ${REQUIRED} among them` },
      ],
    });
    expectOk(
      absent,
      `FAIL  file       ${missing} does not exist: run \`mailroom config claude-code --write\`\n` +
        "skip  reachable  no entry to check\n" +
        "skip  token      no entry to check\n" +
        "skip  tools      no entry to check\n" +
        "Claude Code is not set up correctly.\n",
      1,
    );
    expectOk(
      unreachable,
      `ok    file       ${down}: 'mailroom' at ${downUrl}/api/mcp\n` +
        `FAIL  reachable  cannot reach Mailroom at ${downUrl} (connection refused): start it with \`mailroom serve\` or set MAILROOM_URL\n` +
        "skip  token      the server could not be reached\n" +
        "skip  tools      the server could not be reached\n" +
        "Claude Code is not set up correctly.\n",
      1,
    );
    expectOneLineFailure(unknown, 2, "mailroom config check: unknown client 'nope'; one of claude-code, codex, cursor, gemini, vscode, windsurf, json (see `mailroom config check --help`)");
  });

  it("watch on a server that requires tokens: a token bound to the agent is the proof, and MAILROOM_AGENT_TOKEN is not put in the query", async () => {
    const bound = await mint({ sub: "blue-watch", roles: ["writer"], agent: { project: KEY.slice(1), name: "BlueDog" } });
    const watch = start(["watch", "--json", "--count", "1"], as("BlueDog", { MAILROOM_URL: tokenServer.url, MAILROOM_TOKEN: bound }));
    try {
      await watch.until(() => watch.stderr() === "mailroom watch: following BlueDog's mail in /cli-agent-tools\n");
      await callOk(mcp, "send_message", { project_key: KEY, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: "Over tokens", body_md: "b" });
      const run = await watch.done;
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ event: "message", data: { subject: "Over tokens", from: "GreenLake" } });
    } finally {
      watch.interrupt();
    }
  });

  it("a Codex file naming MAILROOM_TOKEN against a server that requires tokens: accepted with a valid token, refused (exit 1) with a bad or no token", async () => {
    const file = path.join(work, "codex", "config.toml");
    const url = `${tokenServer.url}/api/mcp`;
    const token = await mint({ sub: "config-check", roles: ["writer"] });
    // What this token may call is what the server lists to it.
    const client = await connectMcp(tokenServer.url, "/api/mcp", { authorization: `Bearer ${token}` });
    const listed = (await client.listTools()).tools.length;
    await client.close();
    const written = await mailroom(["config", "codex", "--write", "--file", file], { MAILROOM_URL: tokenServer.url, MAILROOM_TOKEN: token });
    expectOk(written, `wrote the mailroom entry to ${file}\n`);
    expect(readFileSync(file, "utf8")).toBe(`[mcp_servers.mailroom]\nurl = "${url}"\nbearer_token_env_var = "MAILROOM_TOKEN"\n`);

    const check = ["config", "check", "codex", "--file", file];
    const [valid, bad, unset] = await inParallel([() => mailroom(check, { MAILROOM_TOKEN: token }), () => mailroom(check, { MAILROOM_TOKEN: "not-a-jwt" }), () => mailroom(check)]);
    const refused = `the server at ${tokenServer.url} refused the credentials (401): set MAILROOM_TOKEN to a valid token`;
    expectOk(
      valid,
      `ok    file       ${file}: 'mailroom' at ${url} with an Authorization header\n` +
        `ok    reachable  Mailroom answers at ${url}\n` +
        "ok    token      the server accepts the token\n" +
        `ok    tools      ${listed} tools listed, ${REQUIRED} among them\n` +
        "Codex CLI is set up for Mailroom.\n",
    );
    expectOk(
      bad,
      `ok    file       ${file}: 'mailroom' at ${url} with an Authorization header\n` +
        `ok    reachable  Mailroom answers at ${url}\n` +
        `FAIL  token      ${refused}\n` +
        "skip  tools      the token was refused\n" +
        "Codex CLI is not set up correctly.\n",
      1,
    );
    expectOk(
      unset,
      `ok    file       ${file}: 'mailroom' at ${url}\n` +
        `ok    reachable  Mailroom answers at ${url}\n` +
        `FAIL  token      ${refused} (not set here: MAILROOM_TOKEN)\n` +
        "skip  tools      the token was refused\n" +
        "Codex CLI is not set up correctly.\n",
      1,
    );
    expect(valid.stdout + bad.stdout + unset.stdout).not.toContain(token);
  });
});
