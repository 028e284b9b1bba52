import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { TRPC_MAX_BATCH } from "@/lib/limits";
import { toolOperations } from "@/mcp/catalog";
import { BATCHLESS_SINCE, MAX_BATCH } from "@/mcp/jsonrpc";
import { QUOTE_MAX } from "@/server/errors";
import { registered } from "@/server/operations/registry";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { connectMcp } from "../helpers/mcp-client";
import { operationSamples } from "../helpers/operation-samples";
import { tableDigest } from "../helpers/snapshot";

// What a client trying hard to break the server sends, and the clear, bounded error each must get
// with nothing written: NUL characters, integers past Postgres' range, malformed URIs, JSON-RPC of
// the wrong shape, huge strings, batches, malformed JSON.

const PROJECT = "/hostile/main";
/** Longest error text a hostile value may provoke: the message around at most QUOTE_MAX quoted characters. */
const MAX_ERROR_TEXT = 600;

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let client: Client;
let samples: Record<string, Record<string, unknown>>;

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db);
  client = await connectMcp(server.url);
  samples = (await operationSamples(db, PROJECT)).inputs;
});
afterAll(async () => {
  await client?.close();
  await server?.close();
  await db?.close();
});

async function toolError(name: string, args: Record<string, unknown>): Promise<string> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content[0]?.type === "text" ? result.content[0].text : "";
  expect(result.isError, `${name} accepted ${JSON.stringify(args).slice(0, 200)}: ${text.slice(0, 200)}`).toBe(true);
  return text;
}

type JsonSchema = { type?: string | string[]; anyOf?: JsonSchema[]; items?: JsonSchema; properties?: Record<string, JsonSchema> };

function accepts(schema: JsonSchema, type: string): boolean {
  if (schema.anyOf) return schema.anyOf.some((option) => accepts(option, type));
  return schema.type === type || (Array.isArray(schema.type) && schema.type.includes(type));
}

function acceptsStringArray(schema: JsonSchema): boolean {
  if (schema.anyOf) return schema.anyOf.some(acceptsStringArray);
  return schema.type === "array" && !!schema.items && accepts(schema.items, "string");
}

/** Each tool's top-level arguments of the given kind. */
function fields(kind: "string" | "number"): [string, string, JsonSchema][] {
  return toolOperations.flatMap((operation) => {
    const schema = z.toJSONSchema(operation.input, { io: "input" }) as JsonSchema;
    return Object.entries(schema.properties ?? {})
      .filter(([, property]) => (kind === "string" ? accepts(property, "string") || acceptsStringArray(property) : accepts(property, "integer") || accepts(property, "number")))
      .map(([field, property]) => [operation.name, field, property] as [string, string, JsonSchema]);
  });
}

describe("every input is bounded", () => {
  it("every string has a maximum length (or a fixed set of values), every array a maximum size, every number a range", () => {
    const unbounded: string[] = [];
    const walk = (schema: JsonSchema & Record<string, unknown>, where: string) => {
      if (schema.anyOf) schema.anyOf.forEach((option, index) => walk(option as JsonSchema & Record<string, unknown>, `${where}|${index}`));
      if (schema.type === "string" && schema.maxLength === undefined && schema.enum === undefined && schema.const === undefined) unbounded.push(where);
      if (schema.type === "array") {
        if (schema.maxItems === undefined) unbounded.push(where);
        if (schema.items) walk(schema.items as JsonSchema & Record<string, unknown>, `${where}[]`);
      }
      if ((schema.type === "integer" || schema.type === "number") && (schema.maximum === undefined || schema.minimum === undefined && schema.exclusiveMinimum === undefined)) {
        unbounded.push(where);
      }
      for (const [name, property] of Object.entries(schema.properties ?? {})) walk(property as JsonSchema & Record<string, unknown>, `${where}.${name}`);
    };
    for (const { operation } of registered) walk(z.toJSONSchema(operation.input, { io: "input" }) as JsonSchema & Record<string, unknown>, operation.name);
    expect(unbounded).toEqual([]);
  });
});

describe("NUL characters", () => {
  const stringFields = fields("string");

  it("covers the arguments named in the report", () => {
    const covered = new Set(stringFields.map(([tool, field]) => `${tool}.${field}`));
    for (const name of [
      "send_message.body_md",
      "send_message.subject",
      "send_message.to",
      "send_message.sender_name",
      "send_message.project_key",
      "send_message.idempotency_key",
      "search_messages.query",
      "ensure_project.human_key",
      "register_agent.name",
    ]) {
      expect(covered).toContain(name);
    }
  });

  it("in any string argument of any tool: INVALID_ARGUMENT naming the field, nothing written", async () => {
    const before = await tableDigest(db);
    for (const [tool, field, schema] of stringFields) {
      const value = accepts(schema, "string") ? "bad\u0000value" : ["bad\u0000value"];
      const text = await toolError(tool, { ...samples[tool], [field]: value });
      expect([tool, field, text]).toEqual([tool, field, expect.stringMatching(/^INVALID_ARGUMENT: /)]);
      expect(text).toContain(field);
      expect(text).toContain("NUL");
    }
    expect(await tableDigest(db)).toEqual(before);
  });

  it("in a resource URI and in the event stream's query: a 4xx naming the parameter", async () => {
    const uri = `resource://inbox/BlueDog?project=${encodeURIComponent(PROJECT)}&agent_token=%00`;
    await expect(client.readResource({ uri })).rejects.toThrow(/MCP error -32602: INVALID_ARGUMENT: agent_token: must not contain the NUL character/);
    const events = await fetch(new URL("/api/events?project=%00", server.url));
    expect(events.status).toBe(400);
    expect(((await events.json()) as { error: { message: string } }).error.message).toContain("project: must not contain the NUL character");
  });
});

describe("integers past Postgres' integer range", () => {
  const numberFields = fields("number");

  it("covers message_id, since_id, since_hours, max_age_days and limits", () => {
    const covered = new Set(numberFields.map(([tool, field]) => `${tool}.${field}`));
    for (const name of ["reply_message.message_id", "fetch_inbox.since_id", "fetch_inbox.limit", "summarize_recent.since_hours", "purge_old_messages.max_age_days"]) {
      expect(covered).toContain(name);
    }
  });

  it("in any numeric argument of any tool: INVALID_ARGUMENT naming the field, nothing written", async () => {
    const before = await tableDigest(db);
    for (const [tool, field] of numberFields) {
      for (const value of [2 ** 31, 2 ** 53, 1e300]) {
        const text = await toolError(tool, { ...samples[tool], [field]: value });
        expect([tool, field, value, text.split(":")[0]]).toEqual([tool, field, value, "INVALID_ARGUMENT"]);
        expect(text).toContain(field);
      }
    }
    expect(await tableDigest(db)).toEqual(before);
  });

  it("in a resource path: -32602, not an internal error", async () => {
    await expect(client.readResource({ uri: `resource://message/2147483648?project=${encodeURIComponent(PROJECT)}` })).rejects.toThrow(
      /MCP error -32602: INVALID_ARGUMENT: .*message_id/,
    );
  });
});

describe("malformed resource URIs", () => {
  it("answers malformed %-encoding with -32602 naming the part", async () => {
    await expect(client.readResource({ uri: "resource://inbox/%E0%A4%A?project=x" })).rejects.toThrow(/MCP error -32602: INVALID_ARGUMENT: agent: malformed %-encoding/);
    await expect(client.readResource({ uri: "resource://inbox/BlueDog?project=%ZZ" })).rejects.toThrow(/MCP error -32602: INVALID_ARGUMENT: project: malformed %-encoding/);
  });

  it("refuses a query parameter given twice, and unknown parameters", async () => {
    const base = `resource://inbox/BlueDog?project=${encodeURIComponent(PROJECT)}`;
    await expect(client.readResource({ uri: `${base}&limit=1&limit=2` })).rejects.toThrow(/-32602: INVALID_ARGUMENT: limit: given more than once/);
    await expect(client.readResource({ uri: `${base}&colour=blue` })).rejects.toThrow(/-32602: INVALID_ARGUMENT: .*colour/);
  });

  it("applies one boolean rule to every flag", async () => {
    const base = `resource://inbox/BlueDog?project=${encodeURIComponent(PROJECT)}&agent_token=${samples["resource://inbox"]!.agent_token as string}`;
    for (const yes of ["true", "1", "yes", "on", "TRUE"]) {
      const read = await client.readResource({ uri: `${base}&include_bodies=${yes}` });
      expect(JSON.parse((read.contents[0] as { text: string }).text).messages[0]).toHaveProperty("body_md");
    }
    await expect(client.readResource({ uri: `${base}&include_bodies=maybe` })).rejects.toThrow(/include_bodies: must be true or false/);
  });

  it("says 'not found' once, without a doubled prefix", async () => {
    await expect(client.readResource({ uri: "resource://nothing/here" })).rejects.toThrow(/^MCP error -32002: NOT_FOUND: Unknown resource 'resource:\/\/nothing\/here'\.$/);
  });
});

/** A raw JSON-RPC POST to the MCP endpoint. */
function rawMcp(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL("/api/mcp", server.url), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18", ...headers },
    body,
  });
}

interface JsonRpcReply {
  id: unknown;
  error?: { code: number; message: string };
  result?: unknown;
}

describe("JSON-RPC of the wrong shape", () => {
  it("answers arguments that are not an object with -32602 naming params.arguments", async () => {
    const response = await rawMcp(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "health_check", arguments: "x" } }));
    const reply = (await response.json()) as JsonRpcReply;
    expect(reply.id).toBe(1);
    expect(reply.error?.code).toBe(-32602);
    expect(reply.error?.message).toMatch(/^Invalid params for tools\/call: params\.arguments: /);
    expect(reply.error?.message).not.toContain("[");
  });

  it("answers a resources/read without uri with -32602 naming params.uri", async () => {
    const reply = (await (await rawMcp(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "resources/read", params: {} }))).json()) as JsonRpcReply;
    expect(reply.error).toMatchObject({ code: -32602, message: expect.stringContaining("params.uri") });
  });

  it("answers malformed JSON with -32700 and something that is not JSON-RPC with -32600", async () => {
    const parse = await rawMcp("{ not json");
    expect(parse.status).toBe(400);
    expect(((await parse.json()) as JsonRpcReply).error?.code).toBe(-32700);
    const invalid = await rawMcp(JSON.stringify({ hello: "world" }));
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as JsonRpcReply).error?.code).toBe(-32600);
  });
});

describe("batches", () => {
  const ping = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "health_check", arguments: {} } });

  it(`are refused from protocol ${BATCHLESS_SINCE} on`, async () => {
    const response = await rawMcp(JSON.stringify([ping(1), ping(2)]));
    expect(response.status).toBe(400);
    const reply = (await response.json()) as JsonRpcReply;
    expect(reply.error?.code).toBe(-32600);
    expect(reply.error?.message).toContain("no JSON-RPC batches");
  });

  it(`hold at most ${MAX_BATCH} messages under older protocol versions, and are answered whole within that`, async () => {
    const old = { "mcp-protocol-version": "2025-03-26" };
    const tooMany = await rawMcp(JSON.stringify(Array.from({ length: 100 }, (_, index) => ping(index + 1))), old);
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as JsonRpcReply).error?.message).toContain(`1 to ${MAX_BATCH} messages`);
    const fine = await rawMcp(JSON.stringify([ping(1), ping(2)]), old);
    expect(fine.status).toBe(200);
    const replies = (await fine.json()) as JsonRpcReply[];
    expect(replies.map((reply) => [reply.id, reply.error])).toEqual([
      [1, undefined],
      [2, undefined],
    ]);
  });
});

describe("huge strings", () => {
  it("a 2 MB 'to' is refused at once, naming the field, and the error quotes little of it", async () => {
    const before = await tableDigest(db);
    const text = await toolError("send_message", { ...samples.send_message, to: "x".repeat(2 * 1024 * 1024) });
    expect(text).toMatch(/^INVALID_ARGUMENT: /);
    expect(text).toContain("to");
    expect(text.length).toBeLessThan(MAX_ERROR_TEXT);
    expect(await tableDigest(db)).toEqual(before);
  });

  it(`errors quote at most ${QUOTE_MAX} characters of any value`, async () => {
    const long = "Z".repeat(500);
    const errors = [
      await toolError("send_message", { ...samples.send_message, to: [long] }),
      await toolError("fetch_inbox", { ...samples.fetch_inbox, agent_name: long.slice(0, 128) }),
      await toolError("fetch_inbox", { ...samples.fetch_inbox, project_key: long }),
      await toolError("fetch_inbox", { ...samples.fetch_inbox, since_ts: "2026-".padEnd(64, "9") }),
      await toolError("send_message", { ...samples.send_message, thread_id: `-${long.slice(0, 200)}` }),
      await toolError("no_such_tool_".padEnd(400, "x"), {}),
    ];
    for (const text of errors) {
      expect(text.length, text).toBeLessThan(MAX_ERROR_TEXT);
      expect(text).not.toContain("Z".repeat(QUOTE_MAX + 1));
    }
  });
});

describe("tRPC", () => {
  it(`answers a batch of more than ${TRPC_MAX_BATCH} calls with 400, and serves one within the limit`, async () => {
    const batch = (size: number) => {
      const url = new URL(`/api/trpc/${Array.from({ length: size }, () => "system.health").join(",")}`, server.url);
      url.searchParams.set("batch", "1");
      url.searchParams.set("input", JSON.stringify(Object.fromEntries(Array.from({ length: size }, (_, index) => [index, {}]))));
      return fetch(url);
    };
    expect((await batch(100)).status).toBe(400);
    const fine = await batch(TRPC_MAX_BATCH);
    expect(fine.status).toBe(200);
    expect(((await fine.json()) as unknown[]).length).toBe(TRPC_MAX_BATCH);
  });

  it("answers a malformed JSON body with 400, without the parser's text", async () => {
    const response = await fetch(new URL("/api/trpc/projects.ensure", server.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{ not json",
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toBe("The request body is not valid JSON.");
  });

  it("answers NUL and out-of-range integers with 400 naming the field", async () => {
    const nul = await fetch(new URL("/api/trpc/projects.ensure", server.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ human_key: "/a\u0000b" }),
    });
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { error: { message: string } }).error.message).toContain("human_key: must not contain the NUL character");
    const url = new URL("/api/trpc/messages.get", server.url);
    url.searchParams.set("input", JSON.stringify({ project_key: PROJECT, message_id: 2 ** 31 }));
    const big = await fetch(url);
    expect(big.status).toBe(400);
    expect(((await big.json()) as { error: { message: string } }).error.message).toContain("message_id");
  });
});

describe("the event stream", () => {
  it("answers HEAD (and other methods) at once with 405", async () => {
    for (const method of ["HEAD", "POST", "DELETE"]) {
      const response = await fetch(new URL(`/api/events?project=${encodeURIComponent(PROJECT)}`, server.url), { method, signal: AbortSignal.timeout(10_000) });
      expect([method, response.status, response.headers.get("allow")]).toEqual([method, 405, "GET"]);
    }
  });

  it("names the missing project of an agent's stream", async () => {
    const response = await fetch(new URL("/api/events?agent=BlueDog", server.url));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe("project is required with agent: an agent's stream is of its project.");
  });
});

describe("authentication errors", () => {
  it("name the token field and say nothing of sessions this server does not have", async () => {
    const text = await toolError("fetch_inbox", { project_key: PROJECT, agent_name: "BlueDog" });
    expect(text).toBe(
      "AUTHENTICATION_REQUIRED: fetch_inbox requires registration_token for agent 'BlueDog': pass the token register_agent returned on every call (this server keeps no sessions).",
    );
    const send = await toolError("send_message", { ...samples.send_message, sender_token: undefined });
    expect(send).toContain("send_message requires sender_token");
  });
});
