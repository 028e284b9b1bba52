import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseToolProfile, toolOperations } from "@/mcp/catalog";
import { LAZY_TOOL_NAME } from "@/mcp/lazy-tool";
import { ToolProfileError } from "@/mcp/profiles";
import { z } from "zod";
import { hasKnownCluster } from "@/server/services/tooling/clusters";
import { flushToolMetrics } from "@/server/services/tooling/metrics-recorder";
import { actorFromTestHeader, ROLE_HEADER, type RoleName } from "../helpers/actors";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// Tool profiles (MCP_TOOLS_PROFILE, ?profile=): which tools tools/list shows, what each costs in
// tokens (characters of the tools array ÷ 4), and the lazy profile's discovery tool.

/** Token budgets of tools/list with every tool registered (issue 7). */
const FULL_BUDGET = 12_000;
const CORE_BUDGET = 3_000;

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let agent: TestAgent;
const clients: Client[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db, {}, {}, { resolveActor: actorFromTestHeader });
  agent = (await projectWithAgents(db, "/profiles/main", ["GreenLake"])).agents.GreenLake!;
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
  await db?.close();
});

async function connect(role: RoleName, profile?: string): Promise<Client> {
  const client = new Client({ name: "profile-tests", version: "1.0.0" });
  const url = new URL(`/api/mcp${profile === undefined ? "" : `?profile=${encodeURIComponent(profile)}`}`, server.url);
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { [ROLE_HEADER]: role } } }));
  clients.push(client);
  return client;
}

const tokens = (tools: Tool[]) => Math.ceil(JSON.stringify(tools).length / 4);
const names = (tools: Tool[]) => tools.map((tool) => tool.name);
const coreNames = toolOperations.filter((operation) => operation.tool?.profile === "core").map((operation) => operation.name);

async function call(client: Client, name: string, args: Record<string, unknown>) {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

const errorText = (result: CallToolResult) => (result.content[0] as { text: string }).text;

describe("profile selection", () => {
  it("full lists every tool, core the core tools, lazy the core tools and the discovery tool", () => {
    expect([...parseToolProfile("full").listed]).toEqual(toolOperations.map((operation) => operation.name));
    expect([...parseToolProfile("core").listed]).toEqual(coreNames);
    expect(parseToolProfile("core").lazy).toBe(false);
    expect(parseToolProfile("lazy")).toMatchObject({ lazy: true, listed: new Set(coreNames) });
    // Everything listed leaves nothing for the discovery tool.
    expect(parseToolProfile("lazy, full").lazy).toBe(false);
  });

  it("takes comma lists of tools, clusters and those words, in any case and order", () => {
    const profile = parseToolProfile(" Contact , send_message,core");
    expect(profile.listed).toEqual(new Set([...coreNames, "send_message", "request_contact", "respond_contact", "list_contacts", "set_contact_policy"]));
    expect(parseToolProfile("core,contact,send_message").key).toBe(profile.key);
    expect([...parseToolProfile("product_bus").listed]).toEqual([
      "ensure_product",
      "products_link",
      "search_messages_product",
      "fetch_inbox_product",
      "summarize_thread_product",
    ]);
  });

  it("refuses unknown names, naming them", () => {
    expect(() => parseToolProfile("core,send_mesage,chat")).toThrow(ToolProfileError);
    expect(() => parseToolProfile("core,send_mesage,chat")).toThrow(/unknown tool or cluster 'send_mesage', 'chat'/);
    expect(() => parseToolProfile(" , ")).toThrow(ToolProfileError);
  });

  it("gives every tool a cluster of the reference's (or its own), never the fallback by accident", () => {
    expect(toolOperations.filter((operation) => !hasKnownCluster(operation)).map((operation) => operation.name)).toEqual([]);
  });

  it("answers ?profile= with an unknown name with 400 and the reason", async () => {
    const response = await fetch(new URL("/api/mcp?profile=core,bogus", server.url), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", [ROLE_HEADER]: "reader" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("unknown tool or cluster 'bogus'");
  });
});

describe("tools/list size", () => {
  it(`stays within ${FULL_BUDGET} tokens with every tool and ${CORE_BUDGET} with the core profile`, async () => {
    const full = (await (await connect("admin")).listTools()).tools;
    const core = (await (await connect("admin", "core")).listTools()).tools;
    const lazy = (await (await connect("admin", "lazy")).listTools()).tools;
    expect(full).toHaveLength(toolOperations.length);
    expect({ full: tokens(full), core: tokens(core) }).toEqual({ full: expect.any(Number), core: expect.any(Number) });
    expect(tokens(full)).toBeLessThanOrEqual(FULL_BUDGET);
    expect(tokens(core)).toBeLessThanOrEqual(CORE_BUDGET);
    // lazy = core + the discovery tool.
    expect(names(lazy)).toEqual([...names(core), LAZY_TOOL_NAME]);
  });

  it("keeps descriptions short: tools at most 220 characters, arguments at most 80", () => {
    const long = toolOperations.filter((operation) => operation.description.length > 220).map((operation) => operation.name);
    expect(long).toEqual([]);
    const longArguments = toolOperations.flatMap((operation) => {
      const properties = (z.toJSONSchema(operation.input, { io: "input" }) as { properties?: Record<string, { description?: string }> }).properties ?? {};
      return Object.entries(properties)
        .filter(([, property]) => (property.description ?? "").length > 80)
        .map(([name]) => `${operation.name}.${name}`);
    });
    expect(longArguments).toEqual([]);
  });

  it("does not advertise format, but every tool still accepts it", async () => {
    const client = await connect("admin");
    const { tools } = await client.listTools();
    expect(tools.filter((tool) => "format" in (tool.inputSchema.properties ?? {})).map((tool) => tool.name)).toEqual([]);
    expect(JSON.stringify(tools)).not.toContain("$schema");
    expect((await call(client, "health_check", { format: "json" })).isError).toBeFalsy();
    const wrong = await call(client, "health_check", { format: "xml" });
    expect(wrong.isError).toBe(true);
    expect(errorText(wrong)).toContain("INVALID_ARGUMENT: Invalid arguments for health_check: format: Invalid option");
  });

  it("still refuses unknown arguments and out-of-range numbers it no longer advertises", async () => {
    const client = await connect("admin");
    const unknown = await call(client, "health_check", { colour: "blue" });
    expect(errorText(unknown)).toContain("INVALID_ARGUMENT");
    const huge = await call(client, "mark_message_read", { project_key: "/profiles/main", agent_name: "GreenLake", message_id: 2 ** 31 });
    expect(errorText(huge)).toContain("message_id: Too big");
  });
});

describe("lazy profile", () => {
  it("lists the other tools, describes one and calls it through call_extended_tool", async () => {
    const client = await connect("admin", "lazy");
    const listing = (await call(client, LAZY_TOOL_NAME, {})).structuredContent as { total: number; by_category: Record<string, number>; tools: { name: string; category: string }[] };
    expect(listing.tools.map((tool) => tool.name)).toContain("summarize_thread");
    expect(listing.tools.map((tool) => tool.name)).not.toContain("send_message");
    expect(listing.total).toBe(toolOperations.length - coreNames.length);
    expect(listing.tools.find((tool) => tool.name === "summarize_thread")!.category).toBe("search");

    const described = (await call(client, LAZY_TOOL_NAME, { tool_name: "fetch_topic" })).structuredContent as { inputSchema: { required: string[] } };
    expect(described.inputSchema.required).toEqual(["project_key", "topic_name"]);

    const called = await call(client, LAZY_TOOL_NAME, {
      tool_name: "fetch_topic",
      arguments: { project_key: "/profiles/main", topic_name: "none", agent_name: "GreenLake", registration_token: agent.token },
    });
    expect(called.isError).toBeFalsy();
    expect(called.structuredContent).toEqual({ result: [] });
    // Unlisted tools may also be called directly under the lazy profile, not under core.
    expect((await call(client, "get_message_receipts", { project_key: "/profiles/main", agent_name: "GreenLake", registration_token: agent.token, message_id: 1 })).content).toBeDefined();
    const core = await connect("admin", "core");
    expect(errorText(await call(core, "fetch_topic", { project_key: "/profiles/main", topic_name: "x" }))).toBe("NOT_FOUND: Unknown tool 'fetch_topic'.");
  });

  it("records a call made through the discovery tool once, under the tool called", async () => {
    const client = await connect("admin", "lazy");
    await flushToolMetrics(db.prisma);
    const before = await db.prisma.toolCallMetric.groupBy({ by: ["tool"], _count: { _all: true } });
    await call(client, LAZY_TOOL_NAME, { tool_name: "health_check", arguments: {} });
    await call(client, LAZY_TOOL_NAME, {});
    await flushToolMetrics(db.prisma);
    const after = await db.prisma.toolCallMetric.groupBy({ by: ["tool"], _count: { _all: true } });
    const count = (rows: typeof before, tool: string) => rows.find((row) => row.tool === tool)?._count._all ?? 0;
    expect(count(after, "health_check") - count(before, "health_check")).toBe(1);
    expect(count(after, LAZY_TOOL_NAME) - count(before, LAZY_TOOL_NAME)).toBe(1);
  });

  it("shows each caller only what its role may call", async () => {
    const reader = await connect("reader", "lazy");
    const listed = names((await reader.listTools()).tools);
    expect(listed).toContain(LAZY_TOOL_NAME);
    expect(listed).not.toContain("send_message");
    const extended = ((await call(reader, LAZY_TOOL_NAME, {})).structuredContent as { tools: { name: string }[] }).tools.map((tool) => tool.name);
    expect(extended).toContain("summarize_thread");
    expect(extended).not.toContain("ensure_product");
    expect(errorText(await call(reader, LAZY_TOOL_NAME, { tool_name: "ensure_product" }))).toBe("NOT_FOUND: Unknown tool 'ensure_product'.");
    expect(errorText(await call(reader, "ensure_product", { name: "x" }))).toContain("FORBIDDEN");
    const none = await connect("none", "lazy");
    expect((await none.listTools()).tools).toEqual([]);
  });

  it("serves a comma profile per connection", async () => {
    const client = await connect("admin", "core,product_bus");
    const listed = names((await client.listTools()).tools);
    expect(listed).toEqual(expect.arrayContaining([...coreNames, "ensure_product", "fetch_inbox_product"]));
    expect(listed).not.toContain("summarize_thread");
  });
});
