import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "@/server/db/client";
import { createEventBus, waitForEvent, type EventBus, type MailEvent } from "@/server/events/bus";
import { createHandlers } from "@/server/http/handlers";
import { testConfig } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";
import { openEventStream, SseReader, type EventStream } from "../helpers/sse";

// Real-time wake-ups: wait_for_mail over MCP, LISTEN/NOTIFY across two server instances, and the
// /api/events SSE stream — all over real HTTP against the app's own handlers.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let client: Client;

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db);
  client = await connectMcp(server.url);
});
afterAll(async () => {
  await client?.close();
  await server?.close();
  await db?.close();
});

interface InboxItem {
  id: number;
  subject: string;
  from: string;
  kind: string;
  importance: string;
  body_md?: string;
}
interface WaitResult {
  agent: string;
  woke: "mail" | "timeout";
  waited_ms: number;
  count: number;
  messages: InboxItem[];
}
interface SendResult {
  deliveries: { project: string; payload: { id: number; subject: string; thread_id: string | null } }[];
  count: number;
}

let projects = 0;
/** A project of its own for each test, so no test sees another's mail. */
async function freshProject<N extends string>(names: N[]): Promise<{ humanKey: string; slug: string; agents: Record<N, TestAgent> }> {
  projects += 1;
  const humanKey = `/wake/test-${projects}`;
  const { project, agents } = await projectWithAgents(db, humanKey, names);
  return { humanKey, slug: project.slug, agents: agents as Record<N, TestAgent> };
}

async function send(
  mcp: Client,
  projectKey: string,
  from: TestAgent,
  to: TestAgent[],
  subject: string,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const result = await callOk<SendResult>(mcp, "send_message", {
    project_key: projectKey,
    sender_name: from.name,
    sender_token: from.token,
    to: to.map((agent) => agent.name),
    subject,
    body_md: `body of ${subject}`,
    ...extra,
  });
  expect(result.count).toBe(1);
  return result.deliveries[0]!.payload.id;
}

function waitForMail(mcp: Client, projectKey: string, agent: TestAgent, args: Record<string, unknown> = {}): Promise<WaitResult> {
  return callOk<WaitResult>(mcp, "wait_for_mail", {
    project_key: projectKey,
    agent_name: agent.name,
    registration_token: agent.token,
    ...args,
  });
}

/** A promise plus whether it has settled yet (to prove a wait was still blocking). */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise, settled: () => settled };
}

/** Gives a just-started wait time to subscribe and look for mail before the test sends. */
const settle = (ms = 400) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long the waits that a send should wake are allowed to block. */
const WAKE_TIMEOUT_SECONDS = 30;

/**
 * The wait ended because a send woke it. Mail alone does not prove that: a wait nobody wakes still
 * looks once more at its deadline and finds the same mail there, so it must also have ended long
 * before that deadline.
 */
function expectWokenBySend(result: WaitResult): void {
  expect(result.woke).toBe("mail");
  expect(result.waited_ms).toBeLessThan((WAKE_TIMEOUT_SECONDS * 1000) / 2);
}

describe("wait_for_mail", () => {
  it("returns at once with the unread mail that is already waiting", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    const first = await send(client, humanKey, a, [b], "already here");
    const second = await send(client, humanKey, a, [b], "also here", { importance: "high" });

    const result = await waitForMail(client, humanKey, b, { timeout_seconds: 30 });
    expect(result).toMatchObject({ agent: "GreenCastle", woke: "mail", count: 2 });
    expect(result.messages.map((m) => m.id)).toEqual([second, first]);
    expect(result.messages[0]).toMatchObject({ subject: "also here", from: "BlueLake", kind: "to", importance: "high" });
    expect(result.messages[0]).not.toHaveProperty("body_md");

    const withBodies = await waitForMail(client, humanKey, b, { timeout_seconds: 30, include_bodies: true, urgent_only: true });
    expect(withBodies.messages.map((m) => m.id)).toEqual([second]);
    expect(withBodies.messages[0]!.body_md).toBe("body of also here");
  });

  it("times out with no messages when there is no mail", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake"]);
    const result = await waitForMail(client, humanKey, agents.BlueLake, { timeout_seconds: 1 });
    expect(result).toMatchObject({ agent: "BlueLake", woke: "timeout", count: 0, messages: [] });

    const immediate = await waitForMail(client, humanKey, agents.BlueLake, { timeout_seconds: 0 });
    expect(immediate).toMatchObject({ woke: "timeout", messages: [] });
  });

  it("blocks, then is woken by a send made while it waits", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    const waiting = track(waitForMail(client, humanKey, b, { timeout_seconds: WAKE_TIMEOUT_SECONDS, include_bodies: true }));
    await settle();
    expect(waiting.settled()).toBe(false);

    const id = await send(client, humanKey, a, [b], "wake up");
    const result = await waiting.promise;
    expectWokenBySend(result);
    expect(result.messages.map((m) => m.id)).toEqual([id]);
    expect(result.messages[0]).toMatchObject({ subject: "wake up", from: "BlueLake", kind: "to", body_md: "body of wake up" });
  });

  it("is woken by cc and bcc deliveries too", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle", "RedStone"]);
    const { BlueLake: a, GreenCastle: b, RedStone: c } = agents;
    const ccWait = track(waitForMail(client, humanKey, b, { timeout_seconds: WAKE_TIMEOUT_SECONDS }));
    const bccWait = track(waitForMail(client, humanKey, c, { timeout_seconds: WAKE_TIMEOUT_SECONDS }));
    await settle();
    expect(ccWait.settled() || bccWait.settled()).toBe(false);

    const id = await send(client, humanKey, a, [a], "copies", { cc: [b.name], bcc: [c.name] });
    const [cc, bcc] = await Promise.all([ccWait.promise, bccWait.promise]);
    expect(cc).toMatchObject({ woke: "mail", messages: [{ id, kind: "cc" }] });
    expect(bcc).toMatchObject({ woke: "mail", messages: [{ id, kind: "bcc" }] });
    expectWokenBySend(cc);
    expectWokenBySend(bcc);
  });

  it("since_id: only mail newer than the cursor counts, read or not", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    const first = await send(client, humanKey, a, [b], "first");

    // Unread, but not newer than the cursor: the wait runs out.
    const atCursor = await waitForMail(client, humanKey, b, { timeout_seconds: 1, since_id: first });
    expect(atCursor).toMatchObject({ woke: "timeout", messages: [] });
    // Behind the cursor it is returned at once.
    const behind = await waitForMail(client, humanKey, b, { timeout_seconds: 30, since_id: first - 1 });
    expect(behind).toMatchObject({ woke: "mail", messages: [{ id: first }] });

    // Once read, it no longer counts without a cursor; with one it still does.
    await callOk(client, "mark_message_read", { project_key: humanKey, agent_name: b.name, registration_token: b.token, message_id: first });
    const unreadOnly = await waitForMail(client, humanKey, b, { timeout_seconds: 1 });
    expect(unreadOnly).toMatchObject({ woke: "timeout", messages: [] });
    const readButNewer = await waitForMail(client, humanKey, b, { timeout_seconds: 30, since_id: 0 });
    expect(readButNewer.messages.map((m) => m.id)).toEqual([first]);

    // A blocking wait with a cursor returns the new message alone, not the older unread one.
    const older = await send(client, humanKey, a, [b], "older, unread");
    const waiting = track(waitForMail(client, humanKey, b, { timeout_seconds: WAKE_TIMEOUT_SECONDS, since_id: older }));
    await settle();
    expect(waiting.settled()).toBe(false);
    const newer = await send(client, humanKey, a, [b], "newer");
    const woken = await waiting.promise;
    expectWokenBySend(woken);
    expect(woken.count).toBe(1);
    expect(woken.messages.map((m) => m.id)).toEqual([newer]);
  });

  it("is not woken by mail for another agent", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle", "RedStone"]);
    const { BlueLake: a, GreenCastle: b, RedStone: c } = agents;
    const waiting = track(waitForMail(client, humanKey, b, { timeout_seconds: 2 }));
    await settle();
    const id = await send(client, humanKey, a, [c], "not for B");
    expect(await waiting.promise).toMatchObject({ agent: "GreenCastle", woke: "timeout", count: 0, messages: [] });
    // The send did happen: its addressee has it waiting.
    expect(await waitForMail(client, humanKey, c, { timeout_seconds: 30 })).toMatchObject({ woke: "mail", messages: [{ id }] });
  });

  it("urgent_only keeps waiting through normal mail and wakes for urgent mail", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    const waiting = track(waitForMail(client, humanKey, b, { timeout_seconds: WAKE_TIMEOUT_SECONDS, urgent_only: true }));
    await settle();
    await send(client, humanKey, a, [b], "routine", { importance: "normal" });
    await settle();
    expect(waiting.settled()).toBe(false);
    const urgent = await send(client, humanKey, a, [b], "fire", { importance: "urgent" });
    const result = await waiting.promise;
    expectWokenBySend(result);
    expect(result.count).toBe(1);
    expect(result.messages.map((m) => m.id)).toEqual([urgent]);
  });

  it("needs the agent's token, and rejects a timeout over 60 s", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    // Mail is waiting, so any wait these checks let through would return at once, not block.
    await send(client, humanKey, a, [b], "waiting");
    const text = await callError(client, "wait_for_mail", { project_key: humanKey, agent_name: b.name, registration_token: "wrong" });
    expect(text).toMatch(/^AUTHENTICATION_REQUIRED: .*registration_token/);
    const tooLong = await callError(client, "wait_for_mail", {
      project_key: humanKey,
      agent_name: b.name,
      registration_token: b.token,
      timeout_seconds: 61,
    });
    expect(tooLong).toMatch(/^INVALID_ARGUMENT: .*timeout_seconds/);
    expect(await waitForMail(client, humanKey, b, { timeout_seconds: 60 })).toMatchObject({ woke: "mail", count: 1 });
  });
});

describe(`across two server instances (${process.env.TEST_DATABASE_URL ? "two Postgres pools, LISTEN/NOTIFY" : "one PGlite"})`, () => {
  // On Postgres the second instance has its own pool and its own LISTEN connection, as a second
  // process would: a wake-up can only reach it through the database. PGlite is embedded in one
  // process, so there the two servers share the database object.
  let second: Database;
  let server2: TestServer;
  let client2: Client;

  beforeAll(async () => {
    second = db.url ? await openDatabase({ url: db.url, poolMax: 4 }) : db;
    server2 = await startTestServer(second);
    client2 = await connectMcp(server2.url);
  });
  afterAll(async () => {
    await client2?.close();
    await server2?.close();
    if (second && second !== db) await second.close();
  });

  it("uses an independent database connection on Postgres", () => {
    if (db.kind === "postgres") {
      expect(second).not.toBe(db);
      expect(second.pool).not.toBe(db.pool);
    } else {
      expect(second).toBe(db);
    }
    expect(server2.url).not.toBe(server.url);
  });

  it("a wait on instance 1 is woken by a send on instance 2", async () => {
    const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    const waiting = track(waitForMail(client, humanKey, b, { timeout_seconds: WAKE_TIMEOUT_SECONDS }));
    await settle();
    expect(waiting.settled()).toBe(false);

    const id = await send(client2, humanKey, a, [b], "from the other instance");
    const result = await waiting.promise;
    expectWokenBySend(result);
    expect(result.messages.map((m) => m.id)).toEqual([id]);
    expect(result.messages[0]).toMatchObject({ subject: "from the other instance", from: "BlueLake" });
  });

  it("and the other way round, with an SSE stream on instance 2 seeing a send on instance 1", async () => {
    const { humanKey, slug, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    const stream = await openEventStream(server2.url, { project: slug, agent: b.name, agent_token: b.token });
    try {
      expect((await stream.events.next()).event).toBe("ready");
      const waiting = track(waitForMail(client2, humanKey, b, { timeout_seconds: WAKE_TIMEOUT_SECONDS }));
      await settle();
      expect(waiting.settled()).toBe(false);

      const id = await send(client, humanKey, a, [b], "from instance one");
      const result = await waiting.promise;
      expectWokenBySend(result);
      expect(result.messages.map((m) => m.id)).toEqual([id]);
      const { match } = await stream.events.until((event) => event.event === "message");
      expect(match.data).toMatchObject({ id, subject: "from instance one", from: "BlueLake" });
    } finally {
      stream.close();
    }
  });
});

describe("GET /api/events (SSE)", () => {
  const streams: EventStream[] = [];
  afterAll(() => streams.forEach((stream) => stream.close()));

  async function agentStream(slug: string, agent: TestAgent): Promise<EventStream> {
    const stream = await openEventStream(server.url, { project: slug, agent: agent.name, agent_token: agent.token });
    streams.push(stream);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get("content-type")).toBe("text/event-stream");
    expect(stream.response.headers.get("cache-control")).toBe("no-store");
    const ready = await stream.events.next();
    expect(ready).toEqual({ event: "ready", data: { project: slug, agent: agent.name } });
    return stream;
  }

  it("streams a new message to its addressee: headline, no body", async () => {
    const { humanKey, slug, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    const stream = await agentStream(slug, b);

    const result = await callOk<SendResult & { deliveries: { payload: Record<string, unknown> }[] }>(client, "send_message", {
      project_key: humanKey,
      sender_name: a.name,
      sender_token: a.token,
      to: [b.name],
      subject: "Stream me",
      body_md: "secret body",
      topic: "streams",
      importance: "high",
      ack_required: true,
    });
    const payload = result.deliveries[0]!.payload;
    const event = await stream.events.next();
    expect(event.event).toBe("message");
    expect(event.data).toEqual({
      id: payload.id,
      thread_id: null,
      topic: "streams",
      subject: "Stream me",
      from: "BlueLake",
      importance: "high",
      ack_required: true,
      created_ts: payload.created_ts,
      kind: "to",
    });
    stream.close();
  });

  it("follows the sender's mail into another project: the delivery there, then its read and ack", async () => {
    const home = await freshProject(["BlueLake"]);
    const away = await freshProject(["GreenCastle"]);
    const a = home.agents.BlueLake;
    const b = away.agents.GreenCastle;
    const senderStream = await agentStream(home.slug, a);
    const readerStream = await agentStream(away.slug, b);
    const result = await callOk<SendResult>(client, "send_message", {
      project_key: home.humanKey,
      sender_name: a.name,
      sender_token: a.token,
      to: [`project:${away.slug}#${b.name}`],
      subject: "across projects",
      body_md: "see the other repo",
    });
    const id = result.deliveries[0]!.payload.id;
    expect(result.deliveries[0]!.project).toBe(away.humanKey);
    expect(await senderStream.events.next()).toMatchObject({ event: "message", data: { id, from: "BlueLake" } });
    expect(await readerStream.events.next()).toMatchObject({ event: "message", data: { id, kind: "to" } });
    await callOk(client, "acknowledge_message", { project_key: away.humanKey, agent_name: b.name, registration_token: b.token, message_id: id });
    expect(await senderStream.events.next()).toEqual({ event: "read", data: { message_id: id, agent_id: b.id, agent: "GreenCastle" } });
    expect(await senderStream.events.next()).toEqual({ event: "ack", data: { message_id: id, agent_id: b.id, agent: "GreenCastle" } });
  });

  it("reads and acks go to the reader and the sender, not to the other recipients", async () => {
    const { humanKey, slug, agents } = await freshProject(["BlueLake", "GreenCastle", "RedStone", "GoldPeak"]);
    const { BlueLake: a, GreenCastle: b, RedStone: c, GoldPeak: d } = agents;
    const senderStream = await agentStream(slug, a);
    const readerStream = await agentStream(slug, b);
    const ccStream = await agentStream(slug, c);
    const bccStream = await agentStream(slug, d);

    const id = await send(client, humanKey, a, [b], "please ack", { cc: [c.name], bcc: [d.name], ack_required: true });
    // Every party sees the new message; the sender's own copy has no recipient kind.
    const sent = await senderStream.events.next();
    expect(sent).toMatchObject({ event: "message", data: { id, from: "BlueLake" } });
    expect(sent.data).not.toHaveProperty("kind");
    expect(await readerStream.events.next()).toMatchObject({ event: "message", data: { id, kind: "to" } });
    expect(await ccStream.events.next()).toMatchObject({ event: "message", data: { id, kind: "cc" } });
    expect(await bccStream.events.next()).toMatchObject({ event: "message", data: { id, kind: "bcc" } });

    const action = { project_key: humanKey, agent_name: b.name, registration_token: b.token, message_id: id };
    await callOk(client, "mark_message_read", action);
    await callOk(client, "mark_message_read", action); // idempotent: no second event
    await callOk(client, "acknowledge_message", action);

    for (const stream of [readerStream, senderStream]) {
      expect(await stream.events.next()).toEqual({ event: "read", data: { message_id: id, agent_id: b.id, agent: "GreenCastle" } });
      expect(await stream.events.next()).toEqual({ event: "ack", data: { message_id: id, agent_id: b.id, agent: "GreenCastle" } });
    }

    // The cc and bcc recipients got nothing about B's read or ack: the next thing they see is
    // a later message of their own.
    const sentinel = await send(client, humanKey, a, [c, d], "sentinel");
    for (const stream of [ccStream, bccStream]) {
      expect(await stream.events.next()).toMatchObject({ event: "message", data: { id: sentinel, subject: "sentinel" } });
    }
    // And the reader's stream did not repeat the read: its next event is its own next mail.
    const later = await send(client, humanKey, a, [b], "later");
    expect(await readerStream.events.next()).toMatchObject({ event: "message", data: { id: later } });
  });

  it("an agent's stream does not carry mail addressed only to others", async () => {
    const { humanKey, slug, agents } = await freshProject(["BlueLake", "GreenCastle", "RedStone"]);
    const { BlueLake: a, GreenCastle: b, RedStone: c } = agents;
    const stream = await agentStream(slug, c);
    const notMine = await send(client, humanKey, a, [b], "for B only");
    const alsoNotMine = await send(client, humanKey, b, [a], "B to A");
    const mine = await send(client, humanKey, a, [c], "for C");
    const { match, skipped } = await stream.events.until((event) => event.event === "message" && event.data.id === mine);
    expect(match.data).toMatchObject({ subject: "for C", kind: "to" });
    expect(skipped).toEqual([]);
    expect([notMine, alsoNotMine]).not.toContain(match.data.id);
  });

  it("the operator's project stream carries every message of the project and nothing of others", async () => {
    const first = await freshProject(["BlueLake", "GreenCastle"]);
    const other = await freshProject(["BlueLake", "GreenCastle"]);
    const stream = await openEventStream(server.url, { project: first.slug });
    streams.push(stream);
    expect(stream.response.status).toBe(200);
    expect(await stream.events.next()).toEqual({ event: "ready", data: { project: first.slug, agent: null } });

    const elsewhere = await send(client, other.humanKey, other.agents.BlueLake, [other.agents.GreenCastle], "other project");
    const here = await send(client, first.humanKey, first.agents.BlueLake, [first.agents.GreenCastle], "this project");
    const { match, skipped } = await stream.events.until((event) => event.event === "message");
    expect(skipped).toEqual([]);
    expect(match.data).toMatchObject({ id: here, subject: "this project", from: "BlueLake" });
    expect(match.data.id).not.toBe(elsewhere);
    expect(match.data).not.toHaveProperty("kind");
  });

  it("refuses a wrong or missing token with 401 and a missing project with 400, as JSON", async () => {
    const { slug, agents } = await freshProject(["BlueLake"]);
    const cases: [Record<string, string>, number, string, RegExp][] = [
      [{ project: slug, agent: "BlueLake", agent_token: "not-the-token" }, 401, "AUTHENTICATION_REQUIRED", /agent_token/],
      [{ project: slug, agent: "BlueLake" }, 401, "AUTHENTICATION_REQUIRED", /agent_token/],
      [{ agent: "BlueLake", agent_token: agents.BlueLake.token }, 400, "INVALID_ARGUMENT", /project/],
      [{ project: "no-such-project" }, 404, "NOT_FOUND", /not found/i],
      [{ project: slug, agent: "NoSuchAgent", agent_token: "x" }, 404, "NOT_FOUND", /not found/i],
    ];
    for (const [params, status, type, message] of cases) {
      const stream = await openEventStream(server.url, params);
      expect(stream.response.status, JSON.stringify(params)).toBe(status);
      expect(stream.response.headers.get("content-type")).toBe("application/json");
      const body = (await stream.response.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe(type);
      expect(body.error.message).toMatch(message);
    }
  });

  it("keeps serving after clients disconnect", async () => {
    const { humanKey, slug, agents } = await freshProject(["BlueLake", "GreenCastle"]);
    const { BlueLake: a, GreenCastle: b } = agents;
    for (let i = 0; i < 5; i += 1) (await agentStream(slug, b)).close();
    const stream = await agentStream(slug, b);
    const id = await send(client, humanKey, a, [b], "after disconnects");
    expect(await stream.events.next()).toMatchObject({ event: "message", data: { id } });
    stream.close();
  });
});

describe("the event bus", () => {
  // The bus the servers use, driven directly: events are what the database notified.
  it("delivers message, read and ack events with their project, message, agents and sender", async () => {
    const bus = await createEventBus(db, db.url);
    const seen: MailEvent[] = [];
    const unsubscribe = bus.subscribe((event) => seen.push(event));
    try {
      const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle", "RedStone"]);
      const { BlueLake: a, GreenCastle: b, RedStone: c } = agents;
      const ack = waitForEvent(bus, (event) => event.type === "ack", 30_000);
      const id = await send(client, humanKey, a, [b], "for the bus", { cc: [c.name] });
      await callOk(client, "acknowledge_message", { project_key: humanKey, agent_name: b.name, registration_token: b.token, message_id: id });
      expect(await ack.promise).toBeDefined();

      const mine = seen.filter((event) => event.type !== "reservation" && event.messageId === id);
      const projectId = mine[0]!.projectId;
      // Acknowledging unread mail also reads it, so watchers hear a read before the ack.
      expect(mine).toEqual([
        { type: "message", projectId, messageId: id, agentIds: expect.arrayContaining([b.id, c.id]), senderId: a.id },
        { type: "read", projectId, messageId: id, agentIds: [b.id], senderId: a.id },
        { type: "ack", projectId, messageId: id, agentIds: [b.id], senderId: a.id },
      ]);
      expect(mine[0]!.agentIds).toHaveLength(2);
    } finally {
      unsubscribe();
      await bus.close();
    }
  });

  it("waitForEvent with an already-aborted signal resolves undefined and does not linger", async () => {
    const bus = await createEventBus(db, db.url);
    try {
      const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
      const { BlueLake: a, GreenCastle: b } = agents;
      const aborted = waitForEvent(bus, (event) => event.agentIds.includes(b.id), 30_000, AbortSignal.abort());
      const live = waitForEvent(bus, (event) => event.agentIds.includes(b.id), 30_000);
      const id = await send(client, humanKey, a, [b], "after the abort");
      expect(await live.promise).toMatchObject({ type: "message", messageId: id });
      // Had the aborted wait stayed subscribed, the same event would have resolved it.
      expect(await aborted.promise).toBeUndefined();
    } finally {
      await bus.close();
    }
  });

  // Postgres only: the LISTEN connection is a real backend that can be killed.
  const listeners = async (admin: pg.Client, database: string) =>
    (
      await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()",
        [database],
      )
    ).rows.map((row) => row.pid);

  it("reconnects its LISTEN connection after the server drops it (Postgres)", async (context) => {
    if (!db.url) context.skip("PGlite has no connection to lose");
    const database = new URL(db.url!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const baseline = await listeners(admin, database);
    const bus = await createEventBus(db, db.url);
    try {
      const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
      const { BlueLake: a, GreenCastle: b } = agents;
      const before = (await listeners(admin, database)).filter((pid) => !baseline.includes(pid));
      expect(before).toHaveLength(1);
      await admin.query("SELECT pg_terminate_backend($1)", [before[0]]);

      // Each attempt sends one message and waits a while for it; the bus must come back.
      let delivered: MailEvent | undefined;
      for (let attempt = 0; attempt < 20 && !delivered; attempt += 1) {
        const wake = waitForEvent(bus, (event) => event.agentIds.includes(b.id), 1_000);
        await send(client, humanKey, a, [b], `attempt ${attempt}`);
        delivered = await wake.promise;
      }
      expect(delivered).toBeDefined();
      const after = await listeners(admin, database);
      expect(after.some((pid) => before.includes(pid))).toBe(false);
    } finally {
      await bus.close();
      await admin.end();
    }
  });

  it("wait_for_mail still returns mail committed while its LISTEN connection was down (Postgres)", async (context) => {
    if (!db.url) context.skip("PGlite has no connection to lose");
    const database = new URL(db.url!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const baseline = await listeners(admin, database);
    const third = await startTestServer(db);
    const thirdClient = await connectMcp(third.url); // its first request opens the server's bus
    try {
      const listener = (await listeners(admin, database)).filter((pid) => !baseline.includes(pid));
      expect(listener).toHaveLength(1);
      const { humanKey, agents } = await freshProject(["BlueLake", "GreenCastle"]);
      const { BlueLake: a, GreenCastle: b } = agents;
      const waiting = track(waitForMail(thirdClient, humanKey, b, { timeout_seconds: 3 }));
      await settle();
      expect(waiting.settled()).toBe(false);
      // Drop the waiting server's LISTEN connection and send at once, before it can reconnect:
      // the notification is lost, the mail is not.
      await admin.query("SELECT pg_terminate_backend($1)", [listener[0]]);
      const id = await send(client, humanKey, a, [b], "sent during the gap");
      const result = await waiting.promise;
      expect(result.woke).toBe("mail");
      expect(result.messages.map((m) => m.id)).toEqual([id]);
    } finally {
      await thirdClient.close();
      await third.close();
      await admin.end();
    }
  });

  it("close() during a reconnect leaves no LISTEN connection behind (Postgres)", async (context) => {
    if (!db.url) context.skip("PGlite has no connection to lose");
    const database = new URL(db.url!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const baseline = await listeners(admin, database);
      const bus = await createEventBus(db, db.url);
      const mine = (await listeners(admin, database)).filter((pid) => !baseline.includes(pid));
      expect(mine).toHaveLength(1);
      await admin.query("SELECT pg_terminate_backend($1)", [mine[0]]);
      // Once the backend is gone the bus has seen the error and scheduled its reconnect …
      while ((await listeners(admin, database)).includes(mine[0]!)) await settle(10);
      // … which close() must cancel.
      await bus.close();
      await settle(1_500);
      const leftover = (await listeners(admin, database)).filter((pid) => !baseline.includes(pid));
      expect(leftover).toEqual([]);
    } finally {
      await admin.end();
    }
  });
});

describe("the SSE handler when only the response body is cancelled", () => {
  // Some runtimes cancel the response stream without aborting request.signal: the stream must
  // still let go of its bus subscription then.
  it("unsubscribes from the bus when the body is cancelled", async () => {
    const bus = await createEventBus(db, db.url);
    let active = 0;
    const counting: EventBus = {
      subscribe(listener) {
        active += 1;
        const unsubscribe = bus.subscribe(listener);
        return () => {
          active -= 1;
          unsubscribe();
        };
      },
      close: () => bus.close(),
    };
    const handlers = createHandlers({ database: async () => db, events: async () => counting, config: testConfig });
    try {
      const { slug, agents } = await freshProject(["BlueLake"]);
      const url = `http://127.0.0.1/api/events?project=${slug}&agent=BlueLake&agent_token=${agents.BlueLake.token}`;
      const response = await handlers.events(new Request(url));
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const events = new SseReader(reader);
      expect((await events.next()).event).toBe("ready");
      expect(active).toBe(1);

      await reader.cancel();
      for (let i = 0; i < 50 && active > 0; i += 1) await settle(10);
      expect(active).toBe(0);
    } finally {
      await counting.close();
    }
  });
});
