import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import {
  fetchInboxInput,
  fetchTopicInput,
  messageActionInput,
  messageReceiptsInput,
  sendMessageInput,
  type FetchInboxInput,
  type FetchTopicInput,
  type SendMessageInput,
} from "@/server/schemas/messages";
import { fetchInbox } from "@/server/services/messages/inbox";
import { acknowledgeMessage, markMessageRead } from "@/server/services/messages/read-ack";
import { getMessageReceipts } from "@/server/services/messages/receipts";
import { sendMessage } from "@/server/services/messages/send";
import { fetchTopic } from "@/server/services/messages/threads";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { readAgentResource } from "../helpers/resources";

// The recipient side of mail (reference §2.2 fetch_inbox, fetch_topic, mark_message_read,
// acknowledge_message; §5 inbox/outbox/mailbox/views resources; 13.1 #10–#12) plus receipts.

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
let projectCounter = 0;

async function setup(names: string[] = ["GreenLake", "BlueDog", "RedFox"]) {
  projectCounter += 1;
  const fixture = await projectWithAgents(db, `/inbox-${projectCounter}`, names);
  const key = fixture.project.slug;
  const { ctx, agents } = fixture;
  return {
    ...fixture,
    key,
    /** Sends as `from` (with its token) and returns the message id. */
    send: async (from: string, input: Partial<Omit<SendMessageInput, "to">> & { to?: string[] }) => {
      const result = await invoke(sendMessage, ctx,
        sendMessageInput.parse({ project_key: key, sender_name: from, sender_token: agents[from]!.token, subject: "Subject", body_md: "Body", ...input }),
      );
      return result.deliveries[0]!.payload.id;
    },
    inbox: (agent: string, input: Partial<FetchInboxInput> = {}) =>
      invoke(fetchInbox, ctx, fetchInboxInput.parse({ project_key: key, agent_name: agent, registration_token: agents[agent]!.token, ...input })),
    topic: (agent: string, input: Partial<FetchTopicInput> & { topic_name: string }) =>
      invoke(fetchTopic, ctx, fetchTopicInput.parse({ project_key: key, agent_name: agent, registration_token: agents[agent]!.token, ...input })),
    read: (agent: string, id: number) =>
      invoke(markMessageRead, ctx, messageActionInput.parse({ project_key: key, agent_name: agent, registration_token: agents[agent]!.token, message_id: id })),
    ack: (agent: string, id: number) =>
      invoke(acknowledgeMessage, ctx, messageActionInput.parse({ project_key: key, agent_name: agent, registration_token: agents[agent]!.token, message_id: id })),
    view: (
      view: "inbox" | "mailbox" | "unread" | "pending" | "urgent-unread" | "ack-required" | "acks-stale" | "ack-overdue",
      agent: string,
      params: Record<string, string> = {},
      token: string | undefined = agents[agent]?.token,
    ) =>
      readAgentResource(
        ctx,
        view === "inbox" || view === "mailbox" ? view : `views/${view}`,
        agent,
        new URLSearchParams({ project: key, ...(token ? { agent_token: token } : {}), ...params }),
      ),
  };
}

async function appError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected the call to fail with an AppError, but it succeeded");
}

/** Sets a message's created_ts exactly (microseconds included), as Prisma's Date cannot. */
async function setCreated(id: number, iso: string) {
  await db.prisma.$executeRaw`UPDATE messages SET created_ts = ${iso}::timestamptz WHERE id = ${id}`;
}

async function recipientRow(messageId: number, agent: TestAgent) {
  return db.prisma.messageRecipient.findUniqueOrThrow({ where: { messageId_agentId: { messageId, agentId: agent.id } } });
}

describe("topics (13.1 #10)", () => {
  it("echoes the topic, trimmed, in the send payload and the inbox", async () => {
    const f = await setup();
    const result = await invoke(sendMessage, f.ctx,
      sendMessageInput.parse({ project_key: f.key, sender_name: "GreenLake", sender_token: f.agents.GreenLake!.token, to: ["BlueDog"], subject: "Arch", body_md: "b", topic: " architecture " }),
    );
    expect(result.deliveries[0]!.payload.topic).toBe("architecture");
    const [item] = await f.inbox("BlueDog");
    expect(item!.topic).toBe("architecture");
  });

  it("rejects topics with spaces, bad characters, blanks or more than 64 characters (INVALID_TOPIC)", async () => {
    const f = await setup();
    for (const topic of ["spaces not allowed", "dots.not.allowed", "", "   ", "t".repeat(65)]) {
      const error = await appError(f.send("GreenLake", { to: ["BlueDog"], topic }));
      expect([topic, error.code]).toEqual([topic, "INVALID_TOPIC"]);
    }
    expect(await f.send("GreenLake", { to: ["BlueDog"], topic: "t".repeat(64) })).toEqual(expect.any(Number));
  });

  it("filters fetch_inbox by topic case-insensitively; an unknown topic gives []", async () => {
    const f = await setup();
    const blocker1 = await f.send("GreenLake", { to: ["BlueDog"], topic: "blockers", subject: "b1" });
    await f.send("GreenLake", { to: ["BlueDog"], topic: "standup", subject: "s1" });
    await f.send("GreenLake", { to: ["BlueDog"], subject: "plain" });
    const blocker2 = await f.send("RedFox", { to: ["BlueDog"], topic: "Blockers", subject: "b2" });
    expect((await f.inbox("BlueDog", { topic: "blockers" })).map((m) => m.id)).toEqual([blocker2, blocker1]);
    expect((await f.inbox("BlueDog", { topic: "BLOCKERS" })).map((m) => m.id)).toEqual([blocker2, blocker1]);
    expect(await f.inbox("BlueDog", { topic: "nonexistent" })).toEqual([]);
    expect((await f.inbox("BlueDog")).length).toBe(4);
    const error = await appError(f.inbox("BlueDog", { topic: "not a topic" }));
    expect(error.code).toBe("INVALID_TOPIC");
  });

  it("fetch_topic returns only the topic's messages the viewer can see, newest first, with bodies", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const toBlue = await f.send("GreenLake", { to: ["BlueDog"], topic: "standup", body_md: "yesterday: x" });
    const fromBlue = await f.send("BlueDog", { to: ["RedFox"], topic: "STANDUP", body_md: "today: y" });
    const hidden = await f.send("GreenLake", { to: ["RedFox"], topic: "standup" });
    await f.send("GreenLake", { to: ["BlueDog"], topic: "other" });
    const items = await f.topic("BlueDog", { topic_name: "standup" });
    expect(items.map((m) => m.id)).toEqual([fromBlue, toBlue]);
    expect(items.map((m) => m.id)).not.toContain(hidden);
    expect(items[0]).toMatchObject({ from: "BlueDog", to: ["RedFox"], cc: [], bcc: [], body_md: "today: y", topic: "STANDUP" });
    expect(items[1]!.body_md).toBe("yesterday: x");
    const noBodies = await f.topic("BlueDog", { topic_name: "Standup", include_bodies: false });
    expect(noBodies.map((m) => [m.id, "body_md" in m])).toEqual([
      [fromBlue, false],
      [toBlue, false],
    ]);
    expect(await f.topic("GoldHawk", { topic_name: "standup" })).toEqual([]);
    expect((await f.topic("RedFox", { topic_name: "standup" })).map((m) => m.id)).toEqual([hidden, fromBlue]);
  });

  it("fetch_topic clamps limit to 1..1000, newest first", async () => {
    const f = await setup();
    // More topic messages than the cap (1005, in one statement), so an unclamped limit returns them all.
    await db.prisma.$executeRaw`
      WITH msg AS (
        INSERT INTO messages (project_id, sender_id, subject, body_md, topic)
        SELECT ${f.project.id}, ${f.agents.GreenLake!.id}, 'bulk ' || g, 'b', 'bulk' FROM generate_series(1, 1005) g
        RETURNING id)
      INSERT INTO message_recipients (message_id, agent_id, kind) SELECT id, ${f.agents.BlueDog!.id}, 'to' FROM msg`;
    const newest = (await db.prisma.message.findMany({ where: { projectId: f.project.id, topic: "bulk" }, orderBy: { id: "desc" }, select: { id: true } })).map(
      (m) => m.id,
    );
    expect(newest).toHaveLength(1005);
    for (const limit of [0, -5, 1]) {
      expect([limit, (await f.topic("BlueDog", { topic_name: "bulk", limit, include_bodies: false })).map((m) => m.id)]).toEqual([limit, newest.slice(0, 1)]);
    }
    expect((await f.topic("BlueDog", { topic_name: "bulk", limit: 3, include_bodies: false })).map((m) => m.id)).toEqual(newest.slice(0, 3));
    const capped = await f.topic("BlueDog", { topic_name: "bulk", limit: 5000, include_bodies: false });
    expect(capped.map((m) => m.id)).toEqual(newest.slice(0, 1000));
  });

  it("fetch_topic refuses a blank topic name and needs an authenticated viewer", async () => {
    const f = await setup();
    for (const topic of ["", "   "]) {
      const error = await appError(f.topic("BlueDog", { topic_name: topic }));
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.message).toContain("topic_name");
    }
    const anonymous = await appError(invoke(fetchTopic, f.ctx, fetchTopicInput.parse({ project_key: f.key, topic_name: "standup" })));
    expect(anonymous.code).toBe("AUTHENTICATION_REQUIRED");
    const wrong = await appError(
      invoke(fetchTopic, f.ctx, fetchTopicInput.parse({ project_key: f.key, topic_name: "standup", agent_name: "BlueDog", registration_token: "nope" })),
    );
    expect(wrong.code).toBe("AUTHENTICATION_REQUIRED");
  });
});

describe("fetch_inbox (13.1 #11)", () => {
  it("lists to, cc and bcc mail newest first, without bodies unless asked", async () => {
    const f = await setup();
    const first = await f.send("GreenLake", { to: ["BlueDog"], subject: "one", body_md: "body one" });
    const second = await f.send("RedFox", { to: ["GreenLake"], cc: ["BlueDog"], subject: "two", body_md: "body two" });
    const third = await f.send("GreenLake", { to: ["RedFox"], bcc: ["BlueDog"], subject: "three", body_md: "body three" });
    const items = await f.inbox("BlueDog");
    expect(items.map((m) => [m.id, m.subject, m.kind, m.from])).toEqual([
      [third, "three", "bcc", "GreenLake"],
      [second, "two", "cc", "RedFox"],
      [first, "one", "to", "GreenLake"],
    ]);
    for (const item of items) {
      expect("body_md" in item).toBe(false);
      expect(item.created_ts).toMatch(ISO_UTC);
      expect(Object.keys(item).sort()).toEqual(
        ["ack_required", "attachments", "created_ts", "from", "id", "importance", "kind", "project_id", "sender_id", "subject", "thread_id", "topic"].sort(),
      );
    }
    const bodies = await f.inbox("BlueDog", { include_bodies: true });
    expect(bodies.map((m) => m.body_md)).toEqual(["body three", "body two", "body one"]);
  });

  it("urgent_only keeps importance high and urgent only", async () => {
    const f = await setup();
    const high = await f.send("GreenLake", { to: ["BlueDog"], importance: "high" });
    await f.send("GreenLake", { to: ["BlueDog"], importance: "normal" });
    const urgent = await f.send("GreenLake", { to: ["BlueDog"], importance: "urgent" });
    await f.send("GreenLake", { to: ["BlueDog"], importance: "low" });
    expect((await f.inbox("BlueDog", { urgent_only: true })).map((m) => [m.id, m.importance])).toEqual([
      [urgent, "urgent"],
      [high, "high"],
    ]);
    expect(await f.inbox("BlueDog")).toHaveLength(4);
  });

  it("since_ts is exclusive, even when passed the created_ts the server returned", async () => {
    const f = await setup();
    const m1 = await f.send("GreenLake", { to: ["BlueDog"], subject: "m1" });
    const m2 = await f.send("GreenLake", { to: ["BlueDog"], subject: "m2" });
    const m3 = await f.send("GreenLake", { to: ["BlueDog"], subject: "m3" });
    // Stored with microseconds, shown with milliseconds.
    await setCreated(m1, "2030-01-01T10:00:00.123456Z");
    await setCreated(m2, "2030-01-01T10:00:01.500900Z");
    await setCreated(m3, "2030-01-01T10:00:02.000000Z");
    const items = await f.inbox("BlueDog");
    expect(items.map((m) => m.created_ts)).toEqual(["2030-01-01T10:00:02.000+00:00", "2030-01-01T10:00:01.500+00:00", "2030-01-01T10:00:00.123+00:00"]);
    const after1 = await f.inbox("BlueDog", { since_ts: items[2]!.created_ts });
    expect(after1.map((m) => m.id)).toEqual([m3, m2]);
    const after2 = await f.inbox("BlueDog", { since_ts: items[1]!.created_ts });
    expect(after2.map((m) => m.id)).toEqual([m3]);
    expect(await f.inbox("BlueDog", { since_ts: items[0]!.created_ts })).toEqual([]);
    // Other spellings of an instant: Z, an offset, no zone (taken as UTC), a space separator.
    expect((await f.inbox("BlueDog", { since_ts: "2030-01-01T10:00:01Z" })).map((m) => m.id)).toEqual([m3, m2]);
    expect((await f.inbox("BlueDog", { since_ts: "2030-01-01T12:00:01+02:00" })).map((m) => m.id)).toEqual([m3, m2]);
    expect((await f.inbox("BlueDog", { since_ts: "2030-01-01T10:00:01.9" })).map((m) => m.id)).toEqual([m3]);
    expect((await f.inbox("BlueDog", { since_ts: "2030-01-01 09:59:59" })).map((m) => m.id)).toEqual([m3, m2, m1]);
    expect((await f.inbox("BlueDog", { since_ts: "" })).map((m) => m.id)).toEqual([m3, m2, m1]);
  });

  it("rejects an unparseable since_ts with INVALID_TIMESTAMP", async () => {
    const f = await setup();
    for (const since of ["yesterday", "2026-13-45T99:00:00Z", "12:00", "2026-02-30T00:00:00Z"]) {
      const error = await appError(f.inbox("BlueDog", { since_ts: since }));
      expect([since, error.code]).toEqual([since, "INVALID_TIMESTAMP"]);
      expect(error.message).toContain("since_ts");
    }
  });

  it("since_id is a cursor over message ids, read oldest first so paging never skips mail", async () => {
    const f = await setup();
    const m1 = await f.send("GreenLake", { to: ["BlueDog"] });
    const m2 = await f.send("GreenLake", { to: ["BlueDog"] });
    const m3 = await f.send("RedFox", { to: ["BlueDog"] });
    expect((await f.inbox("BlueDog", { since_id: m1 })).map((m) => m.id)).toEqual([m2, m3]);
    expect((await f.inbox("BlueDog", { since_id: m3 })).map((m) => m.id)).toEqual([]);
    expect((await f.inbox("BlueDog", { since_id: 0 })).map((m) => m.id)).toEqual([m1, m2, m3]);
    const paged: number[] = [];
    let cursor = 0;
    for (let page = 0; page < 5; page += 1) {
      const items = await f.inbox("BlueDog", { since_id: cursor, limit: 1 });
      if (items.length === 0) break;
      paged.push(items[0]!.id);
      cursor = items[0]!.id;
    }
    expect(paged).toEqual([m1, m2, m3]);
  });

  it("limit: 0 or negative is INVALID_LIMIT, small limits cut newest first, huge limits are capped at 1000", async () => {
    const f = await setup();
    for (const limit of [0, -5]) {
      const error = await appError(f.inbox("BlueDog", { limit }));
      expect(error.code).toBe("INVALID_LIMIT");
      expect(error.message).toContain("limit");
    }
    const ids: number[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await f.send("GreenLake", { to: ["BlueDog"] }));
    expect((await f.inbox("BlueDog", { limit: 2 })).map((m) => m.id)).toEqual([ids[2], ids[1]]);
    // 1005 more messages in one statement, then limit 5000 returns the 1000 newest.
    await db.prisma.$executeRaw`
      WITH msg AS (
        INSERT INTO messages (project_id, sender_id, subject, body_md)
        SELECT ${f.project.id}, ${f.agents.GreenLake!.id}, 'bulk ' || g, 'b' FROM generate_series(1, 1005) g
        RETURNING id)
      INSERT INTO message_recipients (message_id, agent_id, kind) SELECT id, ${f.agents.BlueDog!.id}, 'to' FROM msg`;
    const capped = await f.inbox("BlueDog", { limit: 5000 });
    expect(capped).toHaveLength(1000);
    const sorted = [...capped.map((m) => m.id)].sort((a, b) => b - a);
    expect(capped.map((m) => m.id)).toEqual(sorted);
    expect(capped.map((m) => m.id)).not.toContain(ids[0]);
  });

  it("does not change read state", async () => {
    const f = await setup();
    const id = await f.send("GreenLake", { to: ["BlueDog"], ack_required: true });
    await f.inbox("BlueDog", { include_bodies: true });
    await f.view("inbox", "BlueDog");
    await f.view("mailbox", "BlueDog");
    const row = await recipientRow(id, f.agents.BlueDog!);
    expect(row.readTs).toBeNull();
    expect(row.ackTs).toBeNull();
  });

  it("needs the agent's own registration_token", async () => {
    const f = await setup();
    const missing = await appError(invoke(fetchInbox, f.ctx, fetchInboxInput.parse({ project_key: f.key, agent_name: "BlueDog" })));
    expect(missing.code).toBe("AUTHENTICATION_REQUIRED");
    expect(missing.message).toContain("registration_token");
    const other = await appError(f.inbox("BlueDog", { registration_token: f.agents.GreenLake!.token }));
    expect(other.code).toBe("AUTHENTICATION_REQUIRED");
    const unknown = await appError(invoke(fetchInbox, f.ctx, fetchInboxInput.parse({ project_key: f.key, agent_name: "QuietMountain", registration_token: "x" })));
    expect(unknown.code).toBe("NOT_FOUND");
  });
});

describe("mark_message_read / acknowledge_message (13.1 #12)", () => {
  it("marks read once: a second call returns the same read_at", async () => {
    const f = await setup();
    const id = await f.send("GreenLake", { to: ["BlueDog"] });
    const first = await f.read("BlueDog", id);
    expect(first).toEqual({ message_id: id, read: true, read_at: expect.stringMatching(ISO_UTC) });
    const second = await f.read("BlueDog", id);
    expect(second.read_at).toBe(first.read_at);
    const row = await recipientRow(id, f.agents.BlueDog!);
    expect(row.readTs!.toISOString().replace("Z", "+00:00")).toBe(first.read_at);
    expect(row.ackTs).toBeNull();
  });

  it("acknowledges once, filling read_at; read after ack keeps it; read-then-ack keeps the earlier read_at", async () => {
    const f = await setup();
    const id = await f.send("GreenLake", { to: ["BlueDog", "RedFox"], ack_required: true });
    const first = await f.ack("BlueDog", id);
    expect(first).toEqual({
      message_id: id,
      acknowledged: true,
      acknowledged_at: expect.stringMatching(ISO_UTC),
      read_at: expect.stringMatching(ISO_UTC),
    });
    expect(first.read_at).toBe(first.acknowledged_at);
    const second = await f.ack("BlueDog", id);
    expect(second).toEqual(first);
    expect((await f.read("BlueDog", id)).read_at).toBe(first.read_at);

    const read = await f.read("RedFox", id);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const acked = await f.ack("RedFox", id);
    expect(acked.read_at).toBe(read.read_at);
    expect(acked.acknowledged_at! > read.read_at!).toBe(true);
  });

  it("acknowledges a message that did not ask for it", async () => {
    const f = await setup();
    const id = await f.send("GreenLake", { to: ["BlueDog"] });
    expect((await f.ack("BlueDog", id)).acknowledged).toBe(true);
  });

  it("reports an unknown id as NOT_FOUND ('not found')", async () => {
    const f = await setup();
    for (const action of [f.read, f.ack]) {
      const error = await appError(action("BlueDog", 999_999));
      expect(error.code).toBe("NOT_FOUND");
      expect(error.message).toContain("not found");
    }
  });

  it("gives the sender alone read:false and read_at null, and changes no recipient row", async () => {
    const f = await setup();
    const id = await f.send("GreenLake", { to: ["BlueDog"] });
    expect(await f.read("GreenLake", id)).toEqual({ message_id: id, read: false, read_at: null });
    expect(await f.ack("GreenLake", id)).toEqual({ message_id: id, acknowledged: false, acknowledged_at: null, read_at: null });
    const row = await recipientRow(id, f.agents.BlueDog!);
    expect([row.readTs, row.ackTs]).toEqual([null, null]);
  });

  it("refuses an outsider (neither sender nor recipient) with NOT_FOUND", async () => {
    const f = await setup();
    const id = await f.send("GreenLake", { to: ["BlueDog"] });
    for (const action of [f.read, f.ack]) {
      const error = await appError(action("RedFox", id));
      expect(error.code).toBe("NOT_FOUND");
    }
    expect(await db.prisma.messageRecipient.count({ where: { messageId: id } })).toBe(1);
  });

  it("refuses a message of another project even with its id", async () => {
    const f = await setup();
    const other = await setup();
    const id = await other.send("GreenLake", { to: ["BlueDog"] });
    const error = await appError(f.read("BlueDog", id));
    expect(error.code).toBe("NOT_FOUND");
  });

  it("needs the reader's token", async () => {
    const f = await setup();
    const id = await f.send("GreenLake", { to: ["BlueDog"] });
    const error = await appError(
      invoke(markMessageRead, f.ctx, messageActionInput.parse({ project_key: f.key, agent_name: "BlueDog", registration_token: f.agents.GreenLake!.token, message_id: id })),
    );
    expect(error.code).toBe("AUTHENTICATION_REQUIRED");
    expect((await recipientRow(id, f.agents.BlueDog!)).readTs).toBeNull();
  });
});

describe("inbox, mailbox, outbox and view resources (§5)", () => {
  it("inbox resource: {project, agent, count, messages} with the resource filters", async () => {
    const f = await setup();
    const a = await f.send("GreenLake", { to: ["BlueDog"], subject: "a", body_md: "body a" });
    const b = await f.send("RedFox", { to: ["BlueDog"], subject: "b", importance: "urgent" });
    const result = await f.view("inbox", "BlueDog");
    expect(result).toMatchObject({ project: f.project.human_key, agent: "BlueDog", count: 2 });
    expect(result.messages.map((m) => [m.id, m.kind])).toEqual([
      [b, "to"],
      [a, "to"],
    ]);
    expect("body_md" in result.messages[1]!).toBe(false);
    const withBodies = await f.view("inbox", "BlueDog", { include_bodies: "true", limit: "1", urgent_only: "false" });
    expect(withBodies.count).toBe(1);
    expect(withBodies.messages.map((m) => [m.id, m.body_md])).toEqual([[b, "Body"]]);
    const urgent = await f.view("inbox", "BlueDog", { urgent_only: "1" });
    expect(urgent.messages.map((m) => m.id)).toEqual([b]);
    // The agent path segment is case-insensitive; the canonical name comes back.
    const lower = await f.view("inbox", "bluedog", {}, f.agents.BlueDog!.token);
    expect(lower.agent).toBe("BlueDog");
  });

  it("inbox resource ignores an unparseable since_ts (upstream's leniency) but honours a valid one", async () => {
    const f = await setup();
    const a = await f.send("GreenLake", { to: ["BlueDog"] });
    const b = await f.send("GreenLake", { to: ["BlueDog"] });
    await setCreated(a, "2030-01-01T00:00:00Z");
    await setCreated(b, "2030-01-02T00:00:00Z");
    expect((await f.view("inbox", "BlueDog", { since_ts: "garbage" })).count).toBe(2);
    expect((await f.view("inbox", "BlueDog", { since_ts: "2030-01-01T00:00:00Z" })).messages.map((m) => m.id)).toEqual([b]);
  });

  it("needs the project parameter and the agent's token", async () => {
    const f = await setup();
    const missing = await appError(readAgentResource(f.ctx, "inbox", "BlueDog", new URLSearchParams({ agent_token: f.agents.BlueDog!.token })));
    expect(missing.code).toBe("INVALID_ARGUMENT");
    expect(missing.message).toContain("project: is required");
    const wrong = await appError(f.view("inbox", "BlueDog", {}, "wrong-token"));
    expect(wrong.code).toBe("AUTHENTICATION_REQUIRED");
    expect(wrong.message).toContain("agent_token");
    const none = await appError(f.view("inbox", "BlueDog", {}, ""));
    expect(none.code).toBe("AUTHENTICATION_REQUIRED");
    const outboxMissing = await appError(readAgentResource(f.ctx, "outbox", "BlueDog", new URLSearchParams()));
    expect(outboxMissing.message).toContain("project: is required");
    const badLimit = await appError(f.view("inbox", "BlueDog", { limit: "abc" }));
    expect(badLimit.code).toBe("INVALID_ARGUMENT");
    const zeroLimit = await appError(f.view("mailbox", "BlueDog", { limit: "0" }));
    expect(zeroLimit.code).toBe("INVALID_LIMIT");
  });

  it("mailbox adds the agent's read_at / ack_at", async () => {
    const f = await setup();
    const a = await f.send("GreenLake", { to: ["BlueDog"], ack_required: true });
    const b = await f.send("GreenLake", { to: ["BlueDog"] });
    const acked = await f.ack("BlueDog", a);
    const mailbox = await f.view("mailbox", "BlueDog");
    expect(mailbox.messages.map((m) => [m.id, "read_at" in m ? m.read_at : "missing", "ack_at" in m ? m.ack_at : "missing"])).toEqual([
      [b, null, null],
      [a, acked.read_at, acked.acknowledged_at],
    ]);
  });

  it("unread and pending count and list unread mail however deep it lies (older than the newest 250)", async () => {
    const f = await setup();
    const urgent = await f.send("GreenLake", { to: ["BlueDog"], importance: "urgent", ack_required: true });
    const old = await f.send("GreenLake", { to: ["BlueDog"], ack_required: true });
    for (let i = 0; i < 250; i++) await f.send("RedFox", { to: ["BlueDog"], cc: i % 2 ? ["GreenLake"] : [] });
    await db.prisma.messageRecipient.updateMany({ where: { agentId: f.agents.BlueDog!.id, messageId: { gt: old } }, data: { readTs: new Date() } });
    await f.ack("BlueDog", old);
    await f.send("RedFox", { to: ["BlueDog"], importance: "high" });

    const pending = await f.view("pending", "BlueDog");
    expect(pending).toEqual({ project: f.project.human_key, agent: "BlueDog", unread: 2, urgent_unread: 2, ack_pending: 1 });
    const unread = await f.view("unread", "BlueDog");
    expect(unread.messages.map((m) => [m.id, m.read_at, m.ack_at])).toEqual([
      [unread.messages[0]!.id, null, null],
      [urgent, null, null],
    ]);
    expect(unread.messages[0]!.id).toBeGreaterThan(old);
    expect((await f.view("unread", "BlueDog", { limit: "1" })).messages).toHaveLength(1);
    // GreenLake was cc'd on half of them and has read nothing.
    expect(await f.view("pending", "GreenLake")).toMatchObject({ unread: 125, urgent_unread: 0, ack_pending: 0 });
    const stranger = await appError(f.view("pending", "BlueDog", {}, f.agents.RedFox!.token));
    expect(stranger.code).toBe("AUTHENTICATION_REQUIRED");
  });

  it("urgent-unread lists only unread high/urgent mail", async () => {
    const f = await setup();
    const high = await f.send("GreenLake", { to: ["BlueDog"], importance: "high" });
    const urgentRead = await f.send("GreenLake", { to: ["BlueDog"], importance: "urgent" });
    await f.send("GreenLake", { to: ["BlueDog"], importance: "normal" });
    const urgent = await f.send("RedFox", { to: ["BlueDog"], importance: "urgent" });
    await f.read("BlueDog", urgentRead);
    const view = await f.view("urgent-unread", "BlueDog");
    expect(view).toMatchObject({ project: f.project.human_key, agent: "BlueDog", count: 2 });
    expect(view.messages.map((m) => [m.id, m.importance])).toEqual([
      [urgent, "urgent"],
      [high, "high"],
    ]);
  });

  it("ack-required lists pending acks with kind, and drops them once acknowledged", async () => {
    const f = await setup();
    const a = await f.send("GreenLake", { to: ["BlueDog"], ack_required: true });
    const b = await f.send("GreenLake", { to: ["RedFox"], cc: ["BlueDog"], ack_required: true });
    await f.send("GreenLake", { to: ["BlueDog"] });
    const view = await f.view("ack-required", "BlueDog");
    expect(view.messages.map((m) => [m.id, m.kind, m.ack_required])).toEqual([
      [b, "cc", true],
      [a, "to", true],
    ]);
    await f.read("BlueDog", a);
    expect((await f.view("ack-required", "BlueDog")).count).toBe(2);
    await f.ack("BlueDog", a);
    expect((await f.view("ack-required", "BlueDog")).messages.map((m) => m.id)).toEqual([b]);
  });

  it("acks-stale: pending acks at least ttl_seconds old, with read_at and age_seconds", async () => {
    const f = await setup();
    const old = await f.send("GreenLake", { to: ["BlueDog"], ack_required: true });
    const fresh = await f.send("GreenLake", { to: ["BlueDog"], ack_required: true });
    await db.prisma.message.update({ where: { id: old }, data: { createdTs: new Date(Date.now() - 2 * 3600_000) } });
    const read = await f.read("BlueDog", old);

    const zero = await f.view("acks-stale", "BlueDog", { ttl_seconds: "0" });
    expect(zero).toMatchObject({ project: f.project.human_key, agent: "BlueDog", ttl_seconds: 0, count: 2 });
    expect(zero.messages.map((m) => m.id)).toEqual([fresh, old]);
    const oldItem = zero.messages[1] as Record<string, unknown>;
    expect(oldItem.read_at).toBe(read.read_at);
    expect(oldItem.age_seconds).toBeGreaterThanOrEqual(7200);
    expect(oldItem.age_seconds).toBeLessThan(7200 + 600);
    expect((zero.messages[0] as Record<string, unknown>).age_seconds).toBeGreaterThanOrEqual(0);

    const byDefault = await f.view("acks-stale", "BlueDog");
    expect(byDefault).toMatchObject({ ttl_seconds: 1800, count: 1 });
    expect(byDefault.messages.map((m) => m.id)).toEqual([old]);
    await f.ack("BlueDog", old);
    expect((await f.view("acks-stale", "BlueDog", { ttl_seconds: "0" })).messages.map((m) => m.id)).toEqual([fresh]);
  });

  it("ack-overdue: pending acks older than ttl_minutes (default 60)", async () => {
    const f = await setup();
    const old = await f.send("GreenLake", { to: ["BlueDog"], ack_required: true });
    await f.send("GreenLake", { to: ["BlueDog"], ack_required: true });
    const notRequired = await f.send("GreenLake", { to: ["BlueDog"] });
    await db.prisma.message.updateMany({ where: { id: { in: [old, notRequired] } }, data: { createdTs: new Date(Date.now() - 90 * 60_000) } });
    const view = await f.view("ack-overdue", "BlueDog");
    expect(view).toMatchObject({ ttl_minutes: 60, count: 1 });
    expect(view.messages.map((m) => m.id)).toEqual([old]);
    expect((await f.view("ack-overdue", "BlueDog", { ttl_minutes: "120" })).count).toBe(0);
    expect((await f.view("ack-overdue", "BlueDog", { ttl_minutes: "0" })).count).toBe(2);
  });

  it("outbox shows what the agent sent with to, cc and bcc", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const a = await f.send("GreenLake", { to: ["BlueDog"], cc: ["RedFox"], bcc: ["GoldHawk"], subject: "with bcc", body_md: "secret" });
    await f.send("BlueDog", { to: ["GreenLake"] });
    const b = await f.send("GreenLake", { to: ["RedFox"] });
    const outbox = await readAgentResource(f.ctx, "outbox", "GreenLake", new URLSearchParams({ project: f.key, agent_token: f.agents.GreenLake!.token }));
    expect(outbox).toMatchObject({ project: f.project.human_key, agent: "GreenLake", count: 2 });
    expect(outbox.messages.map((m) => [m.id, m.to, m.cc, m.bcc, m.from])).toEqual([
      [b, ["RedFox"], [], [], "GreenLake"],
      [a, ["BlueDog"], ["RedFox"], ["GoldHawk"], "GreenLake"],
    ]);
    expect("body_md" in outbox.messages[0]!).toBe(false);
    const bodies = await readAgentResource(
      f.ctx,
      "outbox",
      "GreenLake",
      new URLSearchParams({ project: f.key, agent_token: f.agents.GreenLake!.token, include_bodies: "true", limit: "1" }),
    );
    expect(bodies.messages.map((m) => [m.id, m.body_md])).toEqual([[b, "Body"]]);
    const wrong = await appError(readAgentResource(f.ctx, "outbox", "GreenLake", new URLSearchParams({ project: f.key, agent_token: f.agents.BlueDog!.token })));
    expect(wrong.code).toBe("AUTHENTICATION_REQUIRED");
  });
});

describe("get_message_receipts", () => {
  it("shows the sender each recipient's read and ack times", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const id = await f.send("GreenLake", { to: ["BlueDog", "RedFox"], bcc: ["GoldHawk"], ack_required: true, subject: "Receipts" });
    const read = await f.read("BlueDog", id);
    const acked = await f.ack("RedFox", id);
    const receipts = await invoke(getMessageReceipts, f.ctx,
      messageReceiptsInput.parse({ project_key: f.key, agent_name: "GreenLake", registration_token: f.agents.GreenLake!.token, message_id: id }),
    );
    expect(receipts).toMatchObject({ message_id: id, subject: "Receipts", ack_required: true, summary: { total: 3, read: 2, acknowledged: 1 } });
    expect(receipts.created_ts).toMatch(ISO_UTC);
    expect(receipts.recipients).toEqual([
      { agent: "BlueDog", project: f.project.slug, kind: "to", delivered_at: receipts.created_ts, read_at: read.read_at, acknowledged_at: null },
      { agent: "RedFox", project: f.project.slug, kind: "to", delivered_at: receipts.created_ts, read_at: acked.read_at, acknowledged_at: acked.acknowledged_at },
      { agent: "GoldHawk", project: f.project.slug, kind: "bcc", delivered_at: receipts.created_ts, read_at: null, acknowledged_at: null },
    ]);
  });

  it("covers every delivery of a cross-project send, from either delivery's id", async () => {
    const f = await setup(["GreenLake", "BlueDog"]);
    const other = await setup(["RedFox"]);
    const sent = await invoke(sendMessage, f.ctx,
      sendMessageInput.parse({
        project_key: f.key,
        sender_name: "GreenLake",
        sender_token: f.agents.GreenLake!.token,
        to: ["BlueDog", `RedFox@${other.key}`],
        subject: "Two projects",
        body_md: "Body",
      }),
    );
    const [local, remote] = sent.deliveries.map((d) => d.payload.id);
    // An unrelated later send with the same content is a different message.
    await f.send("GreenLake", { to: ["BlueDog"], subject: "Two projects" });
    const read = await other.read("RedFox", remote!);
    for (const id of [local!, remote!]) {
      const receipts = await invoke(getMessageReceipts, f.ctx,
        messageReceiptsInput.parse({ project_key: f.key, agent_name: "GreenLake", registration_token: f.agents.GreenLake!.token, message_id: id }),
      );
      expect(receipts.message_id).toBe(id);
      expect(receipts.recipients.map((r) => [r.agent, r.project, r.kind, r.read_at])).toEqual([
        ["BlueDog", f.project.slug, "to", null],
        ["RedFox", other.project.slug, "to", read.read_at],
      ]);
      expect(receipts.summary).toEqual({ total: 2, read: 1, acknowledged: 0 });
    }
  });

  it("refuses anyone but the sender with NOT_FOUND, and an unknown id", async () => {
    const f = await setup();
    const id = await f.send("GreenLake", { to: ["BlueDog"] });
    for (const agent of ["BlueDog", "RedFox"]) {
      const error = await appError(
        invoke(getMessageReceipts, f.ctx, messageReceiptsInput.parse({ project_key: f.key, agent_name: agent, registration_token: f.agents[agent]!.token, message_id: id })),
      );
      expect(error.code).toBe("NOT_FOUND");
    }
    const unknown = await appError(
      invoke(getMessageReceipts, f.ctx, messageReceiptsInput.parse({ project_key: f.key, agent_name: "GreenLake", registration_token: f.agents.GreenLake!.token, message_id: 999_999 })),
    );
    expect(unknown.code).toBe("NOT_FOUND");
    const unauthenticated = await appError(
      invoke(getMessageReceipts, f.ctx, messageReceiptsInput.parse({ project_key: f.key, agent_name: "GreenLake", registration_token: "bad", message_id: id })),
    );
    expect(unauthenticated.code).toBe("AUTHENTICATION_REQUIRED");
  });
});
