import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { printServerLogOnFailure, startApp, type App } from "./support/app-server";
import { callOk, callTool, connectMcp, resultText, uniqueProjectPath, type AgentResult, type ProjectResult } from "./support/mcp";

// The MCP SDK client against the built app's /api/mcp, over real Streamable HTTP.

let app: App;
let client: Client;

beforeAll(async () => {
  app = await startApp();
  client = await connectMcp(app.url);
});

printServerLogOnFailure(() => app);

afterAll(async () => {
  await client?.close();
  await app?.stop();
});

describe("MCP over HTTP against the production server", () => {
  it("initializes as the mailroom server", () => {
    expect(client.getServerVersion()?.name).toBe("mailroom");
    expect(client.getServerCapabilities()?.tools).toBeDefined();
  });

  it("lists the tools", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(["health_check", "ensure_project", "register_agent", "create_agent_identity", "whois"]));
    const ensure = tools.find((tool) => tool.name === "ensure_project")!;
    expect(ensure.inputSchema.type).toBe("object");
    expect(ensure.inputSchema.properties).toHaveProperty("human_key");
  });

  it("health_check reports ok", async () => {
    const health = await callOk<{ status: string }>(client, "health_check", {});
    expect(health.status).toBe("ok");
  });

  it("ensure_project creates a project once and returns it again", async () => {
    const humanKey = uniqueProjectPath("mcp-ensure");
    const project = await callOk<ProjectResult>(client, "ensure_project", { human_key: humanKey });
    expect(project).toMatchObject({ slug: humanKey.slice(1).replace(/[^a-z0-9]+/g, "-"), human_key: humanKey });
    expect(Number.isInteger(project.id)).toBe(true);
    expect(Number.isNaN(Date.parse(project.created_at))).toBe(false);

    const again = await callOk<ProjectResult>(client, "ensure_project", { human_key: `${humanKey}/` });
    expect(again).toEqual(project);
  });

  it("registers an agent, creates another identity, and whois authenticates with the token", async () => {
    const project = await callOk<ProjectResult>(client, "ensure_project", { human_key: uniqueProjectPath("mcp-agents") });

    const agent = await callOk<AgentResult>(client, "register_agent", {
      project_key: project.slug,
      program: "claude-code",
      model: "opus-4.1",
      task_description: "e2e: register",
    });
    expect(agent.name).toMatch(/^[A-Z][a-z]+[A-Z][a-z]+$/);
    expect(agent).toMatchObject({ program: "claude-code", model: "opus-4.1", project_id: project.id, task_description: "e2e: register" });
    expect(typeof agent.registration_token).toBe("string");
    expect(agent.registration_token!.length).toBeGreaterThan(10);

    const other = await callOk<AgentResult>(client, "create_agent_identity", {
      project_key: project.human_key,
      program: "codex-cli",
      model: "gpt-5",
    });
    expect(other.name).not.toBe(agent.name);
    expect(other.id).not.toBe(agent.id);
    expect(other.project_id).toBe(project.id);
    expect(typeof other.registration_token).toBe("string");
    expect(other.registration_token).not.toBe(agent.registration_token);

    const profile = await callOk<AgentResult>(client, "whois", {
      project_key: project.slug,
      agent_name: agent.name.toLowerCase(),
      registration_token: agent.registration_token,
    });
    expect(profile.id).toBe(agent.id);
    expect(profile.name).toBe(agent.name);
    expect(profile).not.toHaveProperty("registration_token");

    // Another agent's token does not authenticate as this one.
    const wrong = await callTool(client, "whois", {
      project_key: project.slug,
      agent_name: agent.name,
      registration_token: other.registration_token,
    });
    expect(wrong.isError).toBe(true);
    expect(resultText(wrong)).toMatch(/^AUTHENTICATION_REQUIRED: Invalid registration_token/);
  });

  it("reports invalid arguments as tool errors with CODE: message", async () => {
    const relative = await callTool(client, "ensure_project", { human_key: "relative/path" });
    expect(relative.isError).toBe(true);
    expect(resultText(relative)).toMatch(/^INVALID_ARGUMENT: /);
    expect(resultText(relative)).toContain("absolute");

    const project = await callOk<ProjectResult>(client, "ensure_project", { human_key: uniqueProjectPath("mcp-invalid") });
    const badType = await callTool(client, "register_agent", { project_key: project.slug, program: 42, model: "opus-4.1" });
    expect(badType.isError).toBe(true);
    expect(resultText(badType)).toMatch(/^INVALID_ARGUMENT: Invalid arguments for register_agent: program: /);

    const unknown = await callTool(client, "whois", { project_key: project.slug, agent_name: "NoSuchAgent" });
    expect(unknown.isError).toBe(true);
    expect(resultText(unknown)).toMatch(/^NOT_FOUND: Agent 'NoSuchAgent' not found/);
  });

  it("is ready on the database the harness chose", async () => {
    const response = await fetch(`${app.url}/api/ready`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; database: string };
    expect(body.status).toBe("ready");
    if (app.mode !== "external") expect(body.database).toBe(app.mode);
    else expect(["pglite", "postgres"]).toContain(body.database);
  });

  it("answers GET /api/mcp with 405 (stateless endpoint, POST only)", async () => {
    const response = await fetch(`${app.url}/api/mcp`, { headers: { accept: "text/event-stream" } });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    const body = (await response.json()) as { jsonrpc: string; error: { message: string } };
    expect(body.jsonrpc).toBe("2.0");
    expect(body.error.message).toContain("POST");
  });
});
