import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult, TextResourceContents } from "@modelcontextprotocol/sdk/types.js";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandFailure } from "@/cli/command";
import { mergeToml } from "@/cli/commands/config";
import { BIN, closedPort, expectOneLineFailure, inParallel, mailroom, NO_STACK } from "../helpers/cli";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { connectMcp } from "../helpers/mcp-client";

// The `mailroom` client commands (send, inbox, read, ack, hook, mcp-stdio, config <client>) as an
// agent's shell, a client's prompt hook or an MCP client sees them: the real executable in a child
// process (bin/mailroom.mjs), talking over HTTP to a server started here on a test database (PGlite
// or TEST_DATABASE_URL). Exact output, exit codes (0 done, 1 failed, 2 wrong usage), failures as
// one line without a stack, and what the commands leave in the database and in client files.

const KEY = "/cli-client";
const SLUG = "cli-client";
const SECRET = "cli-client-jwt-secret-0123456789abcdef0123";
/** A bearer token value that must never be printed or written by `config`. */
const LEAKY_TOKEN = "tok-NEVER-WRITE-ME-5f3a9c";

/** `mailroom mcp-stdio` started by the MCP SDK's stdio client, as an MCP client would start it. */
function bridge(url: string, env: Record<string, string> = {}, stderr: string[] = []): StdioClientTransport {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp-stdio"], env: { MAILROOM_URL: url, ...env }, cwd: tmpdir(), stderr: "pipe" });
  transport.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
  return transport;
}

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let agents: Record<string, TestAgent>;
let work: string;
let downUrl: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "mailroom-cli-client-"));
  db = await openTestDatabase();
  server = await startTestServer(db);
  agents = (await projectWithAgents(db, KEY, ["GreenLake", "BlueDog", "RedFox"])).agents;
  downUrl = `http://127.0.0.1:${await closedPort()}`;
});

afterAll(async () => {
  await server?.close();
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The environment of an agent's shell: server, project, agent and its registration token. */
function as(agent: string, extra: Record<string, string> = {}): Record<string, string> {
  return { MAILROOM_URL: server.url, MAILROOM_PROJECT: KEY, MAILROOM_AGENT: agent, MAILROOM_AGENT_TOKEN: agents[agent]!.token, ...extra };
}

async function recipientState(messageId: number, agent: string) {
  return db.prisma.messageRecipient.findUniqueOrThrow({ where: { messageId_agentId: { messageId, agentId: agents[agent]!.id } }, select: { readTs: true, ackTs: true } });
}

const HOOK_HINT = "run `mailroom inbox` or call fetch_inbox.";

describe("send, inbox, hook, read and ack against a running server", () => {
  let urgentId: number;

  it("send --body-file - reads the body from stdin; --ack, --importance and --json go through to send_message", async () => {
    const body = "Taking `src/api/**`.\n\nLine two, from stdin.\n";
    const run = await mailroom(
      ["send", "--project", KEY, "--agent", "GreenLake", "--agent-token", agents.GreenLake!.token, "--to", "BlueDog", "--subject", "Plan for the API", "--body-file", "-", "--ack", "--importance", "urgent", "--json"],
      { MAILROOM_URL: server.url },
      body,
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { count: number; deliveries: { project: string; payload: Record<string, unknown> }[] };
    expect(result.count).toBe(1);
    expect(result.deliveries).toHaveLength(1);
    expect(result.deliveries[0]!.project).toBe(KEY);
    expect(result.deliveries[0]!.payload).toMatchObject({ subject: "Plan for the API", from: "GreenLake", to: ["BlueDog"], cc: [], importance: "urgent", ack_required: true, body_md: body });
    urgentId = result.deliveries[0]!.payload.id as number;
    expect(urgentId).toEqual(expect.any(Number));
    const stored = await db.prisma.message.findUniqueOrThrow({ where: { id: urgentId } });
    expect(stored).toMatchObject({ subject: "Plan for the API", bodyMd: body, importance: "urgent", ackRequired: true });
    expect(await recipientState(urgentId, "BlueDog")).toEqual({ readTs: null, ackTs: null });
  });

  it("send with --body (identity from the environment) prints one line per delivery", async () => {
    const run = await mailroom(["send", "--to", "RedFox", "--subject", "FYI", "--body", "Nothing for BlueDog"], as("GreenLake"));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const sent = await db.prisma.message.findFirstOrThrow({ where: { subject: "FYI" } });
    expect(run.stdout).toBe(`sent message ${sent.id} to RedFox (${KEY})\n`);
    expect(sent).toMatchObject({ bodyMd: "Nothing for BlueDog", importance: "normal", ackRequired: false });
  });

  it("the recipient's inbox lists the message as unread, in text and --json, and marks nothing read", async () => {
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id: urgentId } });
    const created = message.createdTs.toISOString().slice(0, 16).replace("T", " ");
    const [text, asJson] = await inParallel([() => mailroom(["inbox"], as("BlueDog")), () => mailroom(["inbox", "--json"], as("BlueDog"))]);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(`${String(urgentId).padStart(6)}  ${created}  ${"GreenLake".padEnd(16)} Plan for the API  [unread, urgent, ack due]\n`);
    expect(asJson.code).toBe(0);
    const items = JSON.parse(asJson.stdout) as Record<string, unknown>[];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      id: urgentId,
      subject: "Plan for the API",
      from: "GreenLake",
      importance: "urgent",
      ack_required: true,
      thread_id: null,
      read_at: null,
      ack_at: null,
      created_ts: message.createdTs.toISOString().replace(/Z$/, "+00:00"),
    });
    expect(await recipientState(urgentId, "BlueDog")).toEqual({ readTs: null, ackTs: null });
  });

  it("hook prints exactly one line with the counts (and --json the numbers), still marking nothing read", async () => {
    const [line, counts] = await inParallel([() => mailroom(["hook"], as("BlueDog")), () => mailroom(["hook", "--json"], as("BlueDog"))]);
    expect(line.stderr).toBe("");
    expect(line.code).toBe(0);
    expect(line.stdout).toBe(`Mailroom: 1 unread (1 urgent), 1 ack due for BlueDog — ${HOOK_HINT}\n`);
    expect(counts.code).toBe(0);
    expect(JSON.parse(counts.stdout)).toEqual({ unread: 1, urgent: 1, acks_due: 1 });
    expect(await recipientState(urgentId, "BlueDog")).toEqual({ readTs: null, ackTs: null });
  });

  it("read --id marks it read; the ack stays due", async () => {
    const run = await mailroom(["read", "--id", String(urgentId)], as("BlueDog"));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`marked read: message ${urgentId}\n`);
    const state = await recipientState(urgentId, "BlueDog");
    expect(state.readTs).toBeInstanceOf(Date);
    expect(state.ackTs).toBeNull();
    const hook = await mailroom(["hook"], as("BlueDog"));
    expect(hook.code).toBe(0);
    expect(hook.stdout).toBe(`Mailroom: 1 ack due for BlueDog — ${HOOK_HINT}\n`);
  });

  it("ack --id --json acknowledges it; then hook prints nothing and inbox has no unread mail", async () => {
    const run = await mailroom(["ack", "--id", String(urgentId), "--json"], as("BlueDog"));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const state = await recipientState(urgentId, "BlueDog");
    expect(state.ackTs).toBeInstanceOf(Date);
    expect(JSON.parse(run.stdout)).toEqual({
      message_id: urgentId,
      acknowledged: true,
      acknowledged_at: state.ackTs!.toISOString().replace(/Z$/, "+00:00"),
      read_at: state.readTs!.toISOString().replace(/Z$/, "+00:00"),
    });

    const [hook, inbox, all, text] = await inParallel([
      () => mailroom(["hook"], as("BlueDog")),
      () => mailroom(["inbox"], as("BlueDog")),
      () => mailroom(["inbox", "--all", "--json"], as("BlueDog")),
      () => mailroom(["ack", "--id", String(urgentId)], as("BlueDog")),
    ]);
    expect(hook).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(inbox).toEqual({ code: 0, stdout: "No unread mail.\n", stderr: "" });
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual([expect.objectContaining({ id: urgentId, read_at: expect.any(String), ack_at: expect.any(String) })]);
    // Acknowledging again is idempotent.
    expect(text).toEqual({ code: 0, stdout: `acknowledged: message ${urgentId}\n`, stderr: "" });
  });

  it("a wrong registration token: the tool's or resource's own message on one line, exit 1; hook stays quiet with exit 0", async () => {
    const wrong = as("BlueDog", { MAILROOM_AGENT_TOKEN: "not-the-token" });
    const [send, inbox, read, hook] = await inParallel([
      () => mailroom(["send", "--to", "GreenLake", "--subject", "x", "--body", "y"], wrong),
      () => mailroom(["inbox"], wrong),
      () => mailroom(["read", "--id", String(urgentId)], wrong),
      () => mailroom(["hook"], wrong),
    ]);
    expectOneLineFailure(send, 1, "mailroom send: AUTHENTICATION_REQUIRED: Invalid sender_token for agent 'BlueDog'.");
    expectOneLineFailure(inbox, 1, "mailroom inbox: AUTHENTICATION_REQUIRED: Invalid agent_token for agent 'BlueDog'.");
    expectOneLineFailure(read, 1, "mailroom read: AUTHENTICATION_REQUIRED: Invalid registration_token for agent 'BlueDog'.");
    expect(hook).toEqual({ code: 0, stdout: "", stderr: "mailroom hook: AUTHENTICATION_REQUIRED: Invalid agent_token for agent 'BlueDog'.\n" });
    expect(await db.prisma.message.count({ where: { subject: "x" } })).toBe(0);
  });
});

describe("a server that requires bearer tokens", () => {
  let tokenServer: TestServer;

  beforeAll(async () => {
    tokenServer = await startTestServer(db, { auth: { mode: "tokens", secret: SECRET } });
  });
  afterAll(async () => {
    await tokenServer?.close();
  });

  const mint = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("10m").sign(new TextEncoder().encode(SECRET));

  it("a bad or missing MAILROOM_TOKEN: 'refused the credentials (401)' on one line, exit 1; a token bound to the agent needs no registration token", async () => {
    const refused = `the server at ${tokenServer.url} refused the credentials (401): set MAILROOM_TOKEN to a valid token`;
    const bound = await mint({ sub: "blue", roles: ["writer"], agent: { project: SLUG, name: "BlueDog" } });
    const identity = { MAILROOM_URL: tokenServer.url, MAILROOM_PROJECT: KEY, MAILROOM_AGENT: "BlueDog" };
    const [bad, missing, send, hook] = await inParallel([
      () => mailroom(["inbox"], { ...identity, MAILROOM_TOKEN: "not-a-jwt" }),
      () => mailroom(["inbox"], identity),
      () => mailroom(["send", "--to", "GreenLake", "--subject", "With a bound token", "--body", "hi"], { ...identity, MAILROOM_TOKEN: bound }),
      () => mailroom(["hook"], { ...identity, MAILROOM_TOKEN: "not-a-jwt" }),
    ]);
    expectOneLineFailure(bad, 1, `mailroom inbox: ${refused}`);
    expectOneLineFailure(missing, 1, `mailroom inbox: ${refused}`);
    expect(hook).toEqual({ code: 0, stdout: "", stderr: `mailroom hook: ${refused}\n` });
    expect(send.stderr).toBe("");
    expect(send.code).toBe(0);
    const sent = await db.prisma.message.findFirstOrThrow({ where: { subject: "With a bound token" } });
    expect(send.stdout).toBe(`sent message ${sent.id} to GreenLake (${KEY})\n`);
    expect(send.stdout + send.stderr).not.toContain(bound);
  });

  it("mcp-stdio sends MAILROOM_TOKEN: without it initialize fails naming the 401, with it the bridge works", async () => {
    const refused = new Client({ name: "mailroom-stdio-401", version: "1.0.0" });
    const bound = await mint({ sub: "bridge", roles: ["reader"] });
    const accepted = new Client({ name: "mailroom-stdio-token", version: "1.0.0" });
    try {
      const [failure] = await Promise.all([
        refused.connect(bridge(tokenServer.url)).then(
          () => undefined,
          (error: unknown) => error as Error,
        ),
        accepted.connect(bridge(tokenServer.url, { MAILROOM_TOKEN: bound })),
      ]);
      expect(failure).toBeInstanceOf(Error);
      expect(failure!.message).toContain(`the server at ${tokenServer.url} refused the credentials (401)`);
      const health = (await accepted.callTool({ name: "health_check", arguments: {} })) as CallToolResult;
      expect(health.isError).toBeFalsy();
      expect(health.structuredContent).toMatchObject({ status: "ok" });
    } finally {
      await refused.close().catch(() => undefined);
      await accepted.close();
    }
  });
});

describe("a server that is down", () => {
  it("send and inbox say they cannot reach it (exit 1); hook exits 0 with nothing on stdout and the reason on stderr", async () => {
    const env = { MAILROOM_URL: downUrl, MAILROOM_PROJECT: KEY, MAILROOM_AGENT: "BlueDog", MAILROOM_AGENT_TOKEN: "whatever" };
    const unreachable = `cannot reach Mailroom at ${downUrl} (connection refused): start it with \`mailroom serve\` or set MAILROOM_URL`;
    const [inbox, send, hook] = await inParallel([
      () => mailroom(["inbox"], env),
      () => mailroom(["send", "--to", "GreenLake", "--subject", "s", "--body", "b"], env),
      () => mailroom(["hook"], env),
    ]);
    expectOneLineFailure(inbox, 1, `mailroom inbox: ${unreachable}`);
    expectOneLineFailure(send, 1, `mailroom send: ${unreachable}`);
    expect(hook).toEqual({ code: 0, stdout: "", stderr: `mailroom hook: ${unreachable}\n` });
  });
});

describe("usage", () => {
  it("missing --to, a non-numeric --id and a missing agent are usage errors (exit 2) naming the fix", async () => {
    const env = { MAILROOM_URL: downUrl, MAILROOM_PROJECT: KEY };
    const [noTo, badId, noAgent, bothBodies] = await inParallel([
      () => mailroom(["send", "--subject", "s", "--body", "b"], { ...env, MAILROOM_AGENT: "GreenLake" }),
      () => mailroom(["read", "--id", "abc"], { ...env, MAILROOM_AGENT: "BlueDog" }),
      () => mailroom(["inbox"], env),
      () => mailroom(["send", "--to", "BlueDog", "--subject", "s", "--body", "b", "--body-file", "-"], { ...env, MAILROOM_AGENT: "GreenLake" }),
    ]);
    expectOneLineFailure(noTo, 2, "mailroom send: missing --to <name> (see `mailroom send --help`)");
    expectOneLineFailure(badId, 2, "mailroom read: the message id must be a positive whole number, got 'abc' (see `mailroom read --help`)");
    expectOneLineFailure(noAgent, 2, "mailroom inbox: missing --agent <name> (or MAILROOM_AGENT) (see `mailroom inbox --help`)");
    expectOneLineFailure(bothBodies, 2, "mailroom send: give --body or --body-file, not both (see `mailroom send --help`)");
  });

  it("--help answers for every client command (exit 0)", async () => {
    const commands = [["send"], ["inbox"], ["read"], ["ack"], ["hook"], ["mcp-stdio"], ["config"], ["config", "codex"]];
    const runs = await inParallel(commands.map((command) => () => mailroom([...command, "--help"])));
    const usage: Record<string, string> = {
      send: "Usage: mailroom send --to <name> --subject <text> [options]\n",
      inbox: "Usage: mailroom inbox [options]\n",
      read: "Usage: mailroom read --id <message id> [options]\n",
      ack: "Usage: mailroom ack --id <message id> [options]\n",
      hook: "Usage: mailroom hook [options]\n",
      "mcp-stdio": "Usage: mailroom mcp-stdio [options]\n",
      config: "Usage: mailroom config <command> [options]\n",
      "config codex": "Usage: mailroom config codex [options]\n",
    };
    runs.forEach((run, index) => {
      const name = commands[index]!.join(" ");
      expect(run.stderr, name).toBe("");
      expect(run.code, name).toBe(0);
      expect(run.stdout.startsWith(usage[name]!), `${name}: ${run.stdout.split("\n")[0]}`).toBe(true);
    });
    const config = runs[6]!.stdout;
    for (const client of ["claude-code", "codex", "cursor", "gemini", "vscode", "windsurf", "json"]) expect(config).toContain(`  config ${client} `);
  });
});

describe("mcp-stdio: the stdio bridge driven by the MCP SDK's stdio client", () => {
  let http: Client;
  let stdio: Client;
  const stderr: string[] = [];

  beforeAll(async () => {
    http = await connectMcp(server.url);
    stdio = new Client({ name: "mailroom-stdio-tests", version: "1.0.0" });
    await stdio.connect(bridge(server.url, {}, stderr));
  });
  afterAll(async () => {
    await stdio?.close();
    await http?.close();
  });

  it("initialize works: the server's own name and capabilities come through", () => {
    expect(stdio.getServerVersion()).toEqual(http.getServerVersion());
    expect(stdio.getServerCapabilities()).toEqual(http.getServerCapabilities());
    expect(stdio.getInstructions()).toEqual(http.getInstructions());
  });

  it("tools/list is the HTTP listing: the same names and input schemas", async () => {
    const [overStdio, overHttp] = await Promise.all([stdio.listTools(), http.listTools()]);
    expect(overStdio.tools.length).toBeGreaterThan(10);
    expect(overStdio.tools.map((tool) => tool.name)).toEqual(overHttp.tools.map((tool) => tool.name));
    expect(overStdio.tools.map((tool) => tool.inputSchema)).toEqual(overHttp.tools.map((tool) => tool.inputSchema));
    expect(overStdio).toEqual(overHttp);
  });

  it("tool calls and resource reads answer as over HTTP", async () => {
    const health = await Promise.all([stdio.callTool({ name: "health_check", arguments: {} }), http.callTool({ name: "health_check", arguments: {} })]);
    expect((health[0] as CallToolResult).isError).toBeFalsy();
    // The archive's backlog age moves between the two calls; everything else is the same.
    const steady = (content: unknown) => {
      const status = content as { archive: Record<string, unknown> };
      return { ...status, archive: { ...status.archive, oldest_pending_age_seconds: typeof status.archive.oldest_pending_age_seconds } };
    };
    expect(steady(health[0].structuredContent)).toEqual(steady(health[1].structuredContent));
    expect(health[0].structuredContent).toMatchObject({ status: "ok", environment: "test" });

    const inboxArgs = { project_key: KEY, agent_name: "BlueDog", registration_token: agents.BlueDog!.token, include_bodies: true };
    const inbox = await Promise.all([stdio.callTool({ name: "fetch_inbox", arguments: inboxArgs }), http.callTool({ name: "fetch_inbox", arguments: inboxArgs })]);
    expect(inbox[0]).toEqual(inbox[1]);
    expect((inbox[0].structuredContent as { result: { subject: string }[] }).result.map((item) => item.subject)).toContain("Plan for the API");

    const projects = await Promise.all([stdio.readResource({ uri: "resource://projects" }), http.readResource({ uri: "resource://projects" })]);
    expect(projects[0]).toEqual(projects[1]);
    const listed = JSON.parse((projects[0].contents[0] as TextResourceContents).text) as { human_key: string }[];
    expect(listed.map((project) => project.human_key)).toContain(KEY);
  });

  it("a tool's error result and a JSON-RPC error are passed through unchanged", async () => {
    const args = { project_key: "/no/such/project", agent_name: "BlueDog", registration_token: agents.BlueDog!.token };
    const [overStdio, overHttp] = await Promise.all([stdio.callTool({ name: "fetch_inbox", arguments: args }), http.callTool({ name: "fetch_inbox", arguments: args })]);
    expect(overStdio.isError).toBe(true);
    expect(overStdio).toEqual(overHttp);
    expect((overStdio.content as { type: string; text: string }[])[0]!.text).toContain("NOT_FOUND");

    const unknown = "resource://no-such-resource";
    const [stdioError, httpError] = await Promise.all([
      stdio.readResource({ uri: unknown }).then(() => undefined, (error: unknown) => error as Error),
      http.readResource({ uri: unknown }).then(() => undefined, (error: unknown) => error as Error),
    ]);
    expect(stdioError).toBeInstanceOf(Error);
    expect(stdioError!.message).toBe(httpError!.message);
    // Stdout carried only the protocol, and nothing went wrong on the way.
    expect(stderr.join("")).toBe("");
  });

  it("with the server down, connecting fails with an error that names 'cannot reach Mailroom'", async () => {
    const client = new Client({ name: "mailroom-stdio-down", version: "1.0.0" });
    const transport = bridge(downUrl);
    try {
      const failure = await client.connect(transport).then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      expect(failure).toBeInstanceOf(Error);
      expect(failure!.message).toContain(`cannot reach Mailroom at ${downUrl} (connection refused)`);
    } finally {
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
    }
  });
});

// `mailroom config <client>`: each client's documented entry for a Streamable HTTP server with a
// bearer token read from MAILROOM_TOKEN in that client's own syntax:
//   claude-code  https://code.claude.com/docs/en/mcp  (.mcp.json mcpServers, "type": "http", headers, ${VAR})
//   codex        https://developers.openai.com/codex/mcp  (config.toml [mcp_servers.<name>] url, bearer_token_env_var)
//   cursor       https://cursor.com/docs/mcp  (mcpServers, url, headers, ${env:VAR})
//   gemini       https://geminicli.com/docs/tools/mcp-server/  (mcpServers, httpUrl, headers, $VAR / ${VAR})
//   vscode       https://code.visualstudio.com/docs/copilot/reference/mcp-configuration  (servers, "type": "http", inputs promptString, ${input:id})
//   windsurf     https://docs.windsurf.com/windsurf/cascade/mcp  (mcpServers, serverUrl, headers, ${env:VAR})
//   json         the generic mcpServers shape
describe("config <client>", () => {
  const BASE = "https://mail.example.test";
  const URL_ = `${BASE}/api/mcp`;
  const withToken = { MAILROOM_URL: BASE, MAILROOM_TOKEN: LEAKY_TOKEN };

  type Entry = Record<string, unknown>;
  const expected: Record<string, { file: string; auth: Entry | string; plain: Entry | string; command: [string, string] | null }> = {
    "claude-code": {
      file: ".mcp.json",
      auth: { mcpServers: { mailroom: { type: "http", url: URL_, headers: { Authorization: "Bearer ${MAILROOM_TOKEN}" } } } },
      plain: { mcpServers: { mailroom: { type: "http", url: URL_ } } },
      command: [
        `claude mcp add --transport http --scope project mailroom ${URL_} --header 'Authorization: Bearer \${MAILROOM_TOKEN}'`,
        `claude mcp add --transport http --scope project mailroom ${URL_}`,
      ],
    },
    codex: {
      file: "~/.codex/config.toml",
      auth: `[mcp_servers.mailroom]\nurl = "${URL_}"\nbearer_token_env_var = "MAILROOM_TOKEN"\n`,
      plain: `[mcp_servers.mailroom]\nurl = "${URL_}"\n`,
      command: [`codex mcp add mailroom --url ${URL_} --bearer-token-env-var MAILROOM_TOKEN`, `codex mcp add mailroom --url ${URL_}`],
    },
    cursor: {
      file: ".cursor/mcp.json",
      auth: { mcpServers: { mailroom: { url: URL_, headers: { Authorization: "Bearer ${env:MAILROOM_TOKEN}" } } } },
      plain: { mcpServers: { mailroom: { url: URL_ } } },
      command: null,
    },
    gemini: {
      file: ".gemini/settings.json",
      auth: { mcpServers: { mailroom: { httpUrl: URL_, headers: { Authorization: "Bearer ${MAILROOM_TOKEN}" } } } },
      plain: { mcpServers: { mailroom: { httpUrl: URL_ } } },
      command: null,
    },
    vscode: {
      file: ".vscode/mcp.json",
      auth: {
        inputs: [{ type: "promptString", id: "mailroom-token", description: "Mailroom token (MAILROOM_TOKEN)", password: true }],
        servers: { mailroom: { type: "http", url: URL_, headers: { Authorization: "Bearer ${input:mailroom-token}" } } },
      },
      plain: { servers: { mailroom: { type: "http", url: URL_ } } },
      command: null,
    },
    windsurf: {
      file: "~/.codeium/windsurf/mcp_config.json",
      auth: { mcpServers: { mailroom: { serverUrl: URL_, headers: { Authorization: "Bearer ${env:MAILROOM_TOKEN}" } } } },
      plain: { mcpServers: { mailroom: { serverUrl: URL_ } } },
      command: null,
    },
    json: {
      file: "mcp.json",
      auth: { mcpServers: { mailroom: { type: "http", url: URL_, headers: { Authorization: "Bearer ${MAILROOM_TOKEN}" } } } },
      plain: { mcpServers: { mailroom: { type: "http", url: URL_ } } },
      command: null,
    },
  };
  const CLIENTS = Object.keys(expected);

  it("prints each client's entry naming MAILROOM_TOKEN in its own syntax when MAILROOM_TOKEN is set (never the token)", async () => {
    const runs = await inParallel(CLIENTS.map((client) => () => mailroom(["config", client, "--json"], withToken)));
    runs.forEach((run, index) => {
      const client = CLIENTS[index]!;
      const want = expected[client]!;
      expect(run.stderr, client).toBe("");
      expect(run.code, client).toBe(0);
      expect(run.stdout, client).not.toContain(LEAKY_TOKEN);
      expect(JSON.parse(run.stdout), client).toEqual({ client, file: want.file, url: URL_, auth: true, config: want.auth, command: want.command?.[0] ?? null });
    });
  });

  it("without MAILROOM_TOKEN the entries carry no headers; --auth adds them anyway", async () => {
    const plain = await inParallel(CLIENTS.map((client) => () => mailroom(["config", client, "--json", "--url", BASE])));
    plain.forEach((run, index) => {
      const client = CLIENTS[index]!;
      const want = expected[client]!;
      expect(run.code, client).toBe(0);
      expect(JSON.parse(run.stdout), client).toEqual({ client, file: want.file, url: URL_, auth: false, config: want.plain, command: want.command?.[1] ?? null });
    });
    const [claude, codex] = await inParallel([() => mailroom(["config", "claude-code", "--auth"], { MAILROOM_URL: BASE }), () => mailroom(["config", "codex", "--auth"], { MAILROOM_URL: BASE })]);
    expect(claude).toEqual({
      code: 0,
      stderr: "",
      stdout: `# Claude Code: .mcp.json\n${JSON.stringify(expected["claude-code"]!.auth, null, 2)}\n\n# or:\n${expected["claude-code"]!.command![0]}\n`,
    });
    expect(codex).toEqual({ code: 0, stderr: "", stdout: `# Codex CLI: ~/.codex/config.toml\n${expected.codex!.auth as string}\n# or:\n${expected.codex!.command![0]}\n` });
  });

  it("--write --file merges into a JSON file: every other server and key kept, mailroom replaced, idempotent, the token never written", async () => {
    const jsonClients = CLIENTS.filter((client) => client !== "codex");
    await inParallel(
      jsonClients.map((client) => async () => {
        const file = path.join(work, `${client}.json`);
        const container = client === "vscode" ? "servers" : "mcpServers";
        const other = { command: "npx", args: ["-y", "other-server"], env: { OTHER_TOKEN: "${env:OTHER}" } };
        const existing: Record<string, unknown> = {
          theme: "dark",
          [container]: { other, mailroom: { url: "http://stale.example/api/mcp" }, zeta: { url: "https://zeta.example/mcp" } },
          ...(client === "vscode" ? { inputs: [{ type: "promptString", id: "other-key", description: "Other" }, { type: "promptString", id: "mailroom-token", description: "stale" }] } : {}),
        };
        writeFileSync(file, JSON.stringify(existing, null, 4));
        const want = expected[client]!.auth as Record<string, Record<string, unknown>>;
        const merged = {
          theme: "dark",
          [container]: { other, mailroom: want[container]!.mailroom, zeta: { url: "https://zeta.example/mcp" } },
          ...(client === "vscode" ? { inputs: [{ type: "promptString", id: "other-key", description: "Other" }, ...(want.inputs as unknown as unknown[])] } : {}),
        };
        const first = await mailroom(["config", client, "--write", "--file", file], withToken);
        expect(first, client).toEqual({ code: 0, stderr: "", stdout: `wrote the mailroom entry to ${file}\n` });
        const written = readFileSync(file, "utf8");
        expect(JSON.parse(written), client).toEqual(merged);
        expect(written, client).not.toContain(LEAKY_TOKEN);
        const second = await mailroom(["config", client, "--write", "--file", file, "--json"], withToken);
        expect(second.code, client).toBe(0);
        expect(JSON.parse(second.stdout), client).toEqual({ client, file, url: URL_, auth: true, written: true });
        expect(readFileSync(file, "utf8"), client).toBe(written);
      }),
    );
  });

  it("--write --file merges into Codex's TOML: other tables before and after kept, the mailroom table replaced, idempotent", async () => {
    const file = path.join(work, "config.toml");
    const before = 'model = "o3"\n\n[mcp_servers.other]\ncommand = "npx"\nargs = ["-y", "other"]\n\n';
    const after = '\n[profiles.fast]\nmodel = "o4-mini"\n';
    writeFileSync(file, `${before}[mcp_servers.mailroom]\nurl = "http://stale.example/api/mcp"\nstartup_timeout_sec = 5\n${after}`);
    const first = await mailroom(["config", "codex", "--write", "--file", file], withToken);
    expect(first).toEqual({ code: 0, stderr: "", stdout: `wrote the mailroom entry to ${file}\n` });
    const written = readFileSync(file, "utf8");
    expect(written).toBe(`${before}${expected.codex!.auth as string}${after}`);
    expect(written).not.toContain(LEAKY_TOKEN);
    const second = await mailroom(["config", "codex", "--write", "--file", file], withToken);
    expect(second.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(written);

    // A file without the table gets it appended after a blank line.
    const fresh = path.join(work, "fresh.toml");
    writeFileSync(fresh, '[mcp_servers.other]\nurl = "https://other.example/mcp"');
    expect((await mailroom(["config", "codex", "--write", "--file", fresh], withToken)).code).toBe(0);
    expect(readFileSync(fresh, "utf8")).toBe(`[mcp_servers.other]\nurl = "https://other.example/mcp"\n\n${expected.codex!.auth as string}`);
  });

  it("an invalid JSON file is refused (exit 1, one line) and left as it was", async () => {
    const file = path.join(work, "broken.json");
    const text = '{\n  // my servers\n  "mcpServers": { "other": { "url": "https://other.example/mcp" }, },\n}\n';
    writeFileSync(file, text);
    const run = await mailroom(["config", "cursor", "--write", "--file", file], withToken);
    expectOneLineFailure(run, 1, `mailroom config cursor: ${file} is not plain JSON (comments or trailing commas?); nothing was written: add the entry by hand`);
    expect(readFileSync(file, "utf8")).toBe(text);
  });
});

// Regressions of bugs this file found in the first version of the commands.
describe("found bugs, fixed", () => {
  it("hook never blocks a prompt: without an agent it exits 0 with the reason on stderr (exit 2 would block a Claude Code UserPromptSubmit hook)", async () => {
    const run = await mailroom(["hook"], { MAILROOM_URL: downUrl, MAILROOM_PROJECT: KEY });
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("missing --agent");
    expect(run.code).toBe(0);
  });

  it("an invalid MAILROOM_URL fails in one line without a stack, and hook still exits 0 (the environment is read when a command runs, not when the CLI loads)", async () => {
    const env = { MAILROOM_URL: "localhost:3000", MAILROOM_PROJECT: KEY, MAILROOM_AGENT: "BlueDog" };
    const [inbox, hook] = await inParallel([() => mailroom(["inbox"], env), () => mailroom(["hook"], env)]);
    expect(inbox.stderr).not.toMatch(NO_STACK);
    expect(inbox.stderr).toMatch(/^mailroom inbox: .*MAILROOM_URL.*\n$/);
    expect(inbox.code).toBe(1);
    expect(hook.stdout).toBe("");
    expect(hook.stderr).not.toMatch(NO_STACK);
    expect(hook.code).toBe(0);
  });

  it("mcp-stdio answers the requests still in flight when stdin ends (they were aborted: 'cannot talk to Mailroom … (AbortError)')", async () => {
    const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "pipe", version: "1" } } };
    const run = await mailroom(["mcp-stdio"], { MAILROOM_URL: server.url }, `${JSON.stringify(initialize)}\n`);
    expect(run.code).toBe(0);
    const answers = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { id: number; result?: { serverInfo: unknown }; error?: unknown });
    expect(answers).toEqual([expect.objectContaining({ id: 1, result: expect.objectContaining({ serverInfo: expect.anything() }) })]);
    expect(run.stderr).toBe("");
  });

  const TABLE = '[mcp_servers.mailroom]\nurl = "https://mail.example.test/api/mcp"\n';

  it("config codex --write keeps the comment that heads the next table", () => {
    const existing = '[mcp_servers.mailroom]\nurl = "http://old"\n\n# Quick runs\n[profiles.fast]\nmodel = "o4-mini"\n';
    expect(mergeToml(existing, TABLE)).toContain("# Quick runs\n[profiles.fast]");
  });

  it("config codex --write never leaves two mailroom tables (a header with a comment or a quoted key is recognised)", () => {
    const headers = (text: string) => text.split("\n").filter((line) => /^\s*\[\s*mcp_servers\s*\.\s*["']?mailroom["']?\s*\]/.test(line)).length;
    for (const existing of ['[mcp_servers.mailroom] # ours\nurl = "http://old"\n', '[mcp_servers."mailroom"]\nurl = "http://old"\n']) {
      let merged: string;
      try {
        merged = mergeToml(existing, TABLE);
      } catch (error) {
        // Refusing, nothing written, is fine too.
        expect(error).toBeInstanceOf(CommandFailure);
        continue;
      }
      expect(headers(merged), existing).toBe(1);
    }
  });
});
