import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult, TextResourceContents } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resources } from "@/mcp/catalog";
import type { AnyOperation, Permission } from "@/server/operations/define";
import { permissionTable, registered } from "@/server/operations/registry";
import { invoke } from "@/server/operations/invoke";
import { getProject } from "@/server/services/agents/queries";
import { projectsOverview } from "@/server/services/projects/overview";
import { ensureProject, listProjects } from "@/server/services/projects/projects";
import { actorFor, actorFromTestHeader, ROLE_HEADER, ROLE_NAMES, type RoleName } from "../helpers/actors";
import { serviceContext } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { operationSamples } from "../helpers/operation-samples";
import { domainSamples, type OperationSamples } from "../helpers/samples";
import { matrixArchive } from "../helpers/samples/archive";
import { MATRIX_JWT_SECRET } from "../helpers/samples/tokens";
import { tableDigest } from "../helpers/snapshot";

// The permission matrix: every registered operation, through MCP (tool or resource) and through
// tRPC, as each role. Allowed calls pass the gate and return what the operation's output contract
// says; denied calls get FORBIDDEN and leave every table exactly as it was. The expected table is
// written out here on purpose: changing who may do what must change this file too.

const CORE: Record<string, Permission> = {
  health_check: "read",
  "resource://config/environment": "read",
  ensure_project: "write",
  "resource://projects": "read",
  "resource://project": "read",
  projects_overview: "read",
  register_agent: "write",
  create_agent_identity: "write",
  whois: "read",
  "resource://agents": "read",
  send_message: "write",
  reply_message: "write",
  fetch_inbox: "read",
  wait_for_mail: "read",
  mark_message_read: "write",
  acknowledge_message: "write",
  fetch_topic: "read",
  get_message_receipts: "read",
  search_messages: "read",
  summarize_thread: "read",
  summarize_recent: "write",
  fetch_summary: "read",
  purge_old_messages: "admin",
  "resource://inbox": "read",
  "resource://outbox": "read",
  "resource://mailbox": "read",
  "resource://message": "read",
  "resource://thread": "read",
  "resource://views/urgent-unread": "read",
  "resource://views/unread": "read",
  "resource://views/pending": "read",
  "resource://views/ack-required": "read",
  "resource://views/acks-stale": "read",
  "resource://views/ack-overdue": "read",
  dashboard_inbox: "admin",
  dashboard_outbox: "admin",
  dashboard_thread: "admin",
  dashboard_message: "admin",
  dashboard_search: "admin",
  overseer_send: "write",
};
const EXPECTED: Record<string, Permission> = Object.assign({}, CORE, ...domainSamples.map((domain) => domain.expected));

const ALLOWED: Record<Permission, ReadonlySet<RoleName>> = {
  read: new Set(["reader", "writer", "admin"]),
  write: new Set(["writer", "admin"]),
  admin: new Set(["admin"]),
};

const PROJECT = "/matrix/main";

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
const clients = new Map<RoleName, Client>();
let samples: OperationSamples;

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db, { archive: matrixArchive(), auth: { mode: "tokens", secret: MATRIX_JWT_SECRET } }, {}, { resolveActor: actorFromTestHeader });
  for (const role of ROLE_NAMES) {
    const client = new Client({ name: `matrix-${role}`, version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL("/api/mcp", server.url), { requestInit: { headers: { [ROLE_HEADER]: role } } }));
    clients.set(role, client);
  }
  samples = await operationSamples(db, PROJECT);
});

afterAll(async () => {
  for (const client of clients.values()) await client.close();
  await server?.close();
  await db?.close();
});

/** The resource URI for an input: placeholders from its fields, the rest as the query. */
function uriFor(operation: AnyOperation, input: Record<string, unknown>): string {
  const rename = operation.resourceFields ?? {};
  const used = new Set<string>();
  const path = operation.resource!.replace(/\{([a-z][a-z0-9_]*)\}/g, (_, placeholder: string) => {
    const field = rename[placeholder] ?? placeholder;
    used.add(field);
    return encodeURIComponent(String(input[field]));
  });
  const query = new URLSearchParams(Object.entries(input).filter(([key]) => !used.has(key)).map(([key, value]) => [key, String(value)]));
  return query.size ? `${path}?${query}` : path;
}

interface Outcome {
  ok: boolean;
  /** FORBIDDEN, INVALID_ARGUMENT, … (the AppError code) when not ok. */
  code?: string;
  result?: unknown;
  detail: string;
}

async function viaMcp(role: RoleName, operation: AnyOperation, input: Record<string, unknown>): Promise<Outcome> {
  const client = clients.get(role)!;
  if (operation.tool) {
    const result = (await client.callTool({ name: operation.name, arguments: input })) as CallToolResult;
    const text = result.content[0]?.type === "text" ? result.content[0].text : "";
    if (result.isError) return { ok: false, code: text.split(":")[0], detail: text };
    const structured = result.structuredContent as Record<string, unknown>;
    return { ok: true, result: "result" in structured && Object.keys(structured).length === 1 ? structured.result : structured, detail: text.slice(0, 200) };
  }
  try {
    const read = await client.readResource({ uri: uriFor(operation, input) });
    const text = (read.contents[0] as TextResourceContents).text;
    return { ok: true, result: JSON.parse(text), detail: text.slice(0, 200) };
  } catch (error) {
    const message = (error as Error).message;
    return { ok: false, code: /(?:MCP error -?\d+: )?([A-Z_]+):/.exec(message)?.[1], detail: message };
  }
}

async function viaTrpc(role: RoleName, path: string, operation: AnyOperation, input: Record<string, unknown>): Promise<Outcome> {
  const url = new URL(`/api/trpc/${path}`, server.url);
  const headers = { [ROLE_HEADER]: role, "content-type": "application/json" };
  let response: Response;
  if (operation.kind === "query") {
    url.searchParams.set("input", JSON.stringify(input));
    response = await fetch(url, { headers });
  } else {
    response = await fetch(url, { method: "POST", headers, body: JSON.stringify(input) });
  }
  const body = (await response.json()) as { result?: { data: unknown }; error?: { message: string; data: { code: string; appCode?: string; httpStatus: number } } };
  if (body.error) return { ok: false, code: body.error.data.appCode ?? body.error.data.code, detail: `${response.status} ${body.error.message}` };
  return { ok: true, result: body.result!.data, detail: JSON.stringify(body.result!.data).slice(0, 200) };
}

describe("the permission table", () => {
  it("lists every registered operation with the role this test expects", () => {
    expect(permissionTable).toEqual(EXPECTED);
  });

  it("has a sample input for every operation", () => {
    expect(Object.keys(samples.inputs).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it("serves every operation through MCP (tool or resource) and tRPC", () => {
    for (const { path, operation } of registered) {
      expect([operation.name, path.length > 0]).toEqual([operation.name, true]);
    }
    const mcpServed = new Set([...registered.filter(({ operation }) => operation.tool).map(({ operation }) => operation.name), ...resources.map((r) => r.operation.name)]);
    const dashboardOnly = registered.filter(({ operation }) => !mcpServed.has(operation.name)).map(({ operation }) => operation.name);
    expect(dashboardOnly.sort()).toEqual(
      [
        "dashboard_inbox",
        "dashboard_message",
        "dashboard_project",
        "dashboard_mail",
        "dashboard_receipts",
        "dashboard_force_release",
        "dashboard_outbox",
        "dashboard_search",
        "dashboard_thread",
        "overseer_send",
        "projects_overview",
        "create_token",
        "list_tokens",
        "revoke_token",
        "create_user",
        "list_users",
        "set_user_disabled",
      ].sort(),
    );
  });
});

describe.each(ROLE_NAMES)("as %s", (role) => {
  it("tools/list shows exactly the tools this role may call", async () => {
    const { tools } = await clients.get(role)!.listTools();
    const expected = registered
      .filter(({ operation }) => operation.tool && ALLOWED[EXPECTED[operation.name]!].has(role))
      .map(({ operation }) => operation.name);
    expect(tools.map((tool) => tool.name)).toEqual(expected);
  });

  for (const { path, operation } of registered) {
    const allowed = ALLOWED[EXPECTED[operation.name]!].has(role);
    const surfaces = [
      ...(operation.tool || operation.resource ? [["MCP", (input: Record<string, unknown>) => viaMcp(role, operation, input)] as const] : []),
      ["tRPC", (input: Record<string, unknown>) => viaTrpc(role, path, operation, input)] as const,
    ];
    for (const [surface, call] of surfaces) {
      it(`${operation.name} via ${surface}: ${allowed ? "allowed" : "FORBIDDEN, nothing written"}`, async () => {
        const input = samples.inputs[operation.name]!;
        if (allowed) {
          const outcome = await call((await samples.fresh?.[operation.name]?.()) ?? input);
          expect(outcome, outcome.detail).toMatchObject({ ok: true });
          const contract = operation.output.safeParse(outcome.result);
          expect(contract.success, `${operation.name} result breaks its output contract: ${contract.error?.message}`).toBe(true);
          return;
        }
        const before = await tableDigest(db);
        const outcome = await call(input);
        expect({ ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ ok: false, code: "FORBIDDEN" });
        expect(await tableDigest(db)).toEqual(before);
        // The gate comes before the input: a denied caller learns nothing of the argument rules.
        expect((await call({ no_such_argument: 1 })).code).toBe("FORBIDDEN");
      });
    }
  }

  it(`the project-wide event stream is ${role === "admin" ? "open" : "FORBIDDEN"}`, async () => {
    const controller = new AbortController();
    const response = await fetch(new URL(`/api/events?project=${encodeURIComponent(PROJECT)}`, server.url), {
      headers: { [ROLE_HEADER]: role },
      signal: controller.signal,
    });
    controller.abort();
    expect(response.status).toBe(role === "admin" ? 200 : 403);
  });

  it(`the every-project event stream (no project) is ${role === "admin" ? "open" : "FORBIDDEN"}`, async () => {
    const controller = new AbortController();
    const response = await fetch(new URL("/api/events", server.url), { headers: { [ROLE_HEADER]: role }, signal: controller.signal });
    const type = response.headers.get("content-type");
    const body = role === "admin" ? undefined : ((await response.json()) as { error: { type: string } });
    controller.abort();
    expect({ status: response.status, type, code: body?.error.type }).toEqual(
      role === "admin" ? { status: 200, type: "text/event-stream", code: undefined } : { status: 403, type: "application/json", code: "FORBIDDEN" },
    );
  });
});

describe("project scopes", () => {
  it("confine an actor to its projects: calls elsewhere are FORBIDDEN, listings and hints leave them out", async () => {
    const admin = serviceContext(db);
    await invoke(ensureProject, admin, { human_key: "/scoped/mine" });
    await invoke(ensureProject, admin, { human_key: "/scoped/theirs" });
    const scoped = { ...admin, actor: actorFor("admin", ["/scoped/mine"]) };

    expect((await invoke(getProject, scoped, { project_key: "/scoped/mine" })).human_key).toBe("/scoped/mine");
    for (const key of ["/scoped/theirs", "scoped-theirs"]) {
      await expect(invoke(getProject, scoped, { project_key: key })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    await expect(invoke(ensureProject, scoped, { human_key: "/scoped/new" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await db.prisma.project.count({ where: { humanKey: "/scoped/new" } })).toBe(0);

    const listed = await invoke(listProjects, scoped);
    expect(listed.map((project) => project.human_key)).toEqual(["/scoped/mine"]);
    expect((await invoke(projectsOverview, scoped)).map((project) => project.human_key)).toEqual(["/scoped/mine"]);
    const unknown = invoke(getProject, scoped, { project_key: "scoped-theirz" });
    await expect(unknown).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(unknown).rejects.not.toThrow(/theirs/);
  });
});
