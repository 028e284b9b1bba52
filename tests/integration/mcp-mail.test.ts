import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult, TextResourceContents } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";

// Mail end to end through the MCP SDK client over real Streamable HTTP: four agents hold a
// conversation (to, cc and bcc), reply, acknowledge, search, summarise and read the resources,
// each call authenticated by the agent's registration_token as an HTTP client must.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let client: Client;

const HUMAN_KEY = "/work/mail-over-mcp";
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
const MESSAGE_BASE = ["id", "project_id", "sender_id", "thread_id", "topic", "subject", "importance", "ack_required", "created_ts", "attachments"];
const SEND_PAYLOAD = [...MESSAGE_BASE, "from", "to", "cc", "bcc", "body_md"].sort();
const INBOX_ITEM = [...MESSAGE_BASE, "from", "kind"].sort();
const MAIL_TOOLS = [
  "send_message",
  "reply_message",
  "fetch_inbox",
  "wait_for_mail",
  "mark_message_read",
  "acknowledge_message",
  "fetch_topic",
  "get_message_receipts",
  "search_messages",
  "summarize_thread",
  "summarize_recent",
  "fetch_summary",
  "purge_old_messages",
];

interface Agent {
  id: number;
  name: string;
  token: string;
}
interface Payload {
  id: number;
  project_id: number;
  sender_id: number;
  thread_id: string | null;
  topic: string | null;
  subject: string;
  importance: string;
  ack_required: boolean;
  created_ts: string;
  attachments: unknown[];
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  body_md?: string;
  kind?: string;
}
interface SendResult {
  deliveries: { project: string; payload: Payload }[];
  count: number;
  verified_sender: true;
  idempotent_replay?: true;
}

let project: { id: number; slug: string; human_key: string };
const agents: Record<"A" | "B" | "C" | "D", Agent> = {} as never;
const NAMES = { A: "BlueLake", B: "GreenCastle", C: "RedStone", D: "GoldPeak" } as const;

let sent: SendResult;
let original: Payload;
let reply: Payload & { reply_to: number; deliveries: SendResult["deliveries"]; count: number };

const auth = (who: keyof typeof agents) => ({ agent_name: agents[who].name, registration_token: agents[who].token });
const sender = (who: keyof typeof agents) => ({ sender_name: agents[who].name, sender_token: agents[who].token });

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db);
  client = await connectMcp(server.url);
  project = await callOk(client, "ensure_project", { human_key: HUMAN_KEY });
  for (const [role, name] of Object.entries(NAMES) as [keyof typeof NAMES, string][]) {
    const agent = await callOk<{ id: number; name: string; registration_token: string }>(client, "register_agent", {
      project_key: project.slug,
      program: "claude-code",
      model: "opus",
      name,
      task_description: `mail test agent ${role}`,
    });
    expect(agent.name).toBe(name);
    agents[role] = { id: agent.id, name: agent.name, token: agent.registration_token };
  }
});
afterAll(async () => {
  await client?.close();
  await server?.close();
  await db?.close();
});

async function readJson<T = Record<string, unknown>>(uri: string): Promise<T> {
  const result = await client.readResource({ uri });
  const content = result.contents[0] as TextResourceContents;
  expect(content.mimeType).toBe("application/json");
  return JSON.parse(content.text) as T;
}

async function inbox(who: keyof typeof agents, args: Record<string, unknown> = {}): Promise<Payload[]> {
  const result = await callOk<{ result: Payload[] }>(client, "fetch_inbox", { project_key: project.slug, ...auth(who), ...args });
  return result.result;
}

describe("a four-agent conversation over MCP", () => {
  it("A sends to B, cc C, bcc D: the full send payload and result", async () => {
    sent = await callOk<SendResult>(client, "send_message", {
      project_key: project.human_key,
      ...sender("A"),
      to: [agents.B.name],
      cc: [agents.C.name],
      bcc: agents.D.name, // a single string is accepted
      subject: "Migrate the billing schema",
      body_md: [
        "Plan for the **billing** migration:",
        "- freeze writes on `src/billing/schema.ts`",
        "- [ ] TODO backfill invoices",
        "- [x] snapshot the database",
        "@GreenCastle please confirm.",
      ].join("\n"),
      importance: "high",
      ack_required: true,
      topic: "billing",
    });
    expect(Object.keys(sent).sort()).toEqual(["count", "deliveries", "verified_sender"]);
    expect(sent).toMatchObject({ count: 1, verified_sender: true });
    expect(sent.deliveries).toHaveLength(1);
    expect(sent.deliveries[0]!.project).toBe(HUMAN_KEY);

    original = sent.deliveries[0]!.payload;
    expect(Object.keys(original).sort()).toEqual(SEND_PAYLOAD);
    expect(original).toEqual({
      id: expect.any(Number),
      project_id: project.id,
      sender_id: agents.A.id,
      thread_id: null,
      topic: "billing",
      subject: "Migrate the billing schema",
      importance: "high",
      ack_required: true,
      created_ts: expect.stringMatching(ISO_UTC),
      attachments: [],
      from: "BlueLake",
      to: ["GreenCastle"],
      cc: ["RedStone"],
      bcc: ["GoldPeak"],
      body_md: expect.stringContaining("billing** migration"),
    });
    expect(Number.isInteger(original.id)).toBe(true);
  });

  it("every recipient finds it in fetch_inbox with its own kind; bodies only on request", async () => {
    for (const [who, kind] of [["B", "to"], ["C", "cc"], ["D", "bcc"]] as const) {
      const items = await inbox(who);
      expect(items.map((item) => item.id)).toEqual([original.id]);
      const item = items[0]!;
      expect(Object.keys(item).sort()).toEqual(INBOX_ITEM);
      expect(item).toMatchObject({ kind, from: "BlueLake", subject: original.subject, importance: "high", ack_required: true, topic: "billing" });
      expect(item).not.toHaveProperty("read_ts");
      expect(item).not.toHaveProperty("body_md");
    }
    const [withBody] = await inbox("B", { include_bodies: true });
    expect(withBody!.body_md).toBe(original.body_md);
    // The sender has no copy in its inbox.
    expect(await inbox("A")).toEqual([]);
  });

  it("B replies: same thread, Re: subject, inherited flags, to A by default", async () => {
    reply = await callOk(client, "reply_message", {
      project_key: project.slug,
      ...sender("B"),
      message_id: original.id,
      body_md: "Confirmed. NEXT: run the backfill tonight.",
    });
    expect(reply).toMatchObject({
      thread_id: String(original.id),
      reply_to: original.id,
      count: 1,
      verified_sender: true,
      subject: "Re: Migrate the billing schema",
      importance: "high",
      ack_required: true,
      topic: "billing",
      from: "GreenCastle",
      to: ["BlueLake"],
      cc: [],
      bcc: [],
    });
    expect(reply.deliveries).toHaveLength(1);
    expect(reply.deliveries[0]!.payload.id).toBe(reply.id);
    expect(reply.id).toBeGreaterThan(original.id);

    const [inA] = await inbox("A");
    expect(inA).toMatchObject({ id: reply.id, kind: "to", thread_id: String(original.id), from: "GreenCastle" });
    // A reply that already starts with the prefix is not prefixed twice.
    const again = await callOk<{ subject: string; thread_id: string }>(client, "reply_message", {
      project_key: project.slug,
      ...sender("A"),
      message_id: reply.id,
      body_md: "Thanks.",
      to: [agents.B.name],
    });
    expect(again).toMatchObject({ subject: "Re: Migrate the billing schema", thread_id: String(original.id) });
  });

  it("B acknowledges the original (which also marks it read), idempotently", async () => {
    const first = await callOk<{ message_id: number; acknowledged: boolean; acknowledged_at: string; read_at: string }>(
      client,
      "acknowledge_message",
      { project_key: project.slug, ...auth("B"), message_id: original.id },
    );
    expect(first).toMatchObject({ message_id: original.id, acknowledged: true });
    expect(first.acknowledged_at).toMatch(ISO_UTC);
    expect(first.read_at).toMatch(ISO_UTC);
    const second = await callOk(client, "acknowledge_message", { project_key: project.slug, ...auth("B"), message_id: original.id });
    expect(second).toEqual(first);
  });

  it("C finds the message with search_messages, with a highlighted snippet and a rank", async () => {
    const hits = (await callOk<{ result: Record<string, unknown>[] }>(client, "search_messages", {
      project_key: project.slug,
      ...auth("C"),
      query: "backfill invoices",
    })).result;
    expect(hits.map((hit) => hit.id)).toEqual([original.id]);
    const hit = hits[0]!;
    expect(hit).toMatchObject({
      id: original.id,
      subject: original.subject,
      importance: "high",
      ack_required: true,
      created_ts: original.created_ts,
      thread_id: null,
      from: "BlueLake",
    });
    expect(hit.snippet).toMatch(/<mark>backfill<\/mark>/i);
    expect(typeof hit.rank).toBe("number");
    expect(hit.rank as number).toBeGreaterThan(0);

    // B's reply (to A only) is not C's to see; B sees both.
    const tonight = (await callOk<{ result: { id: number }[] }>(client, "search_messages", { project_key: project.slug, ...auth("C"), query: "tonight" })).result;
    expect(tonight).toEqual([]);
    const forB = (await callOk<{ result: { id: number }[] }>(client, "search_messages", { project_key: project.slug, ...auth("B"), query: "tonight" })).result;
    expect(forB.map((hit) => hit.id)).toEqual([reply.id]);
  });

  it("bcc is private: D sees itself, C and B see no bcc, the sender sees D", async () => {
    const view = async (who: keyof typeof agents) =>
      readJson<Payload>(`resource://message/${original.id}?project=${project.slug}&agent=${agents[who].name}&agent_token=${agents[who].token}`);
    const asC = await view("C");
    expect(asC).toMatchObject({ id: original.id, to: ["GreenCastle"], cc: ["RedStone"], bcc: [], kind: "cc", body_md: original.body_md });
    expect((await view("B")).bcc).toEqual([]);
    expect(await view("D")).toMatchObject({ bcc: ["GoldPeak"], kind: "bcc" });
    expect((await view("A")).bcc).toEqual(["GoldPeak"]);

    // Someone outside the message cannot read it.
    await expect(
      client.readResource({ uri: `resource://message/${reply.id}?project=${project.slug}&agent=RedStone&agent_token=${agents.C.token}` }),
    ).rejects.toThrow(/NOT_FOUND: .*not found/);
    // A wrong token is refused.
    await expect(
      client.readResource({ uri: `resource://message/${original.id}?project=${project.slug}&agent=RedStone&agent_token=${agents.D.token}` }),
    ).rejects.toThrow(/AUTHENTICATION_REQUIRED/);
  });

  it("A summarises the thread: participants, key points, action items, mentions, code references", async () => {
    const summary = await callOk<{ thread_id: string; summary: Record<string, unknown>; examples: unknown[] }>(client, "summarize_thread", {
      project_key: project.slug,
      ...auth("A"),
      thread_id: String(original.id),
      include_examples: true,
    });
    expect(summary.thread_id).toBe(String(original.id));
    expect(summary.summary).toMatchObject({
      participants: ["BlueLake", "GreenCastle"],
      total_messages: 3,
      open_actions: 1,
      done_actions: 1,
      mentions: [{ name: "GreenCastle", count: 1 }],
      code_references: ["src/billing/schema.ts"],
    });
    expect(summary.summary.key_points).toEqual(expect.arrayContaining(["freeze writes on `src/billing/schema.ts`", "TODO backfill invoices"]));
    expect(summary.summary.action_items).toEqual(expect.arrayContaining(["TODO backfill invoices", "Confirmed. NEXT: run the backfill tonight."]));
    expect(summary.examples).toHaveLength(3);
    expect(summary.examples[0]).toMatchObject({ id: original.id, subject: original.subject, from: "BlueLake" });

    // C sees only the original in that thread.
    const forC = await callOk<{ summary: { total_messages: number; participants: string[] } }>(client, "summarize_thread", {
      project_key: project.slug,
      ...auth("C"),
      thread_id: String(original.id),
    });
    expect(forC.summary).toMatchObject({ total_messages: 1, participants: ["BlueLake"] });
  });

  it("get_message_receipts shows A that B read and acknowledged, C and D not yet", async () => {
    await callOk(client, "mark_message_read", { project_key: project.slug, ...auth("D"), message_id: original.id });
    const receipts = await callOk<{
      message_id: number;
      ack_required: boolean;
      recipients: { agent: string; kind: string; delivered_at: string; read_at: string | null; acknowledged_at: string | null }[];
      summary: { total: number; read: number; acknowledged: number };
    }>(client, "get_message_receipts", { project_key: project.slug, ...auth("A"), message_id: original.id });
    expect(receipts).toMatchObject({ message_id: original.id, subject: original.subject, ack_required: true, summary: { total: 3, read: 2, acknowledged: 1 } });
    const byName = Object.fromEntries(receipts.recipients.map((row) => [row.agent, row]));
    expect(byName.GreenCastle).toMatchObject({ kind: "to", delivered_at: original.created_ts });
    expect(byName.GreenCastle!.read_at).toMatch(ISO_UTC);
    expect(byName.GreenCastle!.acknowledged_at).toMatch(ISO_UTC);
    expect(byName.RedStone).toMatchObject({ kind: "cc", read_at: null, acknowledged_at: null });
    expect(byName.GoldPeak).toMatchObject({ kind: "bcc", acknowledged_at: null });
    expect(byName.GoldPeak!.read_at).toMatch(ISO_UTC);

    // Receipts are for the sender only.
    const text = await callError(client, "get_message_receipts", { project_key: project.slug, ...auth("B"), message_id: original.id });
    expect(text).toMatch(/^NOT_FOUND: /);
  });

  it("inbox, outbox, thread and view resources agree with the tools", async () => {
    const q = (who: keyof typeof agents) => `project=${project.slug}&agent_token=${agents[who].token}`;

    const inboxC = await readJson<{ project: string; agent: string; count: number; messages: Payload[] }>(`resource://inbox/RedStone?${q("C")}`);
    expect(inboxC).toMatchObject({ project: HUMAN_KEY, agent: "RedStone", count: 1, messages: [{ id: original.id, kind: "cc" }] });

    const outboxA = await readJson<{ count: number; messages: Payload[] }>(`resource://outbox/BlueLake?${q("A")}&include_bodies=true`);
    const original_in_outbox = outboxA.messages.find((message) => message.id === original.id)!;
    expect(original_in_outbox).toMatchObject({ to: ["GreenCastle"], cc: ["RedStone"], bcc: ["GoldPeak"], body_md: original.body_md });
    expect(outboxA.messages.map((message) => message.id)).toEqual([...outboxA.messages.map((m) => m.id)].sort((x, y) => y - x));

    const thread = await readJson<{ thread_id: string; messages: Payload[] }>(
      `resource://thread/${original.id}?project=${project.slug}&agent=BlueLake&agent_token=${agents.A.token}`,
    );
    expect(thread.thread_id).toBe(String(original.id));
    expect(thread.messages.map((message) => message.id)).toEqual([original.id, reply.id, reply.id + 1]);
    expect(thread.messages[0]!.bcc).toEqual(["GoldPeak"]);
    const threadForD = await readJson<{ messages: Payload[] }>(
      `resource://thread/${original.id}?project=${project.slug}&agent=GoldPeak&agent_token=${agents.D.token}`,
    );
    expect(threadForD.messages.map((message) => message.id)).toEqual([original.id]);

    // C has not read or acked: the message is urgent-unread and ack-required for C; B has acked.
    const urgentC = await readJson<{ messages: (Payload & { read_at: null; ack_at: null })[] }>(`resource://views/urgent-unread/RedStone?${q("C")}`);
    expect(urgentC.messages).toMatchObject([{ id: original.id, read_at: null, ack_at: null }]);
    const ackC = await readJson<{ messages: Payload[] }>(`resource://views/ack-required/RedStone?${q("C")}`);
    expect(ackC.messages.map((message) => message.id)).toEqual([original.id]);
    const ackB = await readJson<{ messages: Payload[] }>(`resource://views/ack-required/GreenCastle?${q("B")}`);
    expect(ackB.messages.map((message) => message.id)).not.toContain(original.id);
    const urgentB = await readJson<{ messages: Payload[] }>(`resource://views/urgent-unread/GreenCastle?${q("B")}`);
    expect(urgentB.messages.map((message) => message.id)).not.toContain(original.id);
    // ack_required mail younger than the TTL is not stale yet.
    const stale = await readJson<{ ttl_seconds: number; messages: Payload[] }>(`resource://views/acks-stale/RedStone?${q("C")}`);
    expect(stale).toMatchObject({ ttl_seconds: 1800, messages: [] });

    await expect(client.readResource({ uri: `resource://inbox/RedStone?project=${project.slug}` })).rejects.toThrow(/agent_token/);
  });

  it("wait_for_mail over MCP returns the waiting mail", async () => {
    const result = await callOk<{ woke: string; messages: Payload[] }>(client, "wait_for_mail", {
      project_key: project.slug,
      ...auth("C"),
      timeout_seconds: 10,
    });
    expect(result.woke).toBe("mail");
    expect(result.messages.map((message) => message.id)).toEqual([original.id]);
  });
});

describe("send_message over MCP: idempotency and validation", () => {
  it("the same idempotency_key twice returns the same message and delivers once", async () => {
    const args = {
      project_key: project.slug,
      ...sender("C"),
      to: [agents.D.name],
      subject: "Retry-safe",
      body_md: "sent once",
      idempotency_key: "retry-1",
    };
    const first = await callOk<SendResult>(client, "send_message", args);
    const second = await callOk<SendResult>(client, "send_message", args);
    expect(second.deliveries[0]!.payload.id).toBe(first.deliveries[0]!.payload.id);
    expect(second.idempotent_replay).toBe(true);
    expect(second.deliveries[0]!.payload).toMatchObject({ subject: "Retry-safe", from: "RedStone", to: ["GoldPeak"], body_md: "sent once" });
    const items = (await inbox("D")).filter((item) => item.subject === "Retry-safe");
    expect(items).toHaveLength(1);

    // Another key is another message.
    const third = await callOk<SendResult>(client, "send_message", { ...args, idempotency_key: "retry-2" });
    expect(third.deliveries[0]!.payload.id).not.toBe(first.deliveries[0]!.payload.id);
  });

  it("a wrong type or an unknown key is a tool error naming the field", async () => {
    const base = { project_key: project.slug, ...sender("A"), to: [agents.B.name], subject: "x", body_md: "y" };
    const raw = (await client.callTool({ name: "send_message", arguments: { ...base, importance: 5 } })) as CallToolResult;
    expect(raw.isError).toBe(true);
    const text = (raw.content[0] as { text: string }).text;
    expect(text).toMatch(/^INVALID_ARGUMENT: .*importance/);
    expect(raw.structuredContent).toMatchObject({ error: { type: "INVALID_ARGUMENT", message: expect.stringContaining("importance") } });

    expect(await callError(client, "send_message", { ...base, colour: "red" })).toMatch(/^INVALID_ARGUMENT: .*colour/);
    expect(await callError(client, "send_message", { ...base, sender_token: "wrong" })).toMatch(/^AUTHENTICATION_REQUIRED: .*sender_token/);
    expect(await callError(client, "send_message", { ...base, to: ["SilentGlacier"] })).toMatch(/not (found|registered)/i);
    expect(await callError(client, "send_message", { ...base, topic: "spaces not allowed" })).toMatch(/^INVALID_TOPIC: /);
    expect(await callError(client, "reply_message", { project_key: project.slug, ...sender("A"), message_id: 999_999, body_md: "?" })).toMatch(
      /^NOT_FOUND: .*not found/,
    );
    // Nothing was delivered by any of these.
    expect((await inbox("B")).filter((item) => item.subject === "x")).toEqual([]);
  });
});

describe("tools/list", () => {
  it("includes every mail tool, each with an object inputSchema", async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const name of MAIL_TOOLS) {
      const tool = byName.get(name);
      expect(tool, name).toBeDefined();
      expect(tool!.inputSchema.type).toBe("object");
      expect(tool!.description?.length).toBeGreaterThan(10);
    }
    const send = byName.get("send_message")!.inputSchema;
    expect(send.properties).toEqual(expect.objectContaining({ to: expect.anything(), idempotency_key: expect.anything(), sender_token: expect.anything() }));
    expect(send.required).toEqual(expect.arrayContaining(["project_key", "sender_name", "body_md"]));
    expect(byName.get("wait_for_mail")!.inputSchema.properties).toHaveProperty("timeout_seconds");
  });

  it("?profile=core lists fewer tools, still with the core mail tools", async () => {
    const core = await connectMcp(server.url, "/api/mcp?profile=core");
    try {
      const full = (await client.listTools()).tools.map((tool) => tool.name);
      const names = (await core.listTools()).tools.map((tool) => tool.name);
      expect(names.length).toBeLessThan(full.length);
      expect(names).toEqual(expect.arrayContaining(["send_message", "reply_message", "fetch_inbox", "wait_for_mail", "acknowledge_message", "search_messages"]));
      expect(names).not.toContain("summarize_thread");
      expect(names).not.toContain("purge_old_messages");
      expect(full.filter((name) => names.includes(name))).toEqual(names);
    } finally {
      await core.close();
    }
  });
});
