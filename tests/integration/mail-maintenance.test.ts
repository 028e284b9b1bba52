import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_OPERATOR, type Role } from "@/server/auth/actor";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import {
  fetchInboxInput,
  overseerSendInput,
  purgeOldMessagesInput,
  replyMessageInput,
  sendMessageInput,
  type OverseerSendInput,
} from "@/server/schemas/messages";
import type { ServiceContext } from "@/server/services/context";
import { fetchInbox } from "@/server/services/messages/inbox";
import { purgeOldMessages } from "@/server/services/messages/maintenance";
import { OVERSEER_NAME, overseerSend } from "@/server/services/messages/overseer";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// purge_old_messages (reference §2.2) and the dashboard's overseer message.

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
const DAY = 86_400_000;
let projectCounter = 0;

async function setup(names: string[] = ["GreenLake", "BlueDog", "RedFox"]) {
  projectCounter += 1;
  const fixture = await projectWithAgents(db, `/maintenance-${projectCounter}`, names);
  const key = fixture.project.slug;
  const { ctx, agents } = fixture;
  return {
    ...fixture,
    key,
    send: async (from: string, to: string[], subject = "Subject") => {
      const result = await invoke(sendMessage, ctx,
        sendMessageInput.parse({ project_key: key, sender_name: from, sender_token: agents[from]!.token, to, subject, body_md: "Body" }),
      );
      return result.deliveries[0]!.payload.id;
    },
    inbox: (agent: string) => invoke(fetchInbox, ctx, fetchInboxInput.parse({ project_key: key, agent_name: agent, registration_token: agents[agent]!.token, include_bodies: true })),
    overseer: (input: Partial<OverseerSendInput> & { recipients: string[] }, context: ServiceContext = ctx) =>
      invoke(overseerSend, context, overseerSendInput.parse({ project_key: key, subject: "Please stop", body_md: "Pause all deploys.", ...input })),
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

function withRoles(ctx: ServiceContext, roles: Role[]): ServiceContext {
  return { ...ctx, actor: { ...LOCAL_OPERATOR, principal: "token:test", kind: "token", roles: new Set<Role>(roles) } };
}

describe("purge_old_messages", () => {
  it("counts without deleting by default (dry run), then purges with their recipient rows", async () => {
    const f = await setup();
    const old1 = await f.send("GreenLake", ["BlueDog", "RedFox"], "old one");
    const old2 = await f.send("BlueDog", ["GreenLake"], "old two");
    const fresh = await f.send("GreenLake", ["BlueDog"], "fresh");
    const borderline = await f.send("GreenLake", ["BlueDog"], "179 days");
    await db.prisma.message.updateMany({ where: { id: { in: [old1, old2] } }, data: { createdTs: new Date(Date.now() - 200 * DAY) } });
    await db.prisma.message.update({ where: { id: borderline }, data: { createdTs: new Date(Date.now() - 179 * DAY) } });

    const before = Date.now();
    const dry = await invoke(purgeOldMessages, f.ctx, purgeOldMessagesInput.parse({ project_key: f.key }));
    expect(dry).toEqual({ status: "dry_run", messages_affected: 2, cutoff_date: expect.stringMatching(ISO_UTC), max_age_days: 180 });
    expect(Math.abs(Date.parse(dry.cutoff_date) - (before - 180 * DAY))).toBeLessThan(60_000);
    expect(await db.prisma.message.count({ where: { projectId: f.project.id } })).toBe(4);

    const purged = await invoke(purgeOldMessages, f.ctx, purgeOldMessagesInput.parse({ project_key: f.key, dry_run: false }));
    expect(purged).toMatchObject({ status: "purged", messages_affected: 2, max_age_days: 180 });
    const left = await db.prisma.message.findMany({ where: { projectId: f.project.id }, orderBy: { id: "asc" } });
    expect(left.map((m) => m.id)).toEqual([fresh, borderline]);
    expect(await db.prisma.messageRecipient.count({ where: { messageId: { in: [old1, old2] } } })).toBe(0);
    expect(await db.prisma.messageRecipient.count({ where: { messageId: { in: [fresh, borderline] } } })).toBe(2);
    expect((await f.inbox("RedFox")).map((m) => m.id)).toEqual([]);
    expect((await f.inbox("BlueDog")).map((m) => m.id)).toEqual([borderline, fresh]);

    const again = await invoke(purgeOldMessages, f.ctx, purgeOldMessagesInput.parse({ project_key: f.key, dry_run: false }));
    expect(again.messages_affected).toBe(0);
  });

  it("honours max_age_days and touches no other project", async () => {
    const f = await setup();
    const other = await setup();
    const mine = await f.send("GreenLake", ["BlueDog"]);
    const theirs = await other.send("GreenLake", ["BlueDog"]);
    await db.prisma.message.updateMany({ where: { id: { in: [mine, theirs] } }, data: { createdTs: new Date(Date.now() - 40 * DAY) } });
    expect((await invoke(purgeOldMessages, f.ctx, purgeOldMessagesInput.parse({ project_key: f.key, max_age_days: 60, dry_run: false }))).messages_affected).toBe(0);
    const result = await invoke(purgeOldMessages, f.ctx, purgeOldMessagesInput.parse({ project_key: f.key, max_age_days: 30, dry_run: false }));
    expect(result).toMatchObject({ status: "purged", messages_affected: 1, max_age_days: 30 });
    expect(await db.prisma.message.count({ where: { id: mine } })).toBe(0);
    expect(await db.prisma.message.count({ where: { id: theirs } })).toBe(1);
  });

  it("refuses max_age_days below 1 and an unknown project", async () => {
    const f = await setup();
    expect(() => purgeOldMessagesInput.parse({ project_key: f.key, max_age_days: 0 })).toThrow();
    const error = await appError(invoke(purgeOldMessages, f.ctx, purgeOldMessagesInput.parse({ project_key: "/no/such/project" })));
    expect(error.code).toBe("NOT_FOUND");
  });
});

describe("overseer messages", () => {
  it("sends as HumanOverseer (WebUI/Human), importance high, with the preamble", async () => {
    const f = await setup();
    const result = await f.overseer({ recipients: ["BlueDog", "RedFox"], subject: "Stop deploys", body_md: "Pause all deploys." });
    expect(result).toEqual({ success: true, message_id: expect.any(Number), recipients: ["BlueDog", "RedFox"], sent_at: expect.stringMatching(ISO_UTC) });
    const overseer = await db.prisma.agent.findUniqueOrThrow({ where: { projectId_nameKey: { projectId: f.project.id, nameKey: "humanoverseer" } } });
    expect(overseer).toMatchObject({ name: OVERSEER_NAME, program: "WebUI", model: "Human", contactPolicy: "open" });
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id: result.message_id! } });
    expect(message).toMatchObject({ senderId: overseer.id, importance: "high", ackRequired: false, subject: "Stop deploys" });
    expect(message.bodyMd.startsWith("---\n\n🚨 MESSAGE FROM HUMAN OVERSEER 🚨")).toBe(true);
    expect(message.bodyMd.endsWith("Pause all deploys.")).toBe(true);
    const [item] = await f.inbox("BlueDog");
    expect(item).toMatchObject({ id: result.message_id, from: OVERSEER_NAME, importance: "high", kind: "to" });
    expect(item!.body_md).toBe(message.bodyMd);
  });

  it("reaches a block_all recipient, reuses one overseer agent, and honours thread_id", async () => {
    const f = await setup();
    await db.prisma.agent.update({ where: { id: f.agents.BlueDog!.id }, data: { contactPolicy: "block_all" } });
    const first = await f.overseer({ recipients: ["BlueDog"], thread_id: "OVERSIGHT-1" });
    const second = await f.overseer({ recipients: ["bluedog"], thread_id: "OVERSIGHT-1" });
    expect(second.recipients).toEqual(["BlueDog"]);
    expect((await f.inbox("BlueDog")).map((m) => [m.id, m.thread_id])).toEqual([
      [second.message_id, "OVERSIGHT-1"],
      [first.message_id, "OVERSIGHT-1"],
    ]);
    expect(await db.prisma.agent.count({ where: { projectId: f.project.id, nameKey: "humanoverseer" } })).toBe(1);
    // Agents still cannot reach the block_all agent.
    const blocked = await appError(f.send("GreenLake", ["BlueDog"]));
    expect(blocked.code).toBe("CONTACT_BLOCKED");
  });

  it("lets the recipient reply to the overseer", async () => {
    const f = await setup();
    const sent = await f.overseer({ recipients: ["BlueDog"] });
    const reply = await invoke(replyMessage, f.ctx,
      replyMessageInput.parse({ project_key: f.key, message_id: sent.message_id!, sender_name: "BlueDog", sender_token: f.agents.BlueDog!.token, body_md: "Paused." }),
    );
    expect(reply).toMatchObject({ to: [OVERSEER_NAME], subject: "Re: Please stop", importance: "high", thread_id: String(sent.message_id) });
  });

  it("refuses unknown recipients and an actor without the write role, writing nothing", async () => {
    const f = await setup();
    const unknown = await appError(f.overseer({ recipients: ["BlueDog", "SilentGlacier"] }));
    expect(unknown.code).toBe("RECIPIENT_NOT_FOUND");
    const readOnly = await appError(f.overseer({ recipients: ["BlueDog"] }, withRoles(f.ctx, ["read"])));
    expect(readOnly.code).toBe("FORBIDDEN");
    expect(await db.prisma.message.count({ where: { projectId: f.project.id } })).toBe(0);
    const writer = await f.overseer({ recipients: ["BlueDog"] }, withRoles(f.ctx, ["write"]));
    expect(writer.success).toBe(true);
  });

  it("validates its input: at least one recipient, subject 1..200, a body", async () => {
    const f = await setup();
    expect(() => overseerSendInput.parse({ project_key: f.key, recipients: [], subject: "x", body_md: "y" })).toThrow();
    expect(() => overseerSendInput.parse({ project_key: f.key, recipients: ["BlueDog"], subject: "", body_md: "y" })).toThrow();
    expect(() => overseerSendInput.parse({ project_key: f.key, recipients: ["BlueDog"], subject: "x".repeat(201), body_md: "y" })).toThrow();
    expect(() => overseerSendInput.parse({ project_key: f.key, recipients: ["BlueDog"], subject: "x", body_md: "" })).toThrow();
    const badThread = await appError(f.overseer({ recipients: ["BlueDog"], thread_id: "bad thread" }));
    expect(badThread.code).toBe("INVALID_THREAD_ID");
  });
});
