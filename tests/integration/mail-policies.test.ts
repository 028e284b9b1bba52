import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailroomClient } from "@/client";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { replyMessageInput, sendMessageInput } from "@/server/schemas/messages";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents } from "../helpers/mail";

// Rules that span send and reply: block_all holds even inside a shared thread, idempotency keys
// belong to one tool, and the dashboard's reads of every agent's mail need the admin role.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("replies and block_all", () => {
  it("refuses a reply to a block_all participant (block_all means nobody), while a contacts_only participant is answered", async () => {
    const { ctx, agents } = await projectWithAgents(db, "/policies/block", ["GreenLake", "BlueDog", "RedFox"]);
    const sent = await invoke(sendMessage, ctx,
      sendMessageInput.parse({
        project_key: "/policies/block",
        sender_name: "GreenLake",
        sender_token: agents.GreenLake!.token,
        to: ["BlueDog"],
        subject: "question",
        body_md: "can you look?",
      }),
    );
    const replyInput = (extra: Record<string, unknown>) =>
      replyMessageInput.parse({
        project_key: "/policies/block",
        message_id: sent.deliveries[0]!.payload.id,
        sender_name: "BlueDog",
        sender_token: agents.BlueDog!.token,
        body_md: "done",
        ...extra,
      });
    await db.prisma.agent.updateMany({ where: { id: { in: [agents.GreenLake!.id, agents.RedFox!.id] } }, data: { contactPolicy: "block_all" } });

    // The original sender shares the thread, yet block_all refuses even its replies.
    const toParticipant = await rejection(invoke(replyMessage, ctx, replyInput({})));
    expect(toParticipant.code).toBe("CONTACT_BLOCKED");
    expect(toParticipant.message).toContain("Recipient is not accepting messages.");
    expect(toParticipant.message).toContain("GreenLake");

    const outsider = await rejection(invoke(replyMessage, ctx, replyInput({ to: [], cc: ["RedFox"] })));
    expect(outsider.code).toBe("CONTACT_BLOCKED");
    expect(outsider.message).toContain("RedFox");
    expect(await db.prisma.message.count({ where: { senderId: agents.BlueDog!.id } })).toBe(0);

    // contacts_only without a link: the shared thread lets the reply through.
    await db.prisma.agent.update({ where: { id: agents.GreenLake!.id }, data: { contactPolicy: "contacts_only" } });
    const reply = await invoke(replyMessage, ctx, replyInput({}));
    expect(reply.count).toBe(1);
    expect(reply.deliveries[0]!.payload.to).toEqual(["GreenLake"]);
    expect(reply.thread_id).toBe(String(sent.deliveries[0]!.payload.id));
  });
});

describe("idempotency keys belong to one tool", () => {
  it("refuses to reuse a send_message key for reply_message", async () => {
    const { ctx, agents } = await projectWithAgents(db, "/policies/keys", ["GreenLake", "BlueDog"]);
    const sent = await invoke(sendMessage, ctx,
      sendMessageInput.parse({
        project_key: "/policies/keys",
        sender_name: "GreenLake",
        sender_token: agents.GreenLake!.token,
        to: ["BlueDog"],
        subject: "keyed",
        body_md: "x",
        idempotency_key: "shared-key",
      }),
    );
    const error = await rejection(
      invoke(replyMessage, ctx,
        replyMessageInput.parse({
          project_key: "/policies/keys",
          message_id: sent.deliveries[0]!.payload.id,
          sender_name: "GreenLake",
          sender_token: agents.GreenLake!.token,
          body_md: "again",
          idempotency_key: "shared-key",
        }),
      ),
    );
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain("already used by send_message");
    expect(await db.prisma.message.count({ where: { senderId: agents.GreenLake!.id } })).toBe(1);
  });
});

describe("dashboard mail procedures", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(db);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("lets the local operator (admin) read any agent's inbox and write as HumanOverseer", async () => {
    await projectWithAgents(db, "/policies/dashboard", ["GreenLake", "BlueDog"]);
    const client = createMailroomClient({ url: server.url });
    const sent = await client.messages.overseerSend.mutate({
      project_key: "/policies/dashboard",
      recipients: ["BlueDog"],
      subject: "Please pause",
      body_md: "Stop merging until the release is cut.",
    });
    expect(sent.success).toBe(true);
    expect(sent.recipients).toEqual(["BlueDog"]);
    const inbox = await client.messages.inbox.query({ project_key: "/policies/dashboard", agent_name: "BlueDog" });
    expect(inbox.messages.map((m) => [m.id, m.subject, m.from, m.importance])).toEqual([[sent.message_id, "Please pause", "HumanOverseer", "high"]]);
    const message = await client.messages.get.query({ project_key: "/policies/dashboard", message_id: sent.message_id! });
    expect(message.body_md).toContain("MESSAGE FROM HUMAN OVERSEER");
    expect(message.body_md).toContain("Stop merging until the release is cut.");
  });
});
