import { rmSync } from "node:fs";
import { createServer } from "node:net";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDatabase,
  makeDataDir,
  printServerLogOnFailure,
  requireBuild,
  spawnServer,
  waitUntilReady,
  type App,
} from "./support/app-server";
import { callOk, callTool, connectMcp, resultText, uniqueProjectPath, type AgentResult, type ProjectResult } from "./support/mcp";

// Three agents hold a short conversation through the BUILT app's /api/mcp: send (to + cc),
// inbox, reply, acknowledge, search, summarise, receipts — plus the real-time paths, which only
// work if the production server streams: wait_for_mail woken by a send, and /api/events (SSE).

/** This file's servers use 3400-3499 (the shared harness hands out 3200-3299 to the others). */
const PORT_MIN = 3400;
const PORT_MAX = 3499;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const span = PORT_MAX - PORT_MIN + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i += 1) {
    const port = PORT_MIN + ((start + i) % span);
    if (await portIsFree(port)) return port;
  }
  throw new Error(`No free port between ${PORT_MIN} and ${PORT_MAX}.`);
}

/** Like the harness's startApp (E2E_BASE_URL, E2E_DATABASE_URL), on this file's ports. */
async function startMailApp(): Promise<App> {
  const external = process.env.E2E_BASE_URL;
  if (external) return { url: external.replace(/\/+$/, ""), mode: "external", stop: async () => {} };
  requireBuild();
  const dataDir = makeDataDir();
  const serverUrl = process.env.E2E_DATABASE_URL;
  const database = serverUrl ? await createDatabase(serverUrl) : undefined;
  const cleanup = async (kill?: () => Promise<void>) => {
    await kill?.();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  for (let attempt = 1; ; attempt += 1) {
    const server = await spawnServer({ dataDir, databaseUrl: database?.url, port: await freePort() });
    try {
      await waitUntilReady(server);
    } catch (error) {
      if (attempt < 3 && server.output().includes("EADDRINUSE")) continue;
      await cleanup(() => server.kill());
      throw error;
    }
    return { url: server.url, mode: database ? "postgres" : "pglite", server, dataDir, stop: () => cleanup(() => server.kill()) };
  }
}

interface Payload {
  id: number;
  thread_id: string | null;
  subject: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  importance: string;
  ack_required: boolean;
  created_ts: string;
  kind?: string;
}
interface SendResult {
  deliveries: { project: string; payload: Payload }[];
  count: number;
  verified_sender: boolean;
}

let app: App;
let client: Client;
let project: ProjectResult;
const agents: Record<"A" | "B" | "C", { name: string; token: string }> = {} as never;
let original: Payload;
let replyId: number;

beforeAll(async () => {
  app = await startMailApp();
  client = await connectMcp(app.url);
  project = await callOk<ProjectResult>(client, "ensure_project", { human_key: uniqueProjectPath("mail") });
  for (const role of ["A", "B", "C"] as const) {
    const agent = await callOk<AgentResult>(client, "register_agent", {
      project_key: project.slug,
      program: "claude-code",
      model: "opus",
      task_description: `e2e mail ${role}`,
    });
    agents[role] = { name: agent.name, token: agent.registration_token! };
    // The default policy (auto) refuses first contact; these agents accept mail from anyone.
    await callOk(client, "set_contact_policy", { project_key: project.slug, agent_name: agent.name, registration_token: agent.registration_token, policy: "open" });
  }
});

printServerLogOnFailure(() => app);

afterAll(async () => {
  await client?.close();
  await app?.stop();
});

const auth = (role: "A" | "B" | "C") => ({ project_key: project.slug, agent_name: agents[role].name, registration_token: agents[role].token });

describe("mail between three agents against the production server", () => {
  it("A sends to B with C in cc", async () => {
    const result = await callOk<SendResult>(client, "send_message", {
      project_key: project.human_key,
      sender_name: agents.A.name,
      sender_token: agents.A.token,
      to: [agents.B.name],
      cc: [agents.C.name],
      subject: "Deploy window",
      body_md: "Deploy at 18:00.\n- [ ] TODO freeze merges\n- rollback plan in `docs/rollback.md`",
      importance: "high",
      ack_required: true,
    });
    expect(result).toMatchObject({ count: 1, verified_sender: true });
    expect(result.deliveries[0]!.project).toBe(project.human_key);
    original = result.deliveries[0]!.payload;
    expect(original).toMatchObject({
      subject: "Deploy window",
      from: agents.A.name,
      to: [agents.B.name],
      cc: [agents.C.name],
      bcc: [],
      importance: "high",
      ack_required: true,
      thread_id: null,
    });
    expect(original.created_ts).toMatch(/\+00:00$/);

    const inboxB = await callOk<{ result: Payload[] }>(client, "fetch_inbox", auth("B"));
    expect(inboxB.result).toMatchObject([{ id: original.id, kind: "to", from: agents.A.name }]);
    const inboxC = await callOk<{ result: Payload[] }>(client, "fetch_inbox", auth("C"));
    expect(inboxC.result).toMatchObject([{ id: original.id, kind: "cc" }]);
  });

  it("B replies in the thread and acknowledges", async () => {
    const reply = await callOk<Payload & { reply_to: number; count: number }>(client, "reply_message", {
      project_key: project.slug,
      message_id: original.id,
      sender_name: agents.B.name,
      sender_token: agents.B.token,
      body_md: "Ack. NEXT: I will watch the dashboards.",
    });
    expect(reply).toMatchObject({
      thread_id: String(original.id),
      reply_to: original.id,
      subject: "Re: Deploy window",
      to: [agents.A.name],
      importance: "high",
      count: 1,
    });
    replyId = reply.id;

    const ack = await callOk<{ acknowledged: boolean; read_at: string | null }>(client, "acknowledge_message", { ...auth("B"), message_id: original.id });
    expect(ack.acknowledged).toBe(true);
    expect(ack.read_at).not.toBeNull();

    const receipts = await callOk<{ summary: { total: number; read: number; acknowledged: number } }>(client, "get_message_receipts", {
      ...auth("A"),
      message_id: original.id,
    });
    expect(receipts.summary).toEqual({ total: 2, read: 1, acknowledged: 1 });
  });

  it("C searches and finds the original, not the reply it was not sent", async () => {
    const hits = await callOk<{ result: { id: number; snippet: string; rank: number }[] }>(client, "search_messages", {
      ...auth("C"),
      query: "deploy",
    });
    expect(hits.result.map((hit) => hit.id)).toEqual([original.id]);
    expect(hits.result[0]!.snippet).toMatch(/<mark>/);
    const forA = await callOk<{ result: { id: number }[] }>(client, "search_messages", { ...auth("A"), query: "dashboards" });
    expect(forA.result.map((hit) => hit.id)).toEqual([replyId]);
  });

  it("A summarises the thread", async () => {
    const summary = await callOk<{ thread_id: string; summary: { participants: string[]; total_messages: number; action_items: string[] } }>(
      client,
      "summarize_thread",
      { ...auth("A"), thread_id: String(original.id) },
    );
    expect(summary.thread_id).toBe(String(original.id));
    expect(summary.summary.total_messages).toBe(2);
    expect(summary.summary.participants).toEqual([agents.A.name, agents.B.name].sort());
    expect(summary.summary.action_items).toEqual(expect.arrayContaining(["TODO freeze merges"]));
  });

  it("a tool error comes back as isError with the code", async () => {
    const result = await callTool(client, "send_message", {
      project_key: project.slug,
      sender_name: agents.A.name,
      sender_token: "not-the-token",
      to: [agents.B.name],
      subject: "x",
      body_md: "y",
    });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/^AUTHENTICATION_REQUIRED: .*sender_token/);
  });
});

describe("real-time delivery through the production server", () => {
  it("wait_for_mail blocks until a send wakes it", async () => {
    let settled = false;
    const waiting = callOk<{ woke: string; messages: { id: number }[] }>(client, "wait_for_mail", { ...auth("C"), since_id: replyId, timeout_seconds: 30 });
    void waiting.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(settled).toBe(false);
    const sent = await callOk<SendResult>(client, "send_message", {
      project_key: project.slug,
      sender_name: agents.A.name,
      sender_token: agents.A.token,
      to: [agents.C.name],
      subject: "Ping",
      body_md: "are you there?",
    });
    const result = await waiting;
    expect(result.woke).toBe("mail");
    expect(result.messages.map((message) => message.id)).toEqual([sent.deliveries[0]!.payload.id]);
  });

  it("/api/events streams a message event to the addressee as it happens", async () => {
    const controller = new AbortController();
    const url = new URL("/api/events", app.url);
    url.search = new URLSearchParams({ project: project.slug, agent: agents.B.name, agent_token: agents.B.token }).toString();
    const response = await fetch(url, { signal: controller.signal, headers: { accept: "text/event-stream" } });
    try {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/event-stream");
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      const nextEvent = async (): Promise<{ event: string; data: Record<string, unknown> }> => {
        for (;;) {
          const frames = buffer.split("\n\n");
          while (frames.length > 1) {
            const frame = frames.shift()!;
            buffer = frames.join("\n\n");
            const event = /^event: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (event && data) return { event, data: JSON.parse(data) as Record<string, unknown> };
          }
          const { done, value } = await reader.read();
          if (done) throw new Error("stream ended");
          buffer += decoder.decode(value, { stream: true });
        }
      };
      expect(await nextEvent()).toEqual({ event: "ready", data: { project: project.slug, agent: agents.B.name } });

      const sent = await callOk<SendResult>(client, "send_message", {
        project_key: project.slug,
        sender_name: agents.C.name,
        sender_token: agents.C.token,
        to: [agents.B.name],
        subject: "Live",
        body_md: "streamed",
      });
      const id = sent.deliveries[0]!.payload.id;
      expect(await nextEvent()).toMatchObject({ event: "message", data: { id, subject: "Live", from: agents.C.name, kind: "to" } });

      await callOk(client, "mark_message_read", { ...auth("B"), message_id: id });
      expect(await nextEvent()).toMatchObject({ event: "read", data: { message_id: id } });
    } finally {
      controller.abort();
    }

    const refused = await fetch(`${url.origin}/api/events?project=${project.slug}&agent=${agents.B.name}&agent_token=wrong`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe("AUTHENTICATION_REQUIRED");
  });
});
