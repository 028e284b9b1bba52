import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invoke } from "@/server/operations/invoke";
import { fetchInbox } from "@/server/services/messages/inbox";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { summarizeThread } from "@/server/services/messages/summaries";
import { fetchTopic, messageResource, threadResource } from "@/server/services/messages/threads";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// Payload details upstream's clients match on: every message payload carries `attachments: []`
// (empty when a message has none), and summarize_thread without a thread id is an empty digest.

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

describe("attachments: []", () => {
  it("is on send and reply deliveries, inbox items, the message and thread resources and topic messages", async () => {
    const { ctx, agents } = await projectWithAgents(db, "/payloads/attachments", ["GreenLake", "BlueDog"]);
    const green = { project_key: "/payloads/attachments", registration_token: agents.GreenLake!.token };
    const sent = await invoke(sendMessage, ctx, {
      project_key: "/payloads/attachments",
      sender_name: "BlueDog",
      sender_token: agents.BlueDog!.token,
      to: ["GreenLake"],
      subject: "hello",
      body_md: "body",
      thread_id: "PAY-1",
      topic: "payloads",
    });
    expect(sent.deliveries[0]!.payload.attachments).toEqual([]);
    const id = sent.deliveries[0]!.payload.id;

    const reply = await invoke(replyMessage, ctx, { project_key: "/payloads/attachments", message_id: id, sender_name: "GreenLake", sender_token: green.registration_token, body_md: "re" });
    expect(reply).toMatchObject({ attachments: [], deliveries: [{ payload: { attachments: [] } }] });

    const inbox = await invoke(fetchInbox, ctx, { ...green, agent_name: "GreenLake" });
    expect(inbox.map((item) => item.attachments)).toEqual([[]]);
    const viewer = { project: "/payloads/attachments", agent: "GreenLake", agent_token: green.registration_token };
    expect((await invoke(messageResource, ctx, { ...viewer, message_id: String(id) })).attachments).toEqual([]);
    const thread = await invoke(threadResource, ctx, { ...viewer, thread_id: "PAY-1" });
    expect(thread.messages.map((message) => message.attachments)).toEqual([[], []]);
    const topic = await invoke(fetchTopic, ctx, { ...green, agent_name: "GreenLake", topic_name: "payloads" });
    expect(topic.map((message) => message.attachments)).toEqual([[], []]);
  });
});

describe("summarize_thread without a thread id", () => {
  it("returns an empty digest for an empty or blank thread_id", async () => {
    const { ctx, agents } = await projectWithAgents(db, "/payloads/digest", ["GreenLake"]);
    const base = { project_key: "/payloads/digest", agent_name: "GreenLake", registration_token: agents.GreenLake!.token };
    const empty = { threads: [], aggregate: { top_mentions: [], action_items: [], key_points: [] } };
    expect(await invoke(summarizeThread, ctx, { ...base, thread_id: "" })).toEqual(empty);
    expect(await invoke(summarizeThread, ctx, { ...base, thread_id: " , ," })).toEqual(empty);
  });
});
