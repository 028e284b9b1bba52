import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import {
  fetchInboxInput,
  replyMessageInput,
  sendMessageInput,
  type FetchInboxInput,
  type ReplyMessageInput,
  type SendMessageInput,
} from "@/server/schemas/messages";
import type { ServiceConfig, ServiceContext } from "@/server/services/context";
import { fetchInbox } from "@/server/services/messages/inbox";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// send_message at the service level (reference §2.2 send_message, §3.3 routing, §13.1 #6–#9):
// payload shape, authentication, name mistakes, broadcast, cross-project delivery, atomicity,
// limits and idempotency keys. Every test gets its own project so counts stay exact.

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
let projectCounter = 0;

/** A fresh project (/send-N) with the given agents. */
function setup(names: string[] = ["GreenLake", "BlueDog", "RedFox"], config: Partial<ServiceConfig> = {}) {
  projectCounter += 1;
  return projectWithAgents(db, `/send-${projectCounter}`, names, config);
}

type SendArgs = Omit<Partial<SendMessageInput>, "to"> & { to?: string | string[] | null; project_key: string; sender_name: string };
function send(ctx: ServiceContext, input: SendArgs) {
  return invoke(sendMessage, ctx, sendMessageInput.parse({ subject: "Hello", body_md: "Body text", ...input }));
}
function inbox(ctx: ServiceContext, input: Partial<FetchInboxInput> & { project_key: string; agent_name: string }) {
  return invoke(fetchInbox, ctx, fetchInboxInput.parse(input));
}
function reply(ctx: ServiceContext, input: Partial<ReplyMessageInput> & { project_key: string; sender_name: string; message_id: number }) {
  return invoke(replyMessage, ctx, replyMessageInput.parse({ body_md: "Reply body", ...input }));
}

/** The AppError a promise rejects with (fails the test if it resolves or throws something else). */
async function appError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected the call to fail with an AppError, but it succeeded");
}

async function messageCount(projectId?: number) {
  return db.prisma.message.count(projectId === undefined ? undefined : { where: { projectId } });
}

describe("send_message result shape (13.1 #7)", () => {
  it("returns count 1, the project's human key and the full send payload", async () => {
    const { ctx, project, agents } = await setup();
    const { GreenLake: a, BlueDog: b } = agents;
    const result = await send(ctx, {
      project_key: project.human_key,
      sender_name: a!.name,
      sender_token: a!.token,
      to: [b!.name],
      subject: "Test subject",
      body_md: "# Hi\n\nFirst message",
    });
    expect(result.count).toBe(1);
    expect(result.verified_sender).toBe(true);
    expect(result.idempotent_replay).toBeUndefined();
    expect(result.deliveries).toHaveLength(1);
    const [delivery] = result.deliveries;
    expect(delivery!.project).toBe(project.human_key);
    const payload = delivery!.payload;
    expect(payload).toMatchObject({
      project_id: project.id,
      sender_id: a!.id,
      subject: "Test subject",
      body_md: "# Hi\n\nFirst message",
      from: "GreenLake",
      to: ["BlueDog"],
      cc: [],
      bcc: [],
      importance: "normal",
      ack_required: false,
      thread_id: null,
      topic: null,
      attachments: [],
    });
    expect(Number.isInteger(payload.id)).toBe(true);
    expect(payload.created_ts).toMatch(ISO_UTC);
    expect(payload.created_ts.endsWith("+00:00")).toBe(true);
    expect(payload.from_project).toBeUndefined();

    const row = await db.prisma.message.findUniqueOrThrow({ where: { id: payload.id }, include: { recipients: true } });
    expect(row.projectId).toBe(project.id);
    expect(row.senderId).toBe(a!.id);
    expect(row.recipients.map((r) => [r.agentId, r.kind, r.readTs, r.ackTs])).toEqual([[b!.id, "to", null, null]]);
    expect(row.createdTs.toISOString().replace("Z", "+00:00")).toBe(payload.created_ts);
  });

  it("delivers to three recipients as one message (count 1) that each of them sees", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const before = await messageCount(project.id);
    const result = await send(ctx, {
      project_key: project.slug,
      sender_name: "GreenLake",
      sender_token: agents.GreenLake!.token,
      to: ["BlueDog", "RedFox", "GoldHawk"],
      subject: "Three-way",
    });
    expect(result.count).toBe(1);
    expect(result.deliveries[0]!.payload.to).toEqual(["BlueDog", "RedFox", "GoldHawk"]);
    expect(await messageCount(project.id)).toBe(before + 1);
    const id = result.deliveries[0]!.payload.id;
    for (const name of ["BlueDog", "RedFox", "GoldHawk"]) {
      const items = await inbox(ctx, { project_key: project.slug, agent_name: name, registration_token: agents[name]!.token });
      expect(items.map((item) => [item.id, item.subject, item.from, item.kind])).toEqual([[id, "Three-way", "GreenLake", "to"]]);
    }
    const senderInbox = await inbox(ctx, { project_key: project.slug, agent_name: "GreenLake", registration_token: agents.GreenLake!.token });
    expect(senderInbox).toEqual([]);
  });

  it("accepts a single string for to, cc and bcc", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const result = await send(ctx, {
      project_key: project.slug,
      sender_name: "GreenLake",
      sender_token: agents.GreenLake!.token,
      to: "BlueDog",
      cc: "RedFox",
      bcc: "GoldHawk",
    });
    const payload = result.deliveries[0]!.payload;
    expect([payload.to, payload.cc, payload.bcc]).toEqual([["BlueDog"], ["RedFox"], ["GoldHawk"]]);
    const kinds = await db.prisma.messageRecipient.findMany({ where: { messageId: payload.id }, orderBy: { agentId: "asc" } });
    expect(kinds.map((r) => [r.agentId, r.kind])).toEqual([
      [agents.BlueDog!.id, "to"],
      [agents.RedFox!.id, "cc"],
      [agents.GoldHawk!.id, "bcc"],
    ]);
  });

  it("resolves recipient names case-insensitively and keeps one row per agent (to wins over cc)", async () => {
    const { ctx, project, agents } = await setup();
    const result = await send(ctx, {
      project_key: project.slug,
      sender_name: "greenlake",
      sender_token: agents.GreenLake!.token,
      to: ["bluedog", "BLUEDOG"],
      cc: ["BlueDog", "redfox"],
    });
    const payload = result.deliveries[0]!.payload;
    expect(payload.from).toBe("GreenLake");
    expect(payload.to).toEqual(["BlueDog"]);
    expect(payload.cc).toEqual(["RedFox"]);
    expect(await db.prisma.messageRecipient.count({ where: { messageId: payload.id } })).toBe(2);
  });

  it("truncates a subject longer than 200 characters to 200 and keeps an empty subject", async () => {
    const { ctx, project, agents } = await setup();
    const long = "S".repeat(150) + "x".repeat(150);
    const result = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: long });
    const subject = result.deliveries[0]!.payload.subject;
    expect(subject).toHaveLength(200);
    expect(subject).toBe(long.slice(0, 200));
    const row = await db.prisma.message.findUniqueOrThrow({ where: { id: result.deliveries[0]!.payload.id } });
    expect(row.subject).toBe(subject);

    const empty = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: "" });
    expect(empty.deliveries[0]!.payload.subject).toBe("");
  });

  it("counts the 200-character subject limit in characters, never splitting an emoji", async () => {
    const { ctx, project, agents } = await setup();
    const subject = `${"a".repeat(199)}😀tail`;
    const result = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject });
    const expected = `${"a".repeat(199)}😀`;
    expect(result.deliveries[0]!.payload.subject).toBe(expected);
    const row = await db.prisma.message.findUniqueOrThrow({ where: { id: result.deliveries[0]!.payload.id } });
    expect(row.subject).toBe(expected);
  });

  it("echoes importance, ack_required and an explicit thread_id", async () => {
    const { ctx, project, agents } = await setup();
    const result = await send(ctx, {
      project_key: project.slug,
      sender_name: "GreenLake",
      sender_token: agents.GreenLake!.token,
      to: ["BlueDog"],
      importance: "urgent",
      ack_required: true,
      thread_id: "  FEAT-42  ",
    });
    expect(result.deliveries[0]!.payload).toMatchObject({ importance: "urgent", ack_required: true, thread_id: "FEAT-42" });
  });

  it("lets an agent send to itself", async () => {
    const { ctx, project, agents } = await setup();
    const result = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["GreenLake"] });
    expect(result.count).toBe(1);
    const items = await inbox(ctx, { project_key: project.slug, agent_name: "GreenLake", registration_token: agents.GreenLake!.token });
    expect(items.map((item) => item.id)).toEqual([result.deliveries[0]!.payload.id]);
  });
});

describe("sender authentication and recipient errors (13.1 #6, #8)", () => {
  it("requires sender_token, naming the parameter", async () => {
    const { ctx, project } = await setup();
    const before = await messageCount(project.id);
    const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", to: ["BlueDog"] }));
    expect(error.code).toBe("AUTHENTICATION_REQUIRED");
    expect(error.message).toContain("sender_token");
    expect(error.message).toContain("GreenLake");
    expect(await messageCount(project.id)).toBe(before);
  });

  it("rejects a wrong sender_token, and another agent's token", async () => {
    const { ctx, project, agents } = await setup();
    for (const token of ["not-the-token", agents.BlueDog!.token]) {
      const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: token, to: ["BlueDog"] }));
      expect(error.code).toBe("AUTHENTICATION_REQUIRED");
      expect(error.message).toContain("Invalid sender_token for agent 'GreenLake'");
    }
    expect(await messageCount(project.id)).toBe(0);
  });

  it("reports an unknown sender as not found", async () => {
    const { ctx, project, agents } = await setup();
    const error = await appError(send(ctx, { project_key: project.slug, sender_name: "QuietMountain", sender_token: agents.GreenLake!.token, to: ["BlueDog"] }));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("not found");
    expect(error.message).toContain("QuietMountain");
  });

  it("reports an unknown project as not found", async () => {
    const { ctx, agents } = await setup();
    const error = await appError(send(ctx, { project_key: "/no/such/project", sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"] }));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("not found");
  });

  it("reports an unknown recipient as RECIPIENT_NOT_FOUND ('not registered') and writes nothing", async () => {
    const { ctx, project, agents } = await setup();
    const error = await appError(
      send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["SilentGlacier"] }),
    );
    expect(error.code).toBe("RECIPIENT_NOT_FOUND");
    expect(error.message).toContain("not registered");
    expect(error.message).toContain("SilentGlacier");
    expect(error.message).toContain(`resource://agents/${project.slug}`);
    expect(error.data).toEqual({ recipients: ["SilentGlacier"] });
    expect(await messageCount(project.id)).toBe(0);
  });

  it("suggests a close name for a misspelt recipient", async () => {
    const { ctx, project, agents } = await setup();
    const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDogg"] }));
    expect(error.code).toBe("RECIPIENT_NOT_FOUND");
    expect(error.message).toContain("BlueDog");
  });

  it("treats to: [] (and blank entries) without broadcast as nothing to send, not an error", async () => {
    const { ctx, project, agents } = await setup();
    for (const to of [[], ["", "   "]]) {
      const result = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to });
      expect(result).toEqual({ deliveries: [], count: 0, verified_sender: true });
    }
    const omitted = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token });
    expect(omitted).toEqual({ deliveries: [], count: 0, verified_sender: true });
    expect(await messageCount(project.id)).toBe(0);
  });

  it("still authenticates the sender when there is nobody to send to", async () => {
    const { ctx, project } = await setup();
    const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: "wrong", to: [] }));
    expect(error.code).toBe("AUTHENTICATION_REQUIRED");
  });

  it("names the mistake for a program name, a broadcast word and an email address", async () => {
    const { ctx, project, agents } = await setup();
    const cases: [string, string][] = [
      ["claude-code", "PROGRAM_NAME_AS_AGENT"],
      ["all", "BROADCAST_ATTEMPT"],
      ["*", "BROADCAST_ATTEMPT"],
      ["bob@x.com", "EMAIL_AS_AGENT"],
      ["gpt-5", "MODEL_NAME_AS_AGENT"],
    ];
    for (const [recipient, code] of cases) {
      const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: [recipient] }));
      expect([recipient, error.code]).toEqual([recipient, code]);
      expect(error.data).toEqual({ recipient });
    }
    expect(await messageCount(project.id)).toBe(0);
  });

  it("rejects an invalid thread_id and topic before anything is written", async () => {
    const { ctx, project, agents } = await setup();
    for (const threadId of ["-bad", "a b", "x".repeat(129)]) {
      const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], thread_id: threadId }));
      expect(error.code).toBe("INVALID_THREAD_ID");
    }
    const topicError = await appError(
      send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], topic: "spaces not allowed" }),
    );
    expect(topicError.code).toBe("INVALID_TOPIC");
    expect(topicError.message).toContain("topic");
    expect(await messageCount(project.id)).toBe(0);
  });

  it("treats a blank thread_id as none", async () => {
    const { ctx, project, agents } = await setup();
    const result = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], thread_id: "   " });
    expect(result.deliveries[0]!.payload.thread_id).toBeNull();
  });

  it("refuses attachment_paths when the project's human_key is no directory on this server, without writing", async () => {
    const { ctx, project, agents } = await setup();
    const error = await appError(
      send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], attachment_paths: ["/tmp/x.png"] }),
    );
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.data).toEqual({ field: "attachment_paths" });
    expect(await messageCount(project.id)).toBe(0);
  });
});

describe("broadcast (13.1 #9)", () => {
  it("delivers to every other agent, excluding the sender", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    const result = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: [], broadcast: true });
    expect(result.count).toBe(1);
    expect([...result.deliveries[0]!.payload.to].sort()).toEqual(["BlueDog", "GoldHawk", "RedFox"]);
    const rows = await db.prisma.messageRecipient.findMany({ where: { messageId: result.deliveries[0]!.payload.id } });
    expect(rows.map((r) => r.agentId).sort((x, y) => x - y)).toEqual([agents.BlueDog!.id, agents.RedFox!.id, agents.GoldHawk!.id].sort((x, y) => x - y));
    expect(rows.every((r) => r.kind === "to")).toBe(true);
  });

  it("skips block_all, retired and long-inactive agents", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk", "SilverOwl"]);
    await db.prisma.agent.update({ where: { id: agents.RedFox!.id }, data: { contactPolicy: "block_all" } });
    await db.prisma.agent.update({ where: { id: agents.GoldHawk!.id }, data: { retiredAt: new Date() } });
    await db.prisma.agent.update({ where: { id: agents.SilverOwl!.id }, data: { lastActiveTs: new Date(Date.now() - 31 * 86_400_000) } });
    const result = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, broadcast: true });
    expect(result.count).toBe(1);
    expect(result.deliveries[0]!.payload.to).toEqual(["BlueDog"]);
  });

  it("gives count 0 for a sole agent", async () => {
    const { ctx, project, agents } = await setup(["GreenLake"]);
    const result = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: [], broadcast: true });
    expect(result).toEqual({ deliveries: [], count: 0, verified_sender: true });
    expect(await messageCount(project.id)).toBe(0);
  });

  it("refuses broadcast with a non-empty to ('mutually exclusive') and with cc/bcc", async () => {
    const { ctx, project, agents } = await setup();
    const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], broadcast: true }));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain("mutually exclusive");
    const ccError = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, cc: ["BlueDog"], broadcast: true }));
    expect(ccError.code).toBe("INVALID_ARGUMENT");
    expect(await messageCount(project.id)).toBe(0);
  });

  it("still applies the recipient limit to a broadcast", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"], { maxRecipients: 2 });
    const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, broadcast: true }));
    expect(error.code).toBe("TOO_MANY_RECIPIENTS");
    expect(await messageCount(project.id)).toBe(0);
  });
});

describe("cross-project routing (§3.3, 13.1 #19)", () => {
  async function twoProjects() {
    const backend = await setup(["GreenLake", "BlueDog"]);
    const frontend = await setup(["RedFox", "GoldHawk"]);
    return { backend, frontend };
  }

  it("delivers project:<slug>#Name as a separate message row in the other project", async () => {
    const { backend, frontend } = await twoProjects();
    const ctx = backend.ctx;
    const result = await send(ctx, {
      project_key: backend.project.slug,
      sender_name: "GreenLake",
      sender_token: backend.agents.GreenLake!.token,
      to: [`project:${frontend.project.slug}#RedFox`],
      subject: "Cross hello",
    });
    expect(result.count).toBe(1);
    const [delivery] = result.deliveries;
    expect(delivery!.project).toBe(frontend.project.human_key);
    expect(delivery!.payload).toMatchObject({
      project_id: frontend.project.id,
      sender_id: backend.agents.GreenLake!.id,
      from: "GreenLake",
      from_project: backend.project.human_key,
      from_project_slug: backend.project.slug,
      from_address: `project:${backend.project.slug}#GreenLake`,
      to: ["RedFox"],
    });
    expect(await messageCount(backend.project.id)).toBe(0);
    expect(await messageCount(frontend.project.id)).toBe(1);

    const items = await inbox(ctx, { project_key: frontend.project.slug, agent_name: "RedFox", registration_token: frontend.agents.RedFox!.token });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      id: delivery!.payload.id,
      subject: "Cross hello",
      from: "GreenLake",
      from_project: backend.project.human_key,
      from_project_slug: backend.project.slug,
      from_address: `project:${backend.project.slug}#GreenLake`,
      kind: "to",
    });
  });

  it("accepts Name@<slug> and the human key as the project identifier", async () => {
    const { backend, frontend } = await twoProjects();
    for (const address of [`GoldHawk@${frontend.project.slug}`, `project:${frontend.project.human_key}#goldhawk`]) {
      const result = await send(backend.ctx, {
        project_key: backend.project.slug,
        sender_name: "GreenLake",
        sender_token: backend.agents.GreenLake!.token,
        to: [address],
      });
      expect(result.deliveries.map((d) => [d.project, d.payload.project_id, d.payload.to])).toEqual([
        [frontend.project.human_key, frontend.project.id, ["GoldHawk"]],
      ]);
    }
    expect(await messageCount(frontend.project.id)).toBe(2);
  });

  it("delivers [local, external] in one call: two deliveries, local first", async () => {
    const { backend, frontend } = await twoProjects();
    const result = await send(backend.ctx, {
      project_key: backend.project.slug,
      sender_name: "GreenLake",
      sender_token: backend.agents.GreenLake!.token,
      to: [`RedFox@${frontend.project.slug}`, "BlueDog"],
      subject: "Both",
    });
    expect(result.count).toBe(2);
    expect(result.deliveries.map((d) => [d.project, d.payload.to, d.payload.from_project ?? null])).toEqual([
      [backend.project.human_key, ["BlueDog"], null],
      [frontend.project.human_key, ["RedFox"], backend.project.human_key],
    ]);
    expect(result.deliveries[0]!.payload.id).not.toBe(result.deliveries[1]!.payload.id);
    expect(result.deliveries[0]!.payload.created_ts).toBe(result.deliveries[1]!.payload.created_ts);
    expect(await messageCount(backend.project.id)).toBe(1);
    expect(await messageCount(frontend.project.id)).toBe(1);
    const local = await inbox(backend.ctx, { project_key: backend.project.slug, agent_name: "BlueDog", registration_token: backend.agents.BlueDog!.token });
    expect(local.map((item) => [item.subject, item.from_project ?? null])).toEqual([["Both", null]]);
  });

  it("reports an external name in an unknown project, or unknown in a known project, as not registered", async () => {
    const { backend, frontend } = await twoProjects();
    for (const address of ["project:no-such-project#RedFox", `project:${frontend.project.slug}#SilentGlacier`, `SilentGlacier@${frontend.project.slug}`]) {
      const error = await appError(
        send(backend.ctx, { project_key: backend.project.slug, sender_name: "GreenLake", sender_token: backend.agents.GreenLake!.token, to: [address] }),
      );
      expect([address, error.code]).toEqual([address, "RECIPIENT_NOT_FOUND"]);
      expect(error.message).toContain("not registered");
    }
    expect(await messageCount(frontend.project.id)).toBe(0);
  });

  it("does not resolve a plain name in another project without a contact link", async () => {
    const { backend } = await twoProjects();
    const error = await appError(
      send(backend.ctx, { project_key: backend.project.slug, sender_name: "GreenLake", sender_token: backend.agents.GreenLake!.token, to: ["RedFox"] }),
    );
    expect(error.code).toBe("RECIPIENT_NOT_FOUND");
  });

  it("resolves a plain name through an approved, unexpired contact link to another project", async () => {
    const { backend, frontend } = await twoProjects();
    await db.prisma.agentLink.create({
      data: {
        aProjectId: backend.project.id,
        aAgentId: backend.agents.GreenLake!.id,
        bProjectId: frontend.project.id,
        bAgentId: frontend.agents.RedFox!.id,
        status: "approved",
        expiresTs: new Date(Date.now() + 3600_000),
      },
    });
    const result = await send(backend.ctx, { project_key: backend.project.slug, sender_name: "GreenLake", sender_token: backend.agents.GreenLake!.token, to: ["RedFox"] });
    expect(result.deliveries.map((d) => [d.project, d.payload.to])).toEqual([[frontend.project.human_key, ["RedFox"]]]);
    await db.prisma.agentLink.updateMany({ where: { aAgentId: backend.agents.GreenLake!.id }, data: { expiresTs: new Date(Date.now() - 1000) } });
    const error = await appError(send(backend.ctx, { project_key: backend.project.slug, sender_name: "GreenLake", sender_token: backend.agents.GreenLake!.token, to: ["RedFox"] }));
    expect(error.code).toBe("RECIPIENT_NOT_FOUND");
  });

  it("refuses a block_all external recipient", async () => {
    const { backend, frontend } = await twoProjects();
    await db.prisma.agent.update({ where: { id: frontend.agents.RedFox!.id }, data: { contactPolicy: "block_all" } });
    const error = await appError(
      send(backend.ctx, { project_key: backend.project.slug, sender_name: "GreenLake", sender_token: backend.agents.GreenLake!.token, to: ["BlueDog", `RedFox@${frontend.project.slug}`] }),
    );
    expect(error.code).toBe("CONTACT_BLOCKED");
    expect(await messageCount(backend.project.id)).toBe(0);
    expect(await messageCount(frontend.project.id)).toBe(0);
  });
});

describe("atomicity, contact policy and limits", () => {
  it("delivers to nobody when one of several recipients is unknown", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox"]);
    const before = await messageCount();
    const recipientsBefore = await db.prisma.messageRecipient.count();
    const error = await appError(
      send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog", "SilentGlacier"], cc: ["RedFox"] }),
    );
    expect(error.code).toBe("RECIPIENT_NOT_FOUND");
    expect(error.data).toEqual({ recipients: ["SilentGlacier"] });
    expect(await messageCount()).toBe(before);
    expect(await db.prisma.messageRecipient.count()).toBe(recipientsBefore);
    for (const name of ["BlueDog", "RedFox"]) {
      expect(await inbox(ctx, { project_key: project.slug, agent_name: name, registration_token: agents[name]!.token })).toEqual([]);
    }
  });

  it("refuses a block_all recipient with 'Recipient is not accepting messages' and delivers to nobody", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox"]);
    await db.prisma.agent.update({ where: { id: agents.BlueDog!.id }, data: { contactPolicy: "block_all" } });
    const error = await appError(
      send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["RedFox", "BlueDog"] }),
    );
    expect(error.code).toBe("CONTACT_BLOCKED");
    expect(error.message).toContain("Recipient is not accepting messages");
    expect(error.message).toContain("BlueDog");
    expect(await messageCount(project.id)).toBe(0);
  });

  it("lets a block_all agent still send, and send to itself", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog"]);
    await db.prisma.agent.update({ where: { id: agents.GreenLake!.id }, data: { contactPolicy: "block_all" } });
    const out = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog", "GreenLake"] });
    expect(out.deliveries[0]!.payload.to).toEqual(["BlueDog", "GreenLake"]);
  });

  it("refuses a retired recipient with AGENT_RETIRED", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox"]);
    await db.prisma.agent.update({ where: { id: agents.BlueDog!.id }, data: { retiredAt: new Date() } });
    const error = await appError(send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["RedFox"], cc: ["BlueDog"] }));
    expect(error.code).toBe("AGENT_RETIRED");
    expect(error.message).toContain("BlueDog");
    expect(await messageCount(project.id)).toBe(0);
  });

  it("refuses a body over maxBodyBytes (PAYLOAD_TOO_LARGE naming body_md) and accepts one at the limit", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog"], { maxBodyBytes: 2048 });
    const error = await appError(
      send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], body_md: "x".repeat(2049) }),
    );
    expect(error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(error.message).toContain("body_md");
    expect(error.message).toContain("2049");
    expect(error.data).toEqual({ field: "body_md" });
    // Bytes, not characters: 1000 × "é" is 2000 bytes (fits), 1025 × "é" is 2050 bytes (does not).
    const multibyte = await appError(
      send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], body_md: "é".repeat(1025) }),
    );
    expect(multibyte.code).toBe("PAYLOAD_TOO_LARGE");
    expect(await messageCount(project.id)).toBe(0);
    const ok = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], body_md: "x".repeat(2048) });
    expect(ok.count).toBe(1);
  });

  it("refuses more recipients than maxRecipients (TOO_MANY_RECIPIENTS), counting cc and bcc", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk", "SilverOwl"], { maxRecipients: 3 });
    const error = await appError(
      send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog", "RedFox"], cc: ["GoldHawk"], bcc: ["SilverOwl"] }),
    );
    expect(error.code).toBe("TOO_MANY_RECIPIENTS");
    expect(error.message).toContain("4 recipients");
    expect(await messageCount(project.id)).toBe(0);
    const ok = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog", "RedFox"], cc: ["GoldHawk"] });
    expect(ok.count).toBe(1);
  });

  it("bumps the sender's last_active_ts", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog"]);
    const old = new Date(Date.now() - 7 * 86_400_000);
    await db.prisma.agent.update({ where: { id: agents.GreenLake!.id }, data: { lastActiveTs: old } });
    await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"] });
    const row = await db.prisma.agent.findUniqueOrThrow({ where: { id: agents.GreenLake!.id } });
    expect(row.lastActiveTs.getTime()).toBeGreaterThan(old.getTime() + 86_400_000);
  });
});

describe("idempotency keys", () => {
  it("returns the first result for a repeated key: same id, idempotent_replay, one message and one recipient row", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog"]);
    const args = { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], idempotency_key: "key-1" };
    const first = await send(ctx, args);
    const second = await send(ctx, { ...args, subject: "A different subject", body_md: "changed" });
    expect(first.idempotent_replay).toBeUndefined();
    expect(second.idempotent_replay).toBe(true);
    expect(second.count).toBe(1);
    expect(second.deliveries[0]!.payload.id).toBe(first.deliveries[0]!.payload.id);
    expect(second.deliveries[0]!.payload).toMatchObject({ subject: "Hello", body_md: "Body text", to: ["BlueDog"], from: "GreenLake" });
    expect(second.deliveries[0]!.project).toBe(project.human_key);
    expect(await messageCount(project.id)).toBe(1);
    expect(await db.prisma.messageRecipient.count({ where: { messageId: first.deliveries[0]!.payload.id } })).toBe(1);
  });

  it("lets five concurrent sends with one key deliver exactly once", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog"]);
    const args = { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], idempotency_key: "burst" };
    const results = await Promise.all(Array.from({ length: 5 }, () => send(ctx, args)));
    const ids = new Set(results.map((result) => result.deliveries[0]!.payload.id));
    expect(ids.size).toBe(1);
    expect(results.filter((result) => result.idempotent_replay === undefined)).toHaveLength(1);
    expect(await messageCount(project.id)).toBe(1);
    expect(await db.prisma.messageRecipient.count({ where: { agentId: agents.BlueDog!.id } })).toBe(1);
    expect(await db.prisma.idempotencyKey.count({ where: { senderId: agents.GreenLake!.id } })).toBe(1);
  });

  it("delivers again for a different key, and keys are per sender", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog"]);
    const a = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], idempotency_key: "k-a" });
    const b = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], idempotency_key: "k-b" });
    const c = await send(ctx, { project_key: project.slug, sender_name: "BlueDog", sender_token: agents.BlueDog!.token, to: ["GreenLake"], idempotency_key: "k-a" });
    const ids = [a, b, c].map((result) => result.deliveries[0]!.payload.id);
    expect(new Set(ids).size).toBe(3);
    expect([a, b, c].map((result) => result.idempotent_replay ?? false)).toEqual([false, false, false]);
    expect(await messageCount(project.id)).toBe(3);
  });

  it("replays a cross-project send with all its deliveries", async () => {
    const backend = await setup(["GreenLake", "BlueDog"]);
    const frontend = await setup(["RedFox"]);
    const args = {
      project_key: backend.project.slug,
      sender_name: "GreenLake",
      sender_token: backend.agents.GreenLake!.token,
      to: ["BlueDog", `RedFox@${frontend.project.slug}`],
      idempotency_key: "cross",
    };
    const first = await send(backend.ctx, args);
    const second = await send(backend.ctx, args);
    expect(second.idempotent_replay).toBe(true);
    expect(second.deliveries.map((d) => [d.project, d.payload.id, d.payload.to])).toEqual(
      first.deliveries.map((d) => [d.project, d.payload.id, d.payload.to]),
    );
    expect(second.deliveries[1]!.payload.from_project).toBe(backend.project.human_key);
    expect(await messageCount(backend.project.id)).toBe(1);
    expect(await messageCount(frontend.project.id)).toBe(1);
  });

  it("replays reply_message with a key: same id, one reply row", async () => {
    const { ctx, project, agents } = await setup(["GreenLake", "BlueDog"]);
    const original = await send(ctx, { project_key: project.slug, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: "Question" });
    const originalId = original.deliveries[0]!.payload.id;
    const args = { project_key: project.slug, sender_name: "BlueDog", sender_token: agents.BlueDog!.token, message_id: originalId, idempotency_key: "reply-1" };
    const first = await reply(ctx, args);
    const second = await reply(ctx, args);
    expect(first.idempotent_replay).toBeUndefined();
    expect(second.idempotent_replay).toBe(true);
    expect(second.id).toBe(first.id);
    expect(second.deliveries[0]!.payload.id).toBe(first.deliveries[0]!.payload.id);
    expect(second).toMatchObject({ thread_id: String(originalId), reply_to: originalId, subject: "Re: Question", to: ["GreenLake"] });
    expect(await messageCount(project.id)).toBe(2);
    const concurrent = await Promise.all(Array.from({ length: 4 }, () => reply(ctx, { ...args, idempotency_key: "reply-2" })));
    expect(new Set(concurrent.map((result) => result.id)).size).toBe(1);
    expect(await messageCount(project.id)).toBe(3);
  });
});
