import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import type { ServiceConfig } from "@/server/services/context";
import { listContacts, requestContact, respondContact, setContactPolicy } from "@/server/services/contacts/operations";
import { fetchInbox } from "@/server/services/messages/inbox";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { testConfig } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { startTestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";

// Contact policies and links (reference §3, §2.2 request_contact … set_contact_policy, §13.1
// #15–#19): every rule is enforced inside send_message / reply_message from the database, with
// the reference's phrases. Agents start with the reference default policy (auto) here.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const AUTO: Partial<ServiceConfig> = { contacts: { ...testConfig.contacts, defaultPolicy: "auto" } };
let counter = 0;

async function setup(names: string[] = ["GreenLake", "BlueDog", "RedFox"], config: Partial<ServiceConfig> = {}) {
  counter += 1;
  const key = `/contacts-${counter}`;
  const made = await projectWithAgents(db, key, names, { ...AUTO, ...config });
  const agents = made.agents as Record<string, TestAgent>;
  const as = (name: string) => ({ project_key: key, registration_token: agents[name]!.token });
  const send = (from: string, to: string[], extra: Record<string, unknown> = {}) =>
    invoke(sendMessage, made.ctx, { project_key: key, sender_name: from, sender_token: agents[from]!.token, to, subject: "Hello", body_md: "Body", ...extra });
  const inbox = (name: string) => invoke(fetchInbox, made.ctx, { ...as(name), agent_name: name, include_bodies: true });
  return { ...made, key, agents, as, send, inbox };
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

function sentBy(senderId: number) {
  return db.prisma.message.count({ where: { senderId } });
}

describe("set_contact_policy and block_all (#15)", () => {
  it("refuses a send to a block_all agent with the reference phrase, and normalises an unknown policy to auto", async () => {
    const f = await setup();
    const set = await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "BLOCK_ALL" });
    expect(set).toEqual({ agent: "BlueDog", policy: "block_all" });
    const error = await appError(f.send("GreenLake", ["BlueDog"]));
    expect(error.code).toBe("CONTACT_BLOCKED");
    expect(error.message).toContain("Recipient is not accepting messages.");
    expect(await sentBy(f.agents.GreenLake!.id)).toBe(0);

    expect(await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "invalid_policy_value" })).toEqual({
      agent: "BlueDog",
      policy: "auto",
    });
    expect((await db.prisma.agent.findUniqueOrThrow({ where: { id: f.agents.BlueDog!.id } })).contactPolicy).toBe("auto");
  });

  it("lets nobody through block_all: not an approved link, not a shared thread, not a contact request", async () => {
    const f = await setup();
    await f.send("GreenLake", ["BlueDog"], { thread_id: "T-1", auto_contact_if_blocked: false }).catch(() => undefined);
    await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "open" });
    const first = await f.send("GreenLake", ["BlueDog"], { thread_id: "T-1" });
    await invoke(requestContact, f.ctx, { ...f.as("GreenLake"), from_agent: "GreenLake", to_agent: "BlueDog" });
    await invoke(respondContact, f.ctx, { ...f.as("BlueDog"), to_agent: "BlueDog", from_agent: "GreenLake", accept: true });
    await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "block_all" });
    const before = await db.prisma.message.count();

    // One at a time: each attempt starts only when the previous one has been checked.
    for (const attempt of [
      () => f.send("GreenLake", ["BlueDog"]),
      () => f.send("GreenLake", ["BlueDog"], { thread_id: "T-1" }),
      () => invoke(replyMessage, f.ctx, { project_key: f.key, message_id: first.deliveries[0]!.payload.id, sender_name: "GreenLake", sender_token: f.agents.GreenLake!.token, to: ["BlueDog"], body_md: "x" }),
      () => invoke(requestContact, f.ctx, { ...f.as("RedFox"), from_agent: "RedFox", to_agent: "BlueDog" }),
      () => f.send("RedFox", ["BlueDog"], { auto_contact_if_blocked: true }),
    ]) {
      const error = await appError(attempt());
      expect(error.code).toBe("CONTACT_BLOCKED");
      expect(error.message).toContain("Recipient is not accepting messages.");
    }
    expect(await db.prisma.message.count()).toBe(before);
    expect(await db.prisma.agentLink.count({ where: { aAgentId: f.agents.RedFox!.id } })).toBe(0);
  });
});

describe("first contact (#16)", () => {
  it("refuses a first send under auto, files a pending request and mails 'Contact request from A' (ack required)", async () => {
    const f = await setup();
    const error = await appError(f.send("GreenLake", ["BlueDog"], { auto_contact_if_blocked: true }));
    expect(error.code).toBe("CONTACT_REQUIRED");
    expect(error.message).toContain("Contact approval required for recipients: BlueDog.");
    expect(error.message).toContain("Pending contact requests were created for: BlueDog");
    expect(error.data).toMatchObject({ recipients_blocked: ["BlueDog"], auto_contact_requested: ["BlueDog"] });

    const contacts = await invoke(listContacts, f.ctx, { ...f.as("GreenLake"), agent_name: "GreenLake" });
    expect(contacts).toMatchObject([{ to: "BlueDog", to_project: f.key, status: "pending", is_expired: false, allows_messaging: false }]);
    const inbox = await f.inbox("BlueDog");
    expect(inbox.map((m) => [m.subject, m.from, m.ack_required, m.body_md])).toEqual([
      ["Contact request from GreenLake", "GreenLake", true, "GreenLake requests permission to contact BlueDog."],
    ]);
    expect(await db.prisma.message.count({ where: { senderId: f.agents.GreenLake!.id, subject: "Hello" } })).toBe(0);

    // The request mail is neither "recent contact" nor a shared thread: asking again is refused until BlueDog answers.
    expect((await appError(f.send("GreenLake", ["BlueDog"], { auto_contact_if_blocked: false }))).code).toBe("CONTACT_REQUIRED");
    const requestThread = String(inbox[0]!.id);
    expect((await appError(f.send("GreenLake", ["BlueDog"], { thread_id: requestThread, auto_contact_if_blocked: false }))).code).toBe("CONTACT_REQUIRED");
    // BlueDog may write back (GreenLake wrote to it), and then the pair is in contact.
    expect((await f.send("BlueDog", ["GreenLake"], { subject: "sure" })).count).toBe(1);
    expect((await f.send("GreenLake", ["BlueDog"])).count).toBe(1);
  });

  it("files nothing with auto_contact_if_blocked=false, and follows MESSAGING_AUTO_HANDSHAKE_ON_BLOCK when it is not given", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox"], { contacts: { ...testConfig.contacts, defaultPolicy: "auto", autoHandshakeOnBlock: false } });
    const explicit = await appError(f.send("GreenLake", ["BlueDog"], { auto_contact_if_blocked: false }));
    expect(explicit.code).toBe("CONTACT_REQUIRED");
    expect(explicit.message).not.toContain("Pending contact requests");
    const byDefault = await appError(f.send("GreenLake", ["RedFox"]));
    expect(byDefault.code).toBe("CONTACT_REQUIRED");
    expect(await db.prisma.agentLink.count({ where: { aAgentId: f.agents.GreenLake!.id } })).toBe(0);
    expect(await f.inbox("BlueDog")).toEqual([]);

    const asked = await appError(f.send("GreenLake", ["RedFox"], { auto_contact_if_blocked: true }));
    expect(asked.message).toContain("Pending contact requests were created for: RedFox");
  });

  it("refuses the whole send when one of several recipients is refused, naming only the refused ones", async () => {
    const f = await setup();
    await invoke(setContactPolicy, f.ctx, { ...f.as("RedFox"), agent_name: "RedFox", policy: "open" });
    const error = await appError(f.send("GreenLake", ["RedFox", "BlueDog"], { auto_contact_if_blocked: false }));
    expect(error.message).toContain("Contact approval required for recipients: BlueDog.");
    expect(await f.inbox("RedFox")).toEqual([]);
  });
});

describe("broadcast", () => {
  it("stays subject to contact checks: recipients the sender may not reach refuse the whole broadcast", async () => {
    const f = await setup();
    await invoke(setContactPolicy, f.ctx, { ...f.as("RedFox"), agent_name: "RedFox", policy: "open" });
    const error = await appError(f.send("GreenLake", [], { broadcast: true, auto_contact_if_blocked: false }));
    expect(error.code).toBe("CONTACT_REQUIRED");
    expect(error.message).toContain("Contact approval required for recipients: BlueDog.");
    await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "open" });
    expect((await f.send("GreenLake", [], { broadcast: true })).deliveries[0]!.payload.to).toEqual(["BlueDog", "RedFox"]);
  });
});

describe("request and respond (#17)", () => {
  it("approves a request, lets the send through, and refuses again once the approval expires", async () => {
    const f = await setup();
    const requested = await invoke(requestContact, f.ctx, { ...f.as("GreenLake"), from_agent: "GreenLake", to_agent: "BlueDog", reason: "need review" });
    expect(requested).toMatchObject({ from: "GreenLake", from_project: f.key, to: "BlueDog", to_project: f.key, status: "pending" });
    expect(requested.notification_message).toMatchObject({ subject: "Contact request from GreenLake", ack_required: true, body_md: "need review" });

    const responded = await invoke(respondContact, f.ctx, { ...f.as("BlueDog"), to_agent: "BlueDog", from_agent: "GreenLake", accept: true });
    expect(responded).toMatchObject({ from: "GreenLake", to: "BlueDog", approved: true, updated: 1 });
    expect(Date.parse(responded.expires_ts!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await f.send("GreenLake", ["BlueDog"], { subject: "approved" })).count).toBe(1);
    expect(await invoke(listContacts, f.ctx, { ...f.as("GreenLake"), agent_name: "GreenLake" })).toMatchObject([
      { to: "BlueDog", status: "approved", allows_messaging: true, reason: "need review" },
    ]);

    // Recent contact would let GreenLake through under auto: contacts_only leaves the link alone.
    await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "contacts_only" });
    await db.prisma.agentLink.updateMany({ where: { aAgentId: f.agents.GreenLake!.id }, data: { expiresTs: new Date(Date.now() - 1000) } });
    const expired = await appError(f.send("GreenLake", ["BlueDog"], { auto_contact_if_blocked: false }));
    expect(expired.code).toBe("CONTACT_REQUIRED");
    expect(await invoke(listContacts, f.ctx, { ...f.as("GreenLake"), agent_name: "GreenLake" })).toMatchObject([
      { status: "approved", is_expired: true, allows_messaging: false },
    ]);
  });

  it("refuses self-contact both ways", async () => {
    const f = await setup();
    const request = await appError(invoke(requestContact, f.ctx, { ...f.as("GreenLake"), from_agent: "GreenLake", to_agent: "greenlake" }));
    expect([request.code, request.message.includes("self-contact")]).toEqual(["INVALID_ARGUMENT", true]);
    const respond = await appError(invoke(respondContact, f.ctx, { ...f.as("GreenLake"), to_agent: "GreenLake", from_agent: "GreenLake", accept: true }));
    expect(respond.code).toBe("INVALID_ARGUMENT");
  });

  it("follows the upsert table: a live request is refreshed without a second mail, a denial is not sticky", async () => {
    const f = await setup();
    const ask = (extra: Record<string, unknown> = {}) => invoke(requestContact, f.ctx, { ...f.as("GreenLake"), from_agent: "GreenLake", to_agent: "BlueDog", ...extra });
    const first = await ask({ ttl_seconds: 5 });
    const floor = Date.parse(first.expires_ts!) - Date.now();
    expect(floor).toBeGreaterThan(55_000);
    const again = await ask();
    expect(again.status).toBe("pending");
    expect(again.notification_message).toBeUndefined();
    expect(Date.parse(again.expires_ts!)).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    expect((await f.inbox("BlueDog")).length).toBe(1);

    const denied = await invoke(respondContact, f.ctx, { ...f.as("BlueDog"), to_agent: "BlueDog", from_agent: "GreenLake", accept: false });
    expect(denied).toEqual({ from: "GreenLake", to: "BlueDog", approved: false, expires_ts: null, updated: 1 });
    expect(await invoke(listContacts, f.ctx, { ...f.as("GreenLake"), agent_name: "GreenLake" })).toMatchObject([{ status: "blocked", expires_ts: null }]);
    const retry = await ask();
    expect(retry.status).toBe("pending");
    expect(retry.notification_message?.subject).toBe("Contact request from GreenLake");

    await invoke(respondContact, f.ctx, { ...f.as("BlueDog"), to_agent: "BlueDog", from_agent: "GreenLake", accept: true });
    const approved = await ask();
    expect(approved.status).toBe("approved");
    expect(approved.notification_message).toBeUndefined();

    // Denying a request that was never made changes nothing.
    const none = await invoke(respondContact, f.ctx, { ...f.as("GreenLake"), to_agent: "GreenLake", from_agent: "RedFox", accept: false });
    expect(none.updated).toBe(0);
    expect(await db.prisma.agentLink.count({ where: { aAgentId: f.agents.RedFox!.id } })).toBe(0);
  });

  it("keeps links directed: A→B approved does not let B write to a contacts_only A", async () => {
    const f = await setup();
    await invoke(requestContact, f.ctx, { ...f.as("GreenLake"), from_agent: "GreenLake", to_agent: "BlueDog" });
    await invoke(respondContact, f.ctx, { ...f.as("BlueDog"), to_agent: "BlueDog", from_agent: "GreenLake", accept: true });
    await invoke(setContactPolicy, f.ctx, { ...f.as("GreenLake"), agent_name: "GreenLake", policy: "contacts_only" });
    const error = await appError(f.send("BlueDog", ["GreenLake"], { auto_contact_if_blocked: false }));
    expect(error.code).toBe("CONTACT_REQUIRED");
  });
});

describe("auto-allow heuristics (#18)", () => {
  it("under auto, recent contact in either direction allows a send; older than CONTACT_AUTO_TTL_SECONDS it does not", async () => {
    const f = await setup();
    await invoke(setContactPolicy, f.ctx, { ...f.as("GreenLake"), agent_name: "GreenLake", policy: "open" });
    const sent = await f.send("BlueDog", ["GreenLake"]);
    // GreenLake (auto peer BlueDog) may answer: BlueDog wrote to it within the TTL.
    expect((await f.send("GreenLake", ["BlueDog"])).count).toBe(1);

    await db.prisma.message.updateMany({ where: { senderId: { in: [f.agents.GreenLake!.id, f.agents.BlueDog!.id] } }, data: { createdTs: new Date(Date.now() - 90_000_000) } });
    const stale = await appError(f.send("GreenLake", ["BlueDog"], { auto_contact_if_blocked: false }));
    expect(stale.code).toBe("CONTACT_REQUIRED");
    expect(sent.count).toBe(1);
  });

  it("contacts_only ignores recent contact", async () => {
    const f = await setup();
    await invoke(setContactPolicy, f.ctx, { ...f.as("GreenLake"), agent_name: "GreenLake", policy: "open" });
    await f.send("BlueDog", ["GreenLake"]);
    await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "contacts_only" });
    expect((await appError(f.send("GreenLake", ["BlueDog"], { auto_contact_if_blocked: false }))).code).toBe("CONTACT_REQUIRED");
  });

  it("lets the participants of a thread the sender can see reach each other, and nobody else through that thread", async () => {
    const f = await setup(["GreenLake", "BlueDog", "RedFox", "GoldHawk"]);
    await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "open" });
    await f.send("GreenLake", ["BlueDog"], { thread_id: "PLAN-7" });
    await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "contacts_only" });
    await db.prisma.message.updateMany({ data: { createdTs: new Date(Date.now() - 90_000_000) }, where: { threadId: "PLAN-7" } });

    expect((await f.send("GreenLake", ["BlueDog"], { thread_id: "PLAN-7" })).count).toBe(1);
    expect((await appError(f.send("GreenLake", ["BlueDog"], { auto_contact_if_blocked: false }))).code).toBe("CONTACT_REQUIRED");
    expect((await appError(f.send("GreenLake", ["BlueDog"], { thread_id: "OTHER", auto_contact_if_blocked: false }))).code).toBe("CONTACT_REQUIRED");
    // A bcc recipient is a participant only for the one who copied it in.
    await invoke(setContactPolicy, f.ctx, { ...f.as("GoldHawk"), agent_name: "GoldHawk", policy: "open" });
    await invoke(setContactPolicy, f.ctx, { ...f.as("RedFox"), agent_name: "RedFox", policy: "open" });
    await f.send("GreenLake", ["GoldHawk"], { bcc: ["RedFox"], thread_id: "QUIET-1" });
    await invoke(setContactPolicy, f.ctx, { ...f.as("RedFox"), agent_name: "RedFox", policy: "contacts_only" });
    expect((await appError(f.send("GoldHawk", ["RedFox"], { thread_id: "QUIET-1", auto_contact_if_blocked: false }))).code).toBe("CONTACT_REQUIRED");
    expect((await f.send("GreenLake", ["RedFox"], { thread_id: "QUIET-1" })).count).toBe(1);
    // RedFox is not in PLAN-7: naming the thread gains it nothing.
    expect((await appError(f.send("RedFox", ["BlueDog"], { thread_id: "PLAN-7", auto_contact_if_blocked: false }))).code).toBe("CONTACT_REQUIRED");
  });
});

describe("retired recipients and the enforcement switch", () => {
  it("refuses a retired recipient (AGENT_RETIRED) unless a heuristic allows it", async () => {
    const f = await setup();
    await invoke(setContactPolicy, f.ctx, { ...f.as("BlueDog"), agent_name: "BlueDog", policy: "open" });
    await f.send("GreenLake", ["BlueDog"], { thread_id: "OLD-1" });
    await db.prisma.agent.update({ where: { id: f.agents.BlueDog!.id }, data: { retiredAt: new Date() } });
    const error = await appError(f.send("GreenLake", ["BlueDog"]));
    expect(error.code).toBe("AGENT_RETIRED");
    expect(error.message).toContain("BlueDog");
    expect((await f.send("GreenLake", ["BlueDog"], { thread_id: "OLD-1" })).count).toBe(1);
  });

  it("CONTACT_ENFORCEMENT_ENABLED=false lets every send through, retired recipients included", async () => {
    const f = await setup(["GreenLake", "BlueDog"], { contacts: { ...testConfig.contacts, defaultPolicy: "auto", enforcementEnabled: false } });
    await db.prisma.agent.update({ where: { id: f.agents.BlueDog!.id }, data: { retiredAt: new Date(), contactPolicy: "block_all" } });
    expect((await f.send("GreenLake", ["BlueDog"])).count).toBe(1);
  });

  it("new agents start with CONTACT_POLICY_DEFAULT", async () => {
    const f = await setup(["GreenLake"], { contacts: { ...testConfig.contacts, defaultPolicy: "contacts_only" } });
    expect((await db.prisma.agent.findUniqueOrThrow({ where: { id: f.agents.GreenLake!.id } })).contactPolicy).toBe("contacts_only");
  });
});

describe("cross-project contact (#19)", () => {
  async function twoProjects() {
    const backend = await setup(["GreenLake"]);
    const frontend = await setup(["BlueDog"]);
    return { backend, frontend };
  }

  it("requests with project:<key>#Name, approves with from_project, then delivers in the target project under both address forms", async () => {
    const { backend, frontend } = await twoProjects();
    const target = `project:${frontend.key}#BlueDog`;
    const before = await appError(backend.send("GreenLake", [target], { auto_contact_if_blocked: false }));
    expect(before.code).toBe("CONTACT_REQUIRED");
    expect(before.message).toContain(`Contact approval required for recipients: project:${frontend.project.slug}#BlueDog.`);

    const requested = await invoke(requestContact, backend.ctx, { ...backend.as("GreenLake"), from_agent: "GreenLake", to_agent: target });
    expect(requested).toMatchObject({ from_project: backend.key, to: "BlueDog", to_project: frontend.key, status: "pending" });
    const requestMail = await frontend.inbox("BlueDog");
    expect(requestMail).toMatchObject([{ subject: "Contact request from GreenLake", from: "GreenLake", from_project: backend.key, project_id: frontend.project.id }]);

    const responded = await invoke(respondContact, frontend.ctx, {
      ...frontend.as("BlueDog"),
      to_agent: "BlueDog",
      from_agent: "GreenLake",
      from_project: backend.project.slug,
      accept: true,
    });
    expect(responded.approved).toBe(true);

    const sent = await backend.send("GreenLake", [target], { subject: "cross" });
    expect(sent.deliveries.map((d) => d.project)).toEqual([frontend.key]);
    const atForm = await backend.send("GreenLake", [`BlueDog@${frontend.project.slug}`], { subject: "at form" });
    expect(atForm.deliveries.map((d) => d.project)).toEqual([frontend.key]);
    const received = await frontend.inbox("BlueDog");
    expect(received.map((m) => [m.subject, m.from_project])).toEqual([
      ["at form", backend.key],
      ["cross", backend.key],
      ["Contact request from GreenLake", backend.key],
    ]);
  });

  it("to_project names the target's project for a plain to_agent; the requester's project is found through from_project", async () => {
    const { backend, frontend } = await twoProjects();
    const requested = await invoke(requestContact, backend.ctx, { ...backend.as("GreenLake"), from_agent: "GreenLake", to_agent: "BlueDog", to_project: frontend.key });
    expect(requested.to_project).toBe(frontend.key);
    const wrongProject = await appError(invoke(respondContact, frontend.ctx, { ...frontend.as("BlueDog"), to_agent: "BlueDog", from_agent: "GreenLake", accept: true }));
    expect(wrongProject.code).toBe("NOT_FOUND");
  });
});

describe("over MCP", () => {
  it("reports CONTACT_REQUIRED with the reference's phrases and serves the contact tools", async () => {
    const f = await setup(["GreenLake", "BlueDog"]);
    const server = await startTestServer(db, AUTO);
    const client = await connectMcp(server.url);
    try {
      const text = await callError(client, "send_message", {
        project_key: f.key,
        sender_name: "GreenLake",
        sender_token: f.agents.GreenLake!.token,
        to: ["BlueDog"],
        subject: "hi",
        body_md: "b",
        auto_contact_if_blocked: true,
      });
      expect(text).toContain("Contact approval required for recipients: BlueDog.");
      expect(text).toContain("Pending contact requests were created for: BlueDog");
      const listed = await callOk<{ result: { to: string; status: string; allows_messaging: boolean }[] }>(client, "list_contacts", {
        project_key: f.key,
        agent_name: "GreenLake",
        registration_token: f.agents.GreenLake!.token,
      });
      expect(listed.result).toMatchObject([{ to: "BlueDog", status: "pending", allows_messaging: false }]);
      await callOk(client, "respond_contact", { project_key: f.key, to_agent: "BlueDog", from_agent: "GreenLake", accept: true, registration_token: f.agents.BlueDog!.token });
      const sent = await callOk<{ count: number }>(client, "send_message", {
        project_key: f.key,
        sender_name: "GreenLake",
        sender_token: f.agents.GreenLake!.token,
        to: ["BlueDog"],
        subject: "hi",
        body_md: "b",
      });
      expect(sent.count).toBe(1);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
