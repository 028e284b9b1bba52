import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult, TextResourceContents } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADJECTIVES, NOUNS } from "@/server/services/agents/names";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";

const ARCHIVE_DISABLED = {
  enabled: false,
  role: "disabled",
  pending_events: expect.any(Number),
  oldest_pending_age_seconds: expect.toBeOneOf([null, expect.any(Number)]),
  last_commit_sha: null,
  last_commit_ts: null,
  last_error: null,
  commits: 0,
  events_written: 0,
};

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let client: Client;

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db, { nameMode: "coerce" });
  client = await connectMcp(server.url);
});
afterAll(async () => {
  await client?.close();
  await server?.close();
  await db?.close();
});

const GENERATED_NAMES = new Set(ADJECTIVES.flatMap((adjective) => NOUNS.map((noun) => `${adjective}${noun}`)));
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
const AGENT_FIELDS = [
  "id",
  "name",
  "program",
  "model",
  "task_description",
  "inception_ts",
  "last_active_ts",
  "project_id",
  "attachments_policy",
].sort();

interface ProjectResult {
  id: number;
  slug: string;
  human_key: string;
  created_at: string;
}
interface AgentResult {
  id: number;
  name: string;
  program: string;
  model: string;
  task_description: string;
  inception_ts: string;
  last_active_ts: string;
  project_id: number;
  attachments_policy: string;
  registration_token: string;
  recent_commits?: unknown[];
}

async function readJson(uri: string): Promise<unknown> {
  const result = await client.readResource({ uri });
  expect(result.contents).toHaveLength(1);
  const content = result.contents[0] as TextResourceContents;
  expect(content.uri).toBe(uri);
  expect(content.mimeType).toBe("application/json");
  return JSON.parse(content.text);
}

/** A raw JSON-RPC POST to the MCP endpoint, as a client without the SDK would send it. */
function rawMcp(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL("/api/mcp", server.url), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

describe("MCP over Streamable HTTP", () => {
  it("initializes and identifies itself as mailroom", () => {
    expect(client.getServerVersion()).toEqual({ name: "mailroom", version: expect.any(String) });
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, resources: {} });
    expect(client.getInstructions()).toContain("ensure_project");
  });

  // Other domains (messages, search, …) add tools after these, so the listing is checked for the
  // project and agent tools, in their place at the head of the list, rather than for its length.
  it("lists the five project and agent tools first, every tool with an object input schema", async () => {
    const { tools } = await client.listTools();
    expect(tools.slice(0, 5).map((tool) => tool.name)).toEqual(["health_check", "ensure_project", "register_agent", "create_agent_identity", "whois"]);
    expect(new Set(tools.map((tool) => tool.name)).size).toBe(tools.length);
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.description).toBeTruthy();
    }
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get("health_check")!.inputSchema.required ?? []).toEqual([]);
    expect(byName.get("ensure_project")!.inputSchema.required).toEqual(["human_key"]);
    expect(byName.get("ensure_project")!.inputSchema.additionalProperties).toBeUndefined();
    expect([...(byName.get("register_agent")!.inputSchema.required ?? [])].sort()).toEqual(["model", "program", "project_key"]);
    expect(Object.keys(byName.get("register_agent")!.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["project_key", "program", "model", "name", "task_description", "attachments_policy", "registration_token"]),
    );
    expect([...(byName.get("create_agent_identity")!.inputSchema.required ?? [])].sort()).toEqual(["model", "program", "project_key"]);
    expect([...(byName.get("whois")!.inputSchema.required ?? [])].sort()).toEqual(["agent_name", "project_key"]);
    expect(byName.get("whois")!.annotations?.readOnlyHint).toBe(true);
    expect(byName.get("ensure_project")!.annotations?.idempotentHint).toBe(true);
  });

  it("lists fewer tools with ?profile=core (no create_agent_identity)", async () => {
    const full = (await client.listTools()).tools.map((tool) => tool.name);
    const core = await connectMcp(server.url, "/api/mcp?profile=core");
    try {
      const names = (await core.listTools()).tools.map((tool) => tool.name);
      expect(names.length).toBeLessThan(full.length);
      expect(names.slice(0, 4)).toEqual(["health_check", "ensure_project", "register_agent", "whois"]);
      expect(names).not.toContain("create_agent_identity");
      for (const name of names) expect(full).toContain(name);
      expect(core.getServerVersion()?.name).toBe("mailroom");
    } finally {
      await core.close();
    }
  });

  it("answers an unknown tool with a tool error", async () => {
    const text = await callError(client, "no_such_tool", {});
    expect(text).toBe("NOT_FOUND: Unknown tool 'no_such_tool'.");
  });

  it("health_check echoes the configuration", async () => {
    const health = await callOk(client, "health_check", {});
    expect(health).toEqual({
      status: "ok",
      environment: "test",
      http_host: "127.0.0.1",
      http_port: 0,
      database_url: "test-database",
      // The test server runs no archive worker: the outbox only grows (the writer's own tests cover the rest).
      archive: ARCHIVE_DISABLED,
    });
  });

  it("returns the same JSON as text content and as structuredContent", async () => {
    const result = (await client.callTool({ name: "ensure_project", arguments: { human_key: "/srv/mcp/text" } })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    const first = result.content[0];
    expect(first?.type).toBe("text");
    expect(JSON.parse(first?.type === "text" ? first.text : "null")).toEqual(result.structuredContent);
  });

  describe("ensure_project", () => {
    it("creates the project and is idempotent", async () => {
      const project = await callOk<ProjectResult>(client, "ensure_project", { human_key: "/srv/mcp/backend" });
      expect(project).toEqual({ id: expect.any(Number), slug: "srv-mcp-backend", human_key: "/srv/mcp/backend", created_at: expect.stringMatching(ISO_UTC) });
      const again = await callOk<ProjectResult>(client, "ensure_project", { human_key: "/srv/mcp/backend/" });
      expect(again).toEqual(project);
    });

    it("refuses a relative path with a tool error that says absolute", async () => {
      const result = (await client.callTool({ name: "ensure_project", arguments: { human_key: "relative/path" } })) as CallToolResult;
      expect(result.isError).toBe(true);
      const first = result.content[0];
      expect(first?.type === "text" && first.text).toMatch(/^INVALID_ARGUMENT: .*absolute/);
      expect(result.structuredContent).toEqual({
        error: { type: "INVALID_ARGUMENT", message: expect.stringContaining("absolute"), recoverable: true, data: { field: "human_key" } },
      });
    });

    it("names the missing field in a validation error", async () => {
      const text = await callError(client, "ensure_project", {});
      expect(text).toMatch(/^INVALID_ARGUMENT: /);
      expect(text).toContain("human_key");
    });

    it("names an unknown extra key in a validation error", async () => {
      const text = await callError(client, "ensure_project", { human_key: "/srv/mcp/extra", humanKey: "/srv/mcp/extra" });
      expect(text).toMatch(/^INVALID_ARGUMENT: /);
      expect(text).toContain("humanKey");
      expect(await db.prisma.project.count({ where: { slug: "srv-mcp-extra" } })).toBe(0);
    });

    it("names a field of the wrong type", async () => {
      const text = await callError(client, "register_agent", { project_key: "srv-mcp-backend", program: 42, model: "m" });
      expect(text).toContain("program");
    });
  });

  describe("register_agent, create_agent_identity and whois", () => {
    let agent: AgentResult;

    beforeAll(async () => {
      await callOk(client, "ensure_project", { human_key: "/srv/mcp/agents" });
      agent = await callOk<AgentResult>(client, "register_agent", {
        project_key: "srv-mcp-agents",
        program: "claude-code",
        model: "opus-4.1",
        task_description: "MCP tests",
      });
    });

    it("register_agent returns the agent dict and a registration_token", async () => {
      expect(Object.keys(agent).sort()).toEqual([...AGENT_FIELDS, "registration_token"].sort());
      expect(GENERATED_NAMES.has(agent.name)).toBe(true);
      expect(agent.program).toBe("claude-code");
      expect(agent.model).toBe("opus-4.1");
      expect(agent.task_description).toBe("MCP tests");
      expect(agent.attachments_policy).toBe("auto");
      expect(agent.inception_ts).toMatch(ISO_UTC);
      expect(agent.last_active_ts).toMatch(ISO_UTC);
      expect(agent.last_active_ts.endsWith("+00:00")).toBe(true);
      const project = await db.prisma.project.findUniqueOrThrow({ where: { slug: "srv-mcp-agents" } });
      expect(agent.project_id).toBe(project.id);
      expect(agent.registration_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it("register_agent resolves 'Backend'-style keys and fails on unknown projects with 'not found'", async () => {
      const byHumanKey = await callOk<AgentResult>(client, "register_agent", { project_key: "/srv/mcp/agents", program: "p", model: "m" });
      expect(byHumanKey.project_id).toBe(agent.project_id);
      const text = await callError(client, "register_agent", { project_key: "NonExistentProject", program: "p", model: "m" });
      expect(text).toMatch(/^NOT_FOUND: /);
      expect(text).toContain("not found");
    });

    it("re-registering a name needs its token over HTTP (no session binding)", async () => {
      const owner = await callOk<AgentResult>(client, "register_agent", {
        project_key: "srv-mcp-agents",
        program: "claude-code",
        model: "opus-4.1",
        name: "BlueLake",
      });
      const text = await callError(client, "register_agent", { project_key: "srv-mcp-agents", program: "x", model: "y", name: "BlueLake" });
      expect(text).toMatch(/^AUTHENTICATION_REQUIRED: /);
      expect(text).toContain("registration_token");
      const updated = await callOk<AgentResult>(client, "register_agent", {
        project_key: "srv-mcp-agents",
        program: "codex-cli",
        model: "gpt-5",
        name: "bluelake",
        task_description: "taken back",
        registration_token: owner.registration_token,
      });
      expect(updated.id).toBe(owner.id);
      expect(updated.name).toBe("BlueLake");
      expect(updated.task_description).toBe("taken back");
      expect(await db.prisma.agent.count({ where: { projectId: owner.project_id, nameKey: "bluelake" } })).toBe(1);
    });

    it("register_agent refuses an empty program", async () => {
      const text = await callError(client, "register_agent", { project_key: "srv-mcp-agents", program: " ", model: "m" });
      expect(text).toMatch(/^EMPTY_PROGRAM: /);
    });

    it("create_agent_identity always creates a new agent, honouring a free hint", async () => {
      const hinted = await callOk<AgentResult>(client, "create_agent_identity", {
        project_key: "srv-mcp-agents",
        program: "codex-cli",
        model: "gpt-5",
        name_hint: "alpha-one",
      });
      expect(Object.keys(hinted).sort()).toEqual([...AGENT_FIELDS, "registration_token"].sort());
      expect(hinted.name).toBe("alpha-one");
      const second = await callOk<AgentResult>(client, "create_agent_identity", {
        project_key: "srv-mcp-agents",
        program: "codex-cli",
        model: "gpt-5",
        name_hint: "alpha-one",
      });
      expect(second.id).not.toBe(hinted.id);
      expect(GENERATED_NAMES.has(second.name)).toBe(true);
      expect(second.registration_token).not.toBe(hinted.registration_token);
    });

    it("whois without a token is a tool error naming registration_token", async () => {
      const text = await callError(client, "whois", { project_key: "srv-mcp-agents", agent_name: agent.name });
      expect(text).toMatch(/^AUTHENTICATION_REQUIRED: /);
      expect(text).toContain("registration_token");
    });

    it("whois with the token returns the agent and recent_commits", async () => {
      const result = await callOk<AgentResult>(client, "whois", {
        project_key: "/srv/mcp/agents",
        agent_name: agent.name.toLowerCase(),
        registration_token: agent.registration_token,
      });
      const { registration_token: _token, ...view } = agent;
      expect(result).toEqual({ ...view, recent_commits: [] });
    });

    it("whois with another agent's token is refused", async () => {
      const other = await callOk<AgentResult>(client, "register_agent", { project_key: "srv-mcp-agents", program: "p", model: "m" });
      const text = await callError(client, "whois", {
        project_key: "srv-mcp-agents",
        agent_name: agent.name,
        registration_token: other.registration_token,
      });
      expect(text).toContain("Invalid registration_token");
    });
  });

  describe("resources", () => {
    let project: ProjectResult;
    let agent: AgentResult;

    beforeAll(async () => {
      project = await callOk<ProjectResult>(client, "ensure_project", { human_key: "/srv/mcp/resources" });
      agent = await callOk<AgentResult>(client, "register_agent", { project_key: project.slug, program: "p", model: "m", name: "CopperFox" });
    });

    it("lists the fixed resources and the templates", async () => {
      // Other domains add resources too; these four must be there, each in the right list.
      const { resources } = await client.listResources();
      const uris = resources.map((resource) => resource.uri);
      expect(uris).toEqual(expect.arrayContaining(["resource://config/environment", "resource://projects"]));
      for (const resource of resources) {
        expect(resource.uri).not.toMatch(/\{/);
        expect(resource.mimeType).toBe("application/json");
      }
      const { resourceTemplates } = await client.listResourceTemplates();
      const templates = resourceTemplates.map((template) => template.uriTemplate);
      expect(templates).toEqual(expect.arrayContaining(["resource://agents/{project_key}", "resource://project/{slug}"]));
      for (const template of templates) expect(template).toMatch(/\{[a-z_]+\}/);
      expect(uris).not.toContain("resource://project/{slug}");
    });

    it("resource://projects lists every project", async () => {
      const projects = (await readJson("resource://projects")) as ProjectResult[];
      expect(projects).toContainEqual(project);
      expect(projects.map((p) => p.slug)).toEqual(expect.arrayContaining(["srv-mcp-backend", "srv-mcp-agents", "srv-mcp-resources"]));
    });

    it("resource://project/{slug} shows the project with its agents", async () => {
      const detail = (await readJson(`resource://project/${project.slug}`)) as ProjectResult & { agents: AgentResult[] };
      const { registration_token: _token, ...view } = agent;
      expect(detail).toEqual({ ...project, agents: [view] });
    });

    it("resource://agents/{project_key} lists agents with unread counts, by slug or URL-encoded human key", async () => {
      const bySlug = (await readJson(`resource://agents/${project.slug}`)) as {
        project: unknown;
        agents: { name: string; unread_count: number }[];
        retired_agents: unknown[];
      };
      expect(bySlug.project).toEqual({ slug: project.slug, human_key: "/srv/mcp/resources" });
      expect(bySlug.agents.map((a) => [a.name, a.unread_count])).toEqual([["CopperFox", 0]]);
      expect(bySlug.retired_agents).toEqual([]);
      const byKey = await readJson(`resource://agents/${encodeURIComponent("/srv/mcp/resources")}`);
      expect(byKey).toEqual(bySlug);
    });

    it("resource://config/environment describes the server", async () => {
      expect(await readJson("resource://config/environment")).toEqual({
        environment: "test",
        database_url: "test-database",
        http: { host: "127.0.0.1", port: 0, path: "/api/mcp" },
      });
    });

    it("an unknown project or resource is a protocol error saying not found", async () => {
      await expect(client.readResource({ uri: "resource://agents/no-such-project" })).rejects.toThrow(/NOT_FOUND: .*not found/);
      await expect(client.readResource({ uri: "resource://nothing-here" })).rejects.toThrow(/Unknown resource/);
    });
  });
});

// The black-box checks of the reference (§13.1 items 1-5), over HTTP, where each call carries its token.
describe("conformance: projects and agents (reference §13.1 items 1-5)", () => {
  const agentArgs = { program: "claude-code", model: "opus-4.1" };

  it("1. project bootstrap and slug", async () => {
    const project = await callOk<ProjectResult>(client, "ensure_project", { human_key: "/backend" });
    expect(project.slug).toBe("backend");
    expect((await callOk<ProjectResult>(client, "ensure_project", { human_key: "/backend" })).id).toBe(project.id);
    expect(await callError(client, "ensure_project", { human_key: "relative/path" })).toContain("absolute");
    const agent = await callOk<AgentResult>(client, "register_agent", { project_key: "Backend", ...agentArgs });
    expect(agent.project_id).toBe(project.id);
    expect(await callError(client, "register_agent", { project_key: "NonExistentProject", ...agentArgs })).toContain("not found");
  });

  it("2. auto-generated names", async () => {
    await callOk(client, "ensure_project", { human_key: "/conformance/two" });
    const agent = await callOk<AgentResult>(client, "register_agent", { project_key: "/conformance/two", ...agentArgs });
    expect(GENERATED_NAMES.has(agent.name)).toBe(true);
    expect(agent.registration_token.length).toBeGreaterThan(0);
    const names = new Set<string>();
    for (let i = 0; i < 5; i += 1) {
      const created = await callOk<AgentResult>(client, "create_agent_identity", { project_key: "/conformance/two", ...agentArgs });
      expect(GENERATED_NAMES.has(created.name)).toBe(true);
      names.add(created.name);
    }
    expect(names.size).toBe(5);
  });

  it("3. case-insensitive identity", async () => {
    await callOk(client, "ensure_project", { human_key: "/conformance/three" });
    const first = await callOk<AgentResult>(client, "register_agent", { project_key: "/conformance/three", ...agentArgs, name: "GreenLake" });
    const second = await callOk<AgentResult>(client, "register_agent", {
      project_key: "/conformance/three",
      program: "codex-cli",
      model: "gpt-5",
      name: "greenlake",
      registration_token: first.registration_token,
    });
    expect(second.id).toBe(first.id);
    expect(second.program).toBe("codex-cli");
    expect(second.name).toBe("GreenLake");
  });

  it("4. name coercion vs strict", async () => {
    await callOk(client, "ensure_project", { human_key: "/conformance/four" });
    for (const name of ["BackendHarmonizer", "claude-code"]) {
      const coerced = await callOk<AgentResult>(client, "register_agent", { project_key: "/conformance/four", ...agentArgs, name });
      expect(coerced.name).not.toBe(name);
      expect(GENERATED_NAMES.has(coerced.name)).toBe(true);
    }
    expect((await callOk<AgentResult>(client, "register_agent", { project_key: "/conformance/four", ...agentArgs, name: "alpha-one" })).name).toBe(
      "alpha-one",
    );

    const strictServer = await startTestServer(db, { nameMode: "strict" });
    const strictClient = await connectMcp(strictServer.url);
    try {
      const descriptive = await callError(strictClient, "register_agent", { project_key: "/conformance/four", ...agentArgs, name: "BackendHarmonizer" });
      expect(descriptive).toMatch(/^DESCRIPTIVE_NAME: .*descriptive/);
      const program = await callError(strictClient, "register_agent", { project_key: "/conformance/four", ...agentArgs, name: "claude-code" });
      expect(program).toMatch(/^PROGRAM_NAME_AS_AGENT: .*program/);
      const explicit = await callOk<AgentResult>(strictClient, "register_agent", { project_key: "/conformance/four", ...agentArgs, name: "alpha-two" });
      expect(explicit.name).toBe("alpha-two");
    } finally {
      await strictClient.close();
      await strictServer.close();
    }
  });

  it("5. takeover protection across sessions", async () => {
    await callOk(client, "ensure_project", { human_key: "/conformance/five" });
    const sessionA = await connectMcp(server.url);
    const sessionB = await connectMcp(server.url);
    const sessionC = await connectMcp(server.url);
    try {
      const owner = await callOk<AgentResult>(sessionA, "register_agent", { project_key: "/conformance/five", ...agentArgs, name: "BlueLake" });
      const refused = await callError(sessionB, "register_agent", { project_key: "/conformance/five", ...agentArgs, name: "BlueLake" });
      expect(refused).toContain("registration_token");
      expect(await db.prisma.agent.count({ where: { projectId: owner.project_id } })).toBe(1);
      const updated = await callOk<AgentResult>(sessionC, "register_agent", {
        project_key: "/conformance/five",
        ...agentArgs,
        name: "BlueLake",
        task_description: "back in control",
        registration_token: owner.registration_token,
      });
      expect(updated.id).toBe(owner.id);
      expect(updated.task_description).toBe("back in control");
    } finally {
      await Promise.all([sessionA.close(), sessionB.close(), sessionC.close()]);
    }
  });
});

describe("raw HTTP", () => {
  it("GET /api/mcp is 405 with Allow: POST", async () => {
    const response = await fetch(new URL("/api/mcp", server.url), { headers: { accept: "text/event-stream" } });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    const body = (await response.json()) as { jsonrpc: string; error: { message: string } };
    expect(body.jsonrpc).toBe("2.0");
    expect(body.error.message).toContain("POST");
  });

  it("answers a tools/call without an initialize first (stateless)", async () => {
    const response = await rawMcp({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "health_check", arguments: {} } });
    expect(response.status).toBe(200);
    expect(response.headers.get("mcp-session-id")).toBeNull();
    const body = (await response.json()) as { id: number; result: { structuredContent: { status: string } } };
    expect(body.id).toBe(7);
    expect(body.result.structuredContent.status).toBe("ok");
  });

  it("refuses a Bearer credential instead of ignoring it", async () => {
    const response = await rawMcp(
      { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} },
      { authorization: "Bearer something" },
    );
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toContain("Bearer");
  });

  it("GET /api/health is 200 ok", async () => {
    const response = await fetch(new URL("/api/health", server.url));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", timestamp: expect.any(String) });
  });

  it("GET /api/metrics gives the archive's backlog and role in the Prometheus text format", async () => {
    const response = await fetch(new URL("/api/metrics", server.url));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await response.text();
    const pending = await db.prisma.archiveOutbox.count({ where: { processedTs: null } });
    expect(text).toContain("# TYPE mailroom_archive_pending_events gauge\n");
    expect(text).toContain(`\nmailroom_archive_pending_events ${pending}\n`);
    expect(text).toContain('\nmailroom_archive_role{role="disabled"} 1\n');
    expect(text).toContain('\nmailroom_archive_role{role="writer"} 0\n');
    expect(text).toContain("\nmailroom_archive_error 0\n");
  });

  it("GET /api/ready is 200 ready after a database round trip", async () => {
    const response = await fetch(new URL("/api/ready", server.url));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ready", database: db.kind, archive: ARCHIVE_DISABLED });
  });
});
