import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_OPERATOR, type Role } from "@/server/auth/actor";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import {
  dashboardMailboxInput,
  fetchInboxInput,
  fetchTopicInput,
  replyMessageInput,
  searchMessagesInput,
  sendMessageInput,
  summarizeThreadInput,
  type ReplyMessageInput,
  type SendMessageInput,
} from "@/server/schemas/messages";
import type { ServiceContext } from "@/server/services/context";
import { operatorInbox, operatorMessage, operatorOutbox, operatorSearch, operatorThread } from "@/server/services/messages/dashboard";
import { fetchInbox } from "@/server/services/messages/inbox";
import { replyMessage } from "@/server/services/messages/reply";
import { searchMessages } from "@/server/services/messages/search";
import { sendMessage } from "@/server/services/messages/send";
import { summarizeThread } from "@/server/services/messages/summaries";
import { fetchTopic } from "@/server/services/messages/threads";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";
import { readMessageResource, readThread } from "../helpers/resources";

// reply_message and threads (reference §2.2 reply_message, §2.3, 13.1 #13–#14) and who may see
// what: outsiders see nothing, bcc names stay hidden from to/cc recipients (§1.4 visibility).

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

let projectCounter = 0;

async function setup(names: string[] = ["GreenLake", "BlueDog", "RedFox"]) {
  projectCounter += 1;
  const fixture = await projectWithAgents(db, `/threads-${projectCounter}`, names);
  const key = fixture.project.slug;
  const { ctx, agents } = fixture;
  const token = (name: string) => agents[name]!.token;
  return {
    ...fixture,
    key,
    token,
    send: async (from: string, input: Partial<Omit<SendMessageInput, "to">> & { to?: string[] }) => {
      const result = await invoke(sendMessage, ctx,
        sendMessageInput.parse({ project_key: key, sender_name: from, sender_token: token(from), subject: "Subject", body_md: "Body", ...input }),
      );
      return result.deliveries[0]!.payload;
    },
    reply: (from: string, input: Partial<ReplyMessageInput> & { message_id: number }) =>
      invoke(replyMessage, ctx, replyMessageInput.parse({ project_key: key, sender_name: from, sender_token: token(from), body_md: "Reply body", ...input })),
    /** Query parameters of the message/thread resources, as the given agent. */
    as: (agent: string, extra: Record<string, string> = {}) => new URLSearchParams({ project: key, agent, agent_token: token(agent), ...extra }),
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

function actorWith(roles: Role[], agent?: { id: number; projectId: number; name: string }): ServiceContext["actor"] {
  return { ...LOCAL_OPERATOR, principal: "token:test", kind: "token", roles: new Set<Role>(roles), ...(agent ? { agent } : {}) };
}

describe("reply_message (13.1 #13)", () => {
  it("threads on the original id, prefixes Re:, and goes back to the original sender", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"], subject: "Question", body_md: "Can you look?" });
    const result = await f.reply("BlueDog", { message_id: original.id, body_md: "Looking now" });
    expect(result).toMatchObject({
      thread_id: String(original.id),
      reply_to: original.id,
      count: 1,
      verified_sender: true,
      subject: "Re: Question",
      from: "BlueDog",
      to: ["GreenLake"],
      cc: [],
      bcc: [],
      body_md: "Looking now",
    });
    expect(result.deliveries).toHaveLength(1);
    expect(result.deliveries[0]!.project).toBe(f.project.human_key);
    expect(result.deliveries[0]!.payload).toMatchObject({ thread_id: String(original.id), subject: "Re: Question", to: ["GreenLake"] });
    expect(result.id).toBe(result.deliveries[0]!.payload.id);
    // The original row is not rewritten.
    const row = await db.prisma.message.findUniqueOrThrow({ where: { id: original.id } });
    expect(row.threadId).toBeNull();
    const inbox = await invoke(fetchInbox, f.ctx, fetchInboxInput.parse({ project_key: f.key, agent_name: "GreenLake", registration_token: f.token("GreenLake") }));
    expect(inbox.map((m) => [m.id, m.subject, m.thread_id])).toEqual([[result.id, "Re: Question", String(original.id)]]);
  });

  it("truncates the prefixed subject to 200 characters", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"], subject: "S".repeat(200) });
    const result = await f.reply("BlueDog", { message_id: original.id });
    expect(result.subject).toBe(`Re: ${"S".repeat(196)}`);
    expect((await db.prisma.message.findUniqueOrThrow({ where: { id: result.id! } })).subject).toBe(result.subject);
  });

  it("does not double the prefix, compared case-insensitively, and honours subject_prefix", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"], subject: "RE: x" });
    expect((await f.reply("BlueDog", { message_id: original.id })).subject).toBe("RE: x");
    const plain = await f.send("GreenLake", { to: ["BlueDog"], subject: "Status" });
    expect((await f.reply("BlueDog", { message_id: plain.id, subject_prefix: "FYI:" })).subject).toBe("FYI: Status");
    const replyOfReply = await f.reply("GreenLake", { message_id: (await f.reply("BlueDog", { message_id: plain.id })).id! });
    expect(replyOfReply.subject).toBe("Re: Status");
  });

  it("keeps the thread when replying to a reply, and to a message with an explicit thread_id", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"] });
    const first = await f.reply("BlueDog", { message_id: original.id });
    const second = await f.reply("GreenLake", { message_id: first.id! });
    expect([first.thread_id, second.thread_id]).toEqual([String(original.id), String(original.id)]);
    expect(second.to).toEqual(["BlueDog"]);
    const threaded = await f.send("GreenLake", { to: ["BlueDog"], thread_id: "FEAT-9" });
    expect((await f.reply("BlueDog", { message_id: threaded.id })).thread_id).toBe("FEAT-9");
  });

  it("replying to your own message goes to the original to-recipients (not cc)", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const original = await f.send("GreenLake", { to: ["BlueDog", "RedFox"], cc: ["GoldHawk"] });
    const result = await f.reply("GreenLake", { message_id: original.id });
    expect(result).toMatchObject({ to: ["BlueDog", "RedFox"], cc: [], from: "GreenLake" });
  });

  it("inherits importance, ack_required and topic", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"], importance: "urgent", ack_required: true, topic: "incidents" });
    const result = await f.reply("BlueDog", { message_id: original.id });
    expect(result).toMatchObject({ importance: "urgent", ack_required: true, topic: "incidents" });
    const row = await db.prisma.message.findUniqueOrThrow({ where: { id: result.id! } });
    expect([row.importance, row.ackRequired, row.topic]).toEqual(["urgent", true, "incidents"]);
  });

  it("accepts explicit to/cc/bcc", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const original = await f.send("GreenLake", { to: ["BlueDog"] });
    const result = await f.reply("BlueDog", { message_id: original.id, to: ["RedFox"], cc: "GreenLake", bcc: ["GoldHawk"] });
    expect(result).toMatchObject({ to: ["RedFox"], cc: ["GreenLake"], bcc: ["GoldHawk"] });
  });

  it("to: [] means nobody: {thread_id, reply_to, deliveries: [], count: 0}", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"] });
    const before = await db.prisma.message.count({ where: { projectId: f.project.id } });
    const result = await f.reply("BlueDog", { message_id: original.id, to: [] });
    expect(result).toEqual({ thread_id: String(original.id), reply_to: original.id, deliveries: [], count: 0 });
    expect(await db.prisma.message.count({ where: { projectId: f.project.id } })).toBe(before);
  });

  it("reports an unknown message id as 'not found'", async () => {
    const f = await setup();
    const error = await appError(f.reply("BlueDog", { message_id: 999_999 }));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("not found");
  });

  it("refuses an outsider replying to a message it cannot see", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"] });
    const before = await db.prisma.message.count();
    const error = await appError(f.reply("RedFox", { message_id: original.id }));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("not found or not visible");
    expect(await db.prisma.message.count()).toBe(before);
  });

  it("needs the replying agent's sender_token", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"] });
    const error = await appError(
      invoke(replyMessage, f.ctx, replyMessageInput.parse({ project_key: f.key, message_id: original.id, sender_name: "BlueDog", body_md: "x" })),
    );
    expect(error.code).toBe("AUTHENTICATION_REQUIRED");
    expect(error.message).toContain("sender_token");
  });

  it("refuses an unknown explicit recipient and delivers nothing", async () => {
    const f = await setup();
    const original = await f.send("GreenLake", { to: ["BlueDog"] });
    const before = await db.prisma.message.count();
    const error = await appError(f.reply("BlueDog", { message_id: original.id, to: ["GreenLake", "SilentGlacier"] }));
    expect(error.code).toBe("RECIPIENT_NOT_FOUND");
    expect(await db.prisma.message.count()).toBe(before);
  });

  it("replies across projects to the original sender's project", async () => {
    const backend = await setup(["GreenLake"]);
    const frontend = await setup(["BlueDog"]);
    const sent = await invoke(sendMessage, backend.ctx,
      sendMessageInput.parse({
        project_key: backend.key,
        sender_name: "GreenLake",
        sender_token: backend.token("GreenLake"),
        to: [`project:${frontend.key}#BlueDog`],
        subject: "Cross question",
        body_md: "?",
      }),
    );
    const delivered = sent.deliveries[0]!.payload;
    const result = await frontend.reply("BlueDog", { message_id: delivered.id });
    expect(result.deliveries.map((d) => [d.project, d.payload.to, d.payload.from_project])).toEqual([
      [backend.project.human_key, ["GreenLake"], frontend.project.human_key],
    ]);
    expect(result).toMatchObject({ thread_id: String(delivered.id), subject: "Re: Cross question" });
    const inbox = await invoke(fetchInbox, backend.ctx, fetchInboxInput.parse({ project_key: backend.key, agent_name: "GreenLake", registration_token: backend.token("GreenLake") }));
    expect(inbox.map((m) => [m.subject, m.from, m.from_address])).toEqual([["Re: Cross question", "BlueDog", `project:${frontend.key}#BlueDog`]]);
  });
});

describe("threads (13.1 #14, §2.3)", () => {
  it("continues an explicit thread_id across agents; the thread resource lists it oldest first", async () => {
    const f = await setup();
    const first = await f.send("GreenLake", { to: ["BlueDog"], thread_id: "THREAD-001", subject: "Kickoff", body_md: "start" });
    expect(first.thread_id).toBe("THREAD-001");
    const second = await f.send("BlueDog", { to: ["GreenLake"], thread_id: "THREAD-001", subject: "Follow-up", body_md: "more" });
    await f.send("GreenLake", { to: ["BlueDog"], thread_id: "THREAD-002" });
    const thread = await readThread(f.ctx, "THREAD-001", f.as("GreenLake"));
    expect(thread.project).toBe(f.project.human_key);
    expect(thread.thread_id).toBe("THREAD-001");
    expect(thread.messages.map((m) => [m.id, m.from, m.subject, m.body_md, m.to])).toEqual([
      [first.id, "GreenLake", "Kickoff", "start", ["BlueDog"]],
      [second.id, "BlueDog", "Follow-up", "more", ["GreenLake"]],
    ]);
    const noBodies = await readThread(f.ctx, "THREAD-001", f.as("BlueDog", { include_bodies: "false" }));
    expect(noBodies.messages.map((m) => "body_md" in m)).toEqual([false, false]);
  });

  it("treats a numeric thread id as the seed message plus its replies", async () => {
    const f = await setup();
    const seed = await f.send("GreenLake", { to: ["BlueDog"], subject: "Seed" });
    const reply = await f.reply("BlueDog", { message_id: seed.id });
    await f.send("GreenLake", { to: ["BlueDog"], subject: "Unrelated" });
    const thread = await readThread(f.ctx, String(seed.id), f.as("BlueDog"));
    expect(thread.messages.map((m) => m.id)).toEqual([seed.id, reply.id]);
  });

  it("rejects invalid thread ids (INVALID_THREAD_ID); 128 characters is still valid", async () => {
    const f = await setup();
    for (const id of ["-bad", "a b", "x".repeat(129), "bad/slash"]) {
      const error = await appError(readThread(f.ctx, id, f.as("GreenLake")));
      expect([id, error.code]).toEqual([id, "INVALID_THREAD_ID"]);
      const sendError = await appError(f.send("GreenLake", { to: ["BlueDog"], thread_id: id }));
      expect(sendError.code).toBe("INVALID_THREAD_ID");
    }
    const longest = "x".repeat(128);
    const sent = await f.send("GreenLake", { to: ["BlueDog"], thread_id: longest });
    expect((await readThread(f.ctx, longest, f.as("GreenLake"))).messages.map((m) => m.id)).toEqual([sent.id]);
  });

  it("lists at most 1000 messages of a thread, the oldest", async () => {
    const f = await setup();
    // More messages than the cap (1005, in one statement), so an uncapped thread read returns them all.
    await db.prisma.$executeRaw`
      WITH msg AS (
        INSERT INTO messages (project_id, sender_id, subject, body_md, thread_id)
        SELECT ${f.project.id}, ${f.agents.GreenLake!.id}, 'bulk ' || g, 'b', 'BIG-1' FROM generate_series(1, 1005) g
        RETURNING id)
      INSERT INTO message_recipients (message_id, agent_id, kind) SELECT id, ${f.agents.BlueDog!.id}, 'to' FROM msg`;
    const oldest = (await db.prisma.message.findMany({ where: { threadId: "BIG-1", projectId: f.project.id }, orderBy: { id: "asc" }, select: { id: true } })).map(
      (m) => m.id,
    );
    expect(oldest).toHaveLength(1005);
    const thread = await readThread(f.ctx, "BIG-1", f.as("BlueDog", { include_bodies: "false" }));
    expect(thread.messages.map((m) => m.id)).toEqual(oldest.slice(0, 1000));
  });

  it("needs the project parameter, and a viewer", async () => {
    const f = await setup();
    const seed = await f.send("GreenLake", { to: ["BlueDog"] });
    const noProject = await appError(readThread(f.ctx, "T-1", new URLSearchParams({ agent: "GreenLake", agent_token: f.token("GreenLake") })));
    expect(noProject.code).toBe("INVALID_ARGUMENT");
    expect(noProject.message).toContain("project: is required");
    const messageNoProject = await appError(readMessageResource(f.ctx, String(seed.id), new URLSearchParams()));
    expect(messageNoProject.message).toContain("project");
    const anonymous = await appError(readMessageResource(f.ctx, String(seed.id), new URLSearchParams({ project: f.key })));
    expect(anonymous.code).toBe("AUTHENTICATION_REQUIRED");
    const wrongToken = await appError(readThread(f.ctx, "T-1", new URLSearchParams({ project: f.key, agent: "GreenLake", agent_token: f.token("BlueDog") })));
    expect(wrongToken.code).toBe("AUTHENTICATION_REQUIRED");
    const badId = await appError(readMessageResource(f.ctx, "abc", f.as("GreenLake")));
    expect(badId.code).toBe("INVALID_ARGUMENT");
  });

  it("accepts a credential bound to an agent of the project in place of agent + token", async () => {
    const f = await setup();
    const seed = await f.send("GreenLake", { to: ["BlueDog"], subject: "Bound" });
    const bound: ServiceContext = { ...f.ctx, actor: actorWith(["read", "write"], { id: f.agents.BlueDog!.id, projectId: f.project.id, name: "BlueDog" }) };
    const message = await readMessageResource(bound, String(seed.id), new URLSearchParams({ project: f.key }));
    expect(message).toMatchObject({ id: seed.id, subject: "Bound", kind: "to" });
    const otherProject = await setup();
    const error = await appError(readMessageResource(bound, String(seed.id), new URLSearchParams({ project: otherProject.key })));
    expect(error.code).toBe("AUTHENTICATION_REQUIRED");
  });
});

describe("visibility", () => {
  it("an outsider sees nothing of a conversation in its own project", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox"]);
    const m = await f.send("GreenLake", { to: ["BlueDog"], subject: "Private plans", body_md: "zanzibar rollout - [ ] TODO ship it", thread_id: "SECRET-1", topic: "plans" });
    const reply = await f.reply("BlueDog", { message_id: m.id });
    const outsider = "RedFox";
    const inbox = await invoke(fetchInbox, f.ctx, fetchInboxInput.parse({ project_key: f.key, agent_name: outsider, registration_token: f.token(outsider) }));
    expect(inbox).toEqual([]);
    expect((await readThread(f.ctx, "SECRET-1", f.as(outsider))).messages).toEqual([]);
    expect((await readThread(f.ctx, String(m.id), f.as(outsider))).messages).toEqual([]);
    const hidden = await appError(readMessageResource(f.ctx, String(m.id), f.as(outsider)));
    expect(hidden.code).toBe("NOT_FOUND");
    const search = await invoke(searchMessages, f.ctx, searchMessagesInput.parse({ project_key: f.key, query: "zanzibar", agent_name: outsider, registration_token: f.token(outsider) }));
    expect(search).toEqual([]);
    const summary = await invoke(summarizeThread, f.ctx, summarizeThreadInput.parse({ project_key: f.key, thread_id: "SECRET-1", agent_name: outsider, registration_token: f.token(outsider) }));
    expect(summary).toMatchObject({ thread_id: "SECRET-1", summary: { total_messages: 0, participants: [], action_items: [] } });
    const topic = await invoke(fetchTopic, f.ctx, fetchTopicInput.parse({ project_key: f.key, topic_name: "plans", agent_name: outsider, registration_token: f.token(outsider) }));
    expect(topic).toEqual([]);

    // The participants do see it.
    const insiderSearch = await invoke(searchMessages, f.ctx, searchMessagesInput.parse({ project_key: f.key, query: "zanzibar", agent_name: "BlueDog", registration_token: f.token("BlueDog") }));
    expect(insiderSearch.map((hit) => hit.id)).toEqual([m.id]);
    expect((await readThread(f.ctx, "SECRET-1", f.as("BlueDog"))).messages.map((x) => x.id)).toEqual([m.id, reply.id]);
  });

  it("hides bcc names from to/cc recipients; the sender sees all, a bcc recipient only itself", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk", "SilverOwl"]);
    const m = await f.send("GreenLake", { to: ["BlueDog"], cc: ["RedFox"], bcc: ["GoldHawk", "SilverOwl"], thread_id: "BCC-1" });
    expect(m.bcc).toEqual(["GoldHawk", "SilverOwl"]);
    const expected: Record<string, string[]> = {
      GreenLake: ["GoldHawk", "SilverOwl"],
      BlueDog: [],
      RedFox: [],
      GoldHawk: ["GoldHawk"],
      SilverOwl: ["SilverOwl"],
    };
    for (const [agent, bcc] of Object.entries(expected)) {
      const message = await readMessageResource(f.ctx, String(m.id), f.as(agent));
      expect([agent, message.to, message.cc, message.bcc]).toEqual([agent, ["BlueDog"], ["RedFox"], bcc]);
      const thread = await readThread(f.ctx, "BCC-1", f.as(agent));
      expect([agent, thread.messages.map((x) => x.bcc)]).toEqual([agent, [bcc]]);
    }
    const kinds = await Promise.all(
      ["BlueDog", "RedFox", "GoldHawk"].map((agent) => readMessageResource(f.ctx, String(m.id), f.as(agent)).then((x) => ("kind" in x ? x.kind : undefined))),
    );
    expect(kinds).toEqual(["to", "cc", "bcc"]);
    const senderView = await readMessageResource(f.ctx, String(m.id), f.as("GreenLake"));
    expect("kind" in senderView).toBe(false);
    const bccInbox = await invoke(fetchInbox, f.ctx, fetchInboxInput.parse({ project_key: f.key, agent_name: "GoldHawk", registration_token: f.token("GoldHawk") }));
    expect(bccInbox.map((x) => [x.id, x.kind])).toEqual([[m.id, "bcc"]]);
  });

  it("a message of another project is not found through this project", async () => {
    const f = await setup();
    const other = await setup();
    const m = await other.send("GreenLake", { to: ["BlueDog"] });
    const error = await appError(readMessageResource(f.ctx, String(m.id), f.as("BlueDog")));
    expect(error.code).toBe("NOT_FOUND");
  });
});

describe("operator (dashboard) reads", () => {
  it("the admin operator sees any agent's mail, bcc included", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const m = await f.send("GreenLake", { to: ["BlueDog"], bcc: ["GoldHawk"], thread_id: "OPS-1", subject: "ops kiwi" });
    const message = await invoke(operatorMessage, f.ctx, { project_key: f.key, message_id: m.id });
    expect([message.to, message.bcc]).toEqual([["BlueDog"], ["GoldHawk"]]);
    const thread = await invoke(operatorThread, f.ctx, { project_key: f.key, thread_id: "OPS-1" });
    expect(thread.messages.map((x) => [x.id, x.bcc])).toEqual([[m.id, ["GoldHawk"]]]);
    const inbox = await invoke(operatorInbox, f.ctx, dashboardMailboxInput.parse({ project_key: f.key, agent_name: "GoldHawk" }));
    expect(inbox.messages.map((x) => [x.id, x.kind, x.read_at])).toEqual([[m.id, "bcc", null]]);
    const outbox = await invoke(operatorOutbox, f.ctx, dashboardMailboxInput.parse({ project_key: f.key, agent_name: "GreenLake" }));
    expect(outbox.messages.map((x) => [x.id, x.bcc])).toEqual([[m.id, ["GoldHawk"]]]);
    const hits = await invoke(operatorSearch, f.ctx, { project_key: f.key, query: "kiwi", limit: 10 });
    expect(hits.map((hit) => hit.id)).toEqual([m.id]);
  });

  it("refuses a non-admin actor (FORBIDDEN)", async () => {
    const f = await setup();
    const m = await f.send("GreenLake", { to: ["BlueDog"] });
    const ctx: ServiceContext = { ...f.ctx, actor: actorWith(["read", "write"]) };
    for (const call of [
      () => invoke(operatorMessage, ctx, { project_key: f.key, message_id: m.id }),
      () => invoke(operatorThread, ctx, { project_key: f.key, thread_id: String(m.id) }),
      () => invoke(operatorInbox, ctx, dashboardMailboxInput.parse({ project_key: f.key, agent_name: "BlueDog" })),
      () => invoke(operatorOutbox, ctx, dashboardMailboxInput.parse({ project_key: f.key, agent_name: "GreenLake" })),
      () => invoke(operatorSearch, ctx, { project_key: f.key, query: "Body", limit: 5 }),
    ]) {
      const error = await appError(call());
      expect(error.code).toBe("FORBIDDEN");
    }
  });
});
