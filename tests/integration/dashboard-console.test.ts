import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "@/server/auth/actor";
import { createActorResolver } from "@/server/auth/resolve-actor";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { acquireBuildSlot, releaseBuildSlot } from "@/server/services/build-slots/slots";
import { requestContact, respondContact } from "@/server/services/contacts/operations";
import type { ServiceContext } from "@/server/services/context";
import { dashboardForceRelease } from "@/server/services/dashboard/force-release";
import { dashboardMail, dashboardReceipts } from "@/server/services/dashboard/mail";
import { dashboardProject } from "@/server/services/dashboard/project";
import { isoTs, isoTsOrNull } from "@/server/services/format";
import { retireAgent } from "@/server/services/lifecycle/agents";
import { archiveProject } from "@/server/services/lifecycle/projects";
import { operatorSearch } from "@/server/services/messages/dashboard";
import { fetchInbox } from "@/server/services/messages/inbox";
import { acknowledgeMessage, markMessageRead } from "@/server/services/messages/read-ack";
import { sendMessage } from "@/server/services/messages/send";
import { fileReservationPaths, fileReservationsResource, forceReleaseFileReservation } from "@/server/services/reservations/operations";
import { actorFor, actorFromTestHeader, ROLE_HEADER, type RoleName } from "../helpers/actors";
import { serviceContext } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { openEventStream, type EventStream, type SseEvent } from "../helpers/sse";

// The overseer's console (tRPC dashboard.*): the project page (dashboard_project), the unified
// mail list (dashboard_mail), receipts (dashboard_receipts), the admin force-release
// (dashboard_force_release), dashboard_search's filters, the every-project event stream
// (/api/events without `project`) and the operator's attachment download (/api/attachments
// without `agent`).

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let admin: ServiceContext;

beforeAll(async () => {
  db = await openTestDatabase();
  admin = serviceContext(db);
});
afterAll(async () => {
  await db?.close();
});

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

/** The same database, called as someone else. */
function as(actor: Actor): ServiceContext {
  return { ...admin, actor };
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

type Agents = Record<string, TestAgent>;

/** Sends as `from` in project `key`; returns the id of every delivery (the first is in `key` unless all recipients are elsewhere). */
async function sendAll(key: string, agents: Agents, from: string, to: string[], extra: Record<string, unknown> = {}): Promise<number[]> {
  const result = await invoke(sendMessage, admin, {
    project_key: key,
    sender_name: from,
    sender_token: agents[from]!.token,
    to,
    subject: "hello",
    body_md: "body",
    ...extra,
  });
  return result.deliveries.map((delivery) => delivery.payload.id);
}

async function send(key: string, agents: Agents, from: string, to: string[], extra: Record<string, unknown> = {}): Promise<number> {
  return (await sendAll(key, agents, from, to, extra))[0]!;
}

function agentCall(key: string, agents: Agents, name: string) {
  return { project_key: key, agent_name: name, registration_token: agents[name]!.token };
}

describe("dashboard_project", () => {
  it("shows each agent's status, unread and overdue acks, the active reservations, build slots and contact links", async () => {
    const key = "/console/alpha";
    const alpha = await projectWithAgents(db, key, ["GreenLake", "BlueDog", "RedFox", "GoldPeak"]);
    const beta = await projectWithAgents(db, "/console/beta", ["SilverHawk"]);
    const A = alpha.agents;

    // Mail: BlueDog has two unread ack-required messages, one of them older than 60 minutes;
    // RedFox read both of its messages but acknowledged neither (one of them old); GreenLake
    // acknowledged its old one; GoldPeak got one message before it was retired.
    // The old ones are sent first and backdated: message ids grow with created_ts, as in real use.
    const oldAck = await send(key, A, "GreenLake", ["BlueDog"], { subject: "old ack", ack_required: true });
    const readOldAck = await send(key, A, "GreenLake", ["RedFox"], { subject: "read, not acked", ack_required: true });
    const ackedOld = await send(key, A, "BlueDog", ["GreenLake"], { subject: "acked", ack_required: true });
    await db.prisma.message.updateMany({ where: { id: { in: [oldAck, readOldAck, ackedOld] } }, data: { createdTs: minutesAgo(120) } });
    await send(key, A, "GreenLake", ["BlueDog"], { subject: "new ack", ack_required: true });
    const plain = await send(key, A, "GreenLake", ["RedFox"], { subject: "plain" });
    await send(key, A, "GreenLake", ["GoldPeak"], { subject: "before retirement" });
    await invoke(markMessageRead, admin, { ...agentCall(key, A, "RedFox"), message_id: plain });
    await invoke(markMessageRead, admin, { ...agentCall(key, A, "RedFox"), message_id: readOldAck });
    await invoke(acknowledgeMessage, admin, { ...agentCall(key, A, "GreenLake"), message_id: ackedOld });
    await invoke(retireAgent, admin, { project_key: key, agent_name: "GoldPeak" });

    // Contacts: GreenLake asks SilverHawk in beta (pending; the request mail lands in beta);
    // BlueDog asks RedFox (its request mail is unread in RedFox's inbox) and RedFox approves.
    await invoke(requestContact, admin, {
      project_key: key,
      from_agent: "GreenLake",
      to_agent: `project:${beta.project.slug}#SilverHawk`,
      reason: "cross-project review",
      registration_token: A.GreenLake!.token,
    });
    await invoke(requestContact, admin, { project_key: key, from_agent: "BlueDog", to_agent: "RedFox", reason: "pairing", registration_token: A.BlueDog!.token });
    await invoke(respondContact, admin, { project_key: key, to_agent: "RedFox", from_agent: "BlueDog", accept: true, registration_token: A.RedFox!.token });

    // Reservations: two active ones; one that ran out and one released, neither listed.
    const uiLock = await invoke(fileReservationPaths, admin, { ...agentCall(key, A, "GreenLake"), paths: ["src/app/**"], reason: "ui work" });
    const docsLock = await invoke(fileReservationPaths, admin, { ...agentCall(key, A, "BlueDog"), paths: ["docs/**"], exclusive: false, reason: "docs" });
    await db.prisma.fileReservation.create({ data: { projectId: alpha.project.id, agentId: A.RedFox!.id, pathPattern: "ran-out/**", expiresTs: minutesAgo(1) } });
    await db.prisma.fileReservation.create({
      data: { projectId: alpha.project.id, agentId: A.RedFox!.id, pathPattern: "released/**", expiresTs: new Date(Date.now() + 3_600_000), releasedTs: minutesAgo(1) },
    });

    // Build slots: two held, one released (not listed).
    await invoke(acquireBuildSlot, admin, { ...agentCall(key, A, "GreenLake"), slot: "build", branch: "main", exclusive: true });
    await invoke(acquireBuildSlot, admin, { ...agentCall(key, A, "RedFox"), slot: "test", exclusive: false });
    await invoke(acquireBuildSlot, admin, { ...agentCall(key, A, "BlueDog"), slot: "deploy" });
    await invoke(releaseBuildSlot, admin, { ...agentCall(key, A, "BlueDog"), slot: "deploy" });

    // Activity last of all (every call above touched it): BlueDog idle (20 minutes > the
    // 15-minute window, < the 30-minute reservation inactivity), GoldPeak recent but retired.
    const lastActive: Record<string, Date> = { GoldPeak: minutesAgo(0.5), GreenLake: minutesAgo(1), RedFox: minutesAgo(2), BlueDog: minutesAgo(20) };
    for (const [name, at] of Object.entries(lastActive)) await db.prisma.agent.update({ where: { id: A[name]!.id }, data: { lastActiveTs: at } });

    const view = await invoke(dashboardProject, admin, { project_key: key });

    const project = await db.prisma.project.findUniqueOrThrow({ where: { id: alpha.project.id } });
    expect(view.project).toEqual({ slug: project.slug, human_key: key, created_at: isoTs(project.createdAt), archived_at: null });
    expect([view.active_window_minutes, view.ack_overdue_minutes]).toEqual([15, 60]);

    const stored = new Map((await db.prisma.agent.findMany({ where: { projectId: alpha.project.id } })).map((agent) => [agent.name, agent]));
    const agent = (name: string, status: string, unread: number, ackOverdue: number) => ({
      id: A[name]!.id,
      name,
      program: "test-suite",
      model: "test-model",
      task_description: `testing as ${name}`,
      contact_policy: "open",
      inception_ts: isoTs(stored.get(name)!.inceptionTs),
      last_active_ts: isoTs(lastActive[name]!),
      status,
      retired_at: isoTsOrNull(stored.get(name)!.retiredAt),
      unread,
      ack_overdue: ackOverdue,
    });
    // Most recently active first.
    expect(view.agents).toEqual([
      agent("GoldPeak", "retired", 1, 0),
      agent("GreenLake", "active", 0, 0),
      agent("RedFox", "active", 1, 1),
      agent("BlueDog", "idle", 2, 1),
    ]);
    expect(view.agents[0]!.retired_at).toMatch(ISO_UTC);

    // Both holders acted within the inactivity window and sent mail just now: not stale.
    const fresh = ["agent_recently_active", "mail_activity_recent"];
    expect(view.reservations).toEqual([
      {
        id: uiLock.granted[0]!.id,
        agent: "GreenLake",
        path_pattern: "src/app/**",
        exclusive: true,
        reason: "ui work",
        created_ts: expect.stringMatching(ISO_UTC),
        expires_ts: uiLock.granted[0]!.expires_ts,
        stale: false,
        stale_reasons: fresh,
      },
      {
        id: docsLock.granted[0]!.id,
        agent: "BlueDog",
        path_pattern: "docs/**",
        exclusive: false,
        reason: "docs",
        created_ts: expect.stringMatching(ISO_UTC),
        expires_ts: docsLock.granted[0]!.expires_ts,
        stale: false,
        stale_reasons: fresh,
      },
    ]);

    const slots = await db.prisma.buildSlot.findMany({ where: { projectId: alpha.project.id, releasedTs: null }, orderBy: { slot: "asc" } });
    expect(view.build_slots).toEqual(
      [
        { slot: "build", agent: "GreenLake", branch: "main", exclusive: true },
        // No branch is stored as "" (acquire_build_slot shows it as null).
        { slot: "test", agent: "RedFox", branch: "", exclusive: false },
      ].map((expected, index) => ({ id: slots[index]!.id, ...expected, acquired_ts: isoTs(slots[index]!.acquiredTs), expires_ts: isoTs(slots[index]!.expiresTs) })),
    );

    const links = new Map(
      (await db.prisma.agentLink.findMany({ include: { aAgent: true, bAgent: true } })).map((link) => [`${link.aAgent.name}>${link.bAgent.name}`, link]),
    );
    const pairing = links.get("BlueDog>RedFox")!;
    const cross = links.get("GreenLake>SilverHawk")!;
    // Newest change first: RedFox's approval came after GreenLake's request.
    expect(view.contacts).toEqual([
      { from: "BlueDog", to: "RedFox", to_project: project.slug, status: "approved", reason: "pairing", updated_ts: isoTs(pairing.updatedTs), expires_ts: isoTsOrNull(pairing.expiresTs) },
      {
        from: "GreenLake",
        to: `SilverHawk@${beta.project.slug}`,
        to_project: beta.project.slug,
        status: "pending",
        reason: "cross-project review",
        updated_ts: isoTs(cross.updatedTs),
        expires_ts: isoTsOrNull(cross.expiresTs),
      },
    ]);
    expect(view.contacts.map((contact) => contact.expires_ts)).toEqual([expect.stringMatching(ISO_UTC), expect.stringMatching(ISO_UTC)]);

    // The other side of the cross-project link: beta's page names the requester with its project,
    // and SilverHawk's unread contact request (ack required, not yet overdue).
    const betaView = await invoke(dashboardProject, admin, { project_key: "/console/beta" });
    expect(betaView.contacts.map(({ from, to, to_project, status }) => ({ from, to, to_project, status }))).toEqual([
      { from: `GreenLake@${project.slug}`, to: "SilverHawk", to_project: beta.project.slug, status: "pending" },
    ]);
    expect(betaView.agents.map(({ name, status, unread, ack_overdue }) => ({ name, status, unread, ack_overdue }))).toEqual([
      { name: "SilverHawk", status: "active", unread: 1, ack_overdue: 0 },
    ]);
    expect(betaView.reservations).toEqual([]);
    expect(betaView.build_slots).toEqual([]);
  });

  it("does not list a reservation whose holder went stale: the view releases it first (lazy expiry), so `stale` stays false", async () => {
    const key = "/console/stale";
    const { agents } = await projectWithAgents(db, key, ["GreenLake"]);
    const granted = await invoke(fileReservationPaths, admin, { ...agentCall(key, agents, "GreenLake"), paths: ["lib/**"] });
    const id = granted.granted[0]!.id;
    // Inactive for 2 hours (> 30 minutes) and never sent or read mail: stale.
    await db.prisma.agent.update({ where: { id: agents.GreenLake!.id }, data: { lastActiveTs: minutesAgo(120) } });
    const view = await invoke(dashboardProject, admin, { project_key: key });
    expect(view.reservations).toEqual([]);
    expect(view.agents.map(({ name, status }) => [name, status])).toEqual([["GreenLake", "idle"]]);
    expect((await db.prisma.fileReservation.findUniqueOrThrow({ where: { id } })).releasedTs).not.toBeNull();
  });

  it("needs the read role within the actor's projects; an unknown project is NOT_FOUND", async () => {
    const key = "/console/roles";
    await projectWithAgents(db, key, ["GreenLake"]);
    expect((await invoke(dashboardProject, as(actorFor("reader", [key])), { project_key: key })).agents.map((agent) => agent.name)).toEqual(["GreenLake"]);
    expect((await appError(invoke(dashboardProject, as(actorFor("none")), { project_key: key }))).code).toBe("FORBIDDEN");
    expect((await appError(invoke(dashboardProject, as(actorFor("admin", ["/console/alpha"])), { project_key: key }))).code).toBe("FORBIDDEN");
    const missing = await appError(invoke(dashboardProject, admin, { project_key: "/console/no-such-project" }));
    expect(missing.code).toBe("NOT_FOUND");
  });
});

describe("dashboard_mail", () => {
  const A_KEY = "/console/mail-a";
  const B_KEY = "/console/mail-b";
  let a: Awaited<ReturnType<typeof projectWithAgents>>;
  let b: Awaited<ReturnType<typeof projectWithAgents>>;

  beforeAll(async () => {
    a = await projectWithAgents(db, A_KEY, ["GreenLake", "BlueDog", "RedFox", "GoldPeak"]);
    b = await projectWithAgents(db, B_KEY, ["SilverHawk", "BlueDog"]);
  });

  it("lists every project's mail newest first, each with its project's slug; project_key narrows it to one project", async () => {
    const a1 = await send(A_KEY, a.agents, "GreenLake", ["BlueDog"], { subject: "a1" });
    const b1 = await send(B_KEY, b.agents, "SilverHawk", ["BlueDog"], { subject: "b1" });
    const a2 = await send(A_KEY, a.agents, "BlueDog", ["GreenLake"], { subject: "a2" });
    const b2 = await send(B_KEY, b.agents, "BlueDog", ["SilverHawk"], { subject: "b2" });

    const unified = await invoke(dashboardMail, admin, { limit: 4 });
    expect(unified.messages.map((message) => [message.id, message.project, message.subject, message.from])).toEqual([
      [b2, b.project.slug, "b2", "BlueDog"],
      [a2, a.project.slug, "a2", "BlueDog"],
      [b1, b.project.slug, "b1", "SilverHawk"],
      [a1, a.project.slug, "a1", "GreenLake"],
    ]);
    // Older mail (the tests above) follows on the next page.
    expect(await db.prisma.message.count({ where: { id: { lt: a1 } } })).toBeGreaterThan(0);
    expect(unified.next_before_id).toBe(a1);

    const onlyA = await invoke(dashboardMail, admin, { project_key: A_KEY });
    expect(onlyA).toEqual({ messages: [expect.objectContaining({ id: a2, project: a.project.slug }), expect.objectContaining({ id: a1, project: a.project.slug })], next_before_id: null });
    const onlyB = await invoke(dashboardMail, admin, { project_key: b.project.slug });
    expect(onlyB.messages.map((message) => message.id)).toEqual([b2, b1]);
    expect(onlyB.next_before_id).toBeNull();
  });

  it("shows each recipient with its kind and read/ack times", async () => {
    const id = await send(A_KEY, a.agents, "GreenLake", ["BlueDog"], {
      subject: "states",
      cc: ["RedFox"],
      bcc: ["GoldPeak"],
      ack_required: true,
      importance: "high",
      topic: "console",
      thread_id: "CON-1",
    });
    await invoke(markMessageRead, admin, { ...agentCall(A_KEY, a.agents, "BlueDog"), message_id: id });
    await invoke(acknowledgeMessage, admin, { ...agentCall(A_KEY, a.agents, "RedFox"), message_id: id });

    const page = await invoke(dashboardMail, admin, { project_key: A_KEY, limit: 1 });
    const rows = new Map((await db.prisma.messageRecipient.findMany({ where: { messageId: id }, include: { agent: true } })).map((row) => [row.agent.name, row]));
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id } });
    expect(page.messages).toEqual([
      {
        id,
        project: a.project.slug,
        thread_id: "CON-1",
        topic: "console",
        subject: "states",
        importance: "high",
        ack_required: true,
        created_ts: isoTs(message.createdTs),
        from: "GreenLake",
        attachments: 0,
        recipients: [
          { agent: "BlueDog", kind: "to", read_at: isoTs(rows.get("BlueDog")!.readTs!), ack_at: null },
          { agent: "RedFox", kind: "cc", read_at: isoTs(rows.get("RedFox")!.readTs!), ack_at: isoTs(rows.get("RedFox")!.ackTs!) },
          { agent: "GoldPeak", kind: "bcc", read_at: null, ack_at: null },
        ],
      },
    ]);
    expect(page.messages[0]!.recipients[0]!.read_at).toMatch(ISO_UTC);
    expect(page.next_before_id).toBe(id);
  });

  it("pages with before_id: 7 messages at 3 a page are 3, 3 and 1, then next_before_id null, none twice", async () => {
    const key = "/console/mail-paging";
    const { agents } = await projectWithAgents(db, key, ["GreenLake", "BlueDog"]);
    const sent: number[] = [];
    for (let i = 1; i <= 7; i += 1) sent.push(await send(key, agents, "GreenLake", ["BlueDog"], { subject: `page ${i}` }));
    const newestFirst = [...sent].reverse();

    const pages: number[][] = [];
    const cursors: (number | null)[] = [];
    let before: number | null = null;
    do {
      const page: { messages: { id: number }[]; next_before_id: number | null } = await invoke(dashboardMail, admin, { project_key: key, limit: 3, before_id: before });
      pages.push(page.messages.map((message) => message.id));
      cursors.push(page.next_before_id);
      before = page.next_before_id;
    } while (before !== null && pages.length < 10);
    expect(pages).toEqual([newestFirst.slice(0, 3), newestFirst.slice(3, 6), newestFirst.slice(6)]);
    expect(cursors).toEqual([newestFirst[2], newestFirst[5], null]);
    expect(new Set(pages.flat()).size).toBe(7);

    // A page that ends exactly at the last message says so: no empty page after it.
    const whole = await invoke(dashboardMail, admin, { project_key: key, limit: 7 });
    expect([whole.messages.map((message) => message.id), whole.next_before_id]).toEqual([newestFirst, null]);
    const lastFour = await invoke(dashboardMail, admin, { project_key: key, limit: 4, before_id: newestFirst[2] });
    expect([lastFour.messages.map((message) => message.id), lastFour.next_before_id]).toEqual([newestFirst.slice(3), null]);
  });

  it("shows a project-scoped admin only its projects' mail, and refuses it another project's", async () => {
    const mine = await send(A_KEY, a.agents, "GreenLake", ["BlueDog"], { subject: "scoped: mine" });
    const theirs = await send(B_KEY, b.agents, "SilverHawk", ["BlueDog"], { subject: "scoped: theirs" });
    const expected = (await db.prisma.message.findMany({ where: { projectId: a.project.id }, orderBy: { id: "desc" }, select: { id: true } })).map((row) => row.id);
    expect(expected[0]).toBe(mine);

    for (const scope of [A_KEY, a.project.slug]) {
      const scoped = as(actorFor("admin", [scope]));
      const unified = await invoke(dashboardMail, scoped, { limit: 200 });
      expect(unified.messages.map((message) => message.id)).toEqual(expected);
      expect(new Set(unified.messages.map((message) => message.project))).toEqual(new Set([a.project.slug]));
      expect(unified.messages.map((message) => message.id)).not.toContain(theirs);
      expect(unified.next_before_id).toBeNull();
      expect((await appError(invoke(dashboardMail, scoped, { project_key: B_KEY }))).code).toBe("FORBIDDEN");
    }
    // Scoped to a project that has no mail (or does not exist): an empty list, not every project's.
    expect(await invoke(dashboardMail, as(actorFor("admin", ["/console/nowhere"])), {})).toEqual({ messages: [], next_before_id: null });
  });

  it("is admin only", async () => {
    for (const role of ["none", "reader", "writer"] as RoleName[]) {
      for (const input of [{}, { project_key: A_KEY }]) {
        const error = await appError(invoke(dashboardMail, as(actorFor(role)), input));
        expect([role, error.code]).toEqual([role, "FORBIDDEN"]);
      }
    }
  });
});

describe("dashboard_receipts", () => {
  it("lists every recipient of every delivery with its project, kind, read and ack times", async () => {
    const near = await projectWithAgents(db, "/console/receipts", ["GreenLake", "BlueDog", "RedFox", "GoldPeak"]);
    const far = await projectWithAgents(db, "/console/receipts-far", ["SilverHawk"]);
    const [nearId, farId] = await sendAll("/console/receipts", near.agents, "GreenLake", ["BlueDog", `project:${far.project.slug}#SilverHawk`], {
      subject: "receipts",
      cc: ["RedFox"],
      bcc: ["GoldPeak"],
      ack_required: true,
    });
    expect([nearId, farId].every((id) => typeof id === "number")).toBe(true);
    await invoke(markMessageRead, admin, { ...agentCall("/console/receipts", near.agents, "BlueDog"), message_id: nearId! });
    await invoke(acknowledgeMessage, admin, { ...agentCall("/console/receipts", near.agents, "RedFox"), message_id: nearId! });
    await invoke(acknowledgeMessage, admin, { ...agentCall("/console/receipts-far", far.agents, "SilverHawk"), message_id: farId! });

    const state = async (messageId: number, agentId: number) => {
      const row = await db.prisma.messageRecipient.findUniqueOrThrow({ where: { messageId_agentId: { messageId, agentId } } });
      return { read_at: isoTsOrNull(row.readTs), ack_at: isoTsOrNull(row.ackTs) };
    };
    const expected = [
      { agent: "BlueDog", project: near.project.slug, kind: "to", ...(await state(nearId!, near.agents.BlueDog!.id)) },
      { agent: "RedFox", project: near.project.slug, kind: "cc", ...(await state(nearId!, near.agents.RedFox!.id)) },
      { agent: "GoldPeak", project: near.project.slug, kind: "bcc", read_at: null, ack_at: null },
      { agent: "SilverHawk", project: far.project.slug, kind: "to", ...(await state(farId!, far.agents.SilverHawk!.id)) },
    ];
    expect(expected.map(({ read_at, ack_at }) => [read_at !== null, ack_at !== null])).toEqual([
      [true, false],
      [true, true],
      [false, false],
      [true, true],
    ]);
    expect(await invoke(dashboardReceipts, admin, { project_key: "/console/receipts", message_id: nearId! })).toEqual(expected);
    // The far delivery's receipts are the same send's.
    expect(await invoke(dashboardReceipts, admin, { project_key: "/console/receipts-far", message_id: farId! })).toEqual(expected);
  });

  it("shows a project-scoped admin only the recipients in its projects, not the other copies (nor their bcc)", async () => {
    const NEAR = "/console/receipts-scoped-near";
    const FAR = "/console/receipts-scoped-far";
    const near = await projectWithAgents(db, NEAR, ["GreenLake", "BlueDog", "GoldPeak"]);
    const far = await projectWithAgents(db, FAR, ["SilverHawk"]);
    const [nearId, farId] = await sendAll(NEAR, near.agents, "GreenLake", ["BlueDog", `project:${far.project.slug}#SilverHawk`], { bcc: ["GoldPeak"] });
    const nearMessage = await db.prisma.message.findUniqueOrThrow({ where: { id: nearId! } });
    const farMessage = await db.prisma.message.findUniqueOrThrow({ where: { id: farId! } });
    expect([nearMessage.projectId, farMessage.projectId]).toEqual([near.project.id, far.project.id]);

    const unread = { read_at: null, ack_at: null };
    const blueDog = { agent: "BlueDog", project: near.project.slug, kind: "to", ...unread };
    const goldPeak = { agent: "GoldPeak", project: near.project.slug, kind: "bcc", ...unread };
    const silverHawk = { agent: "SilverHawk", project: far.project.slug, kind: "to", ...unread };

    // An admin of every project sees the whole send from either copy.
    expect(await invoke(dashboardReceipts, admin, { project_key: FAR, message_id: farId! })).toEqual([blueDog, goldPeak, silverHawk]);
    expect(await invoke(dashboardReceipts, admin, { project_key: NEAR, message_id: nearId! })).toEqual([blueDog, goldPeak, silverHawk]);

    // Scoped (by human key or slug) to far only: SilverHawk, nothing of near's copy or its bcc.
    for (const scope of [FAR, far.project.slug]) {
      const scoped = as(actorFor("admin", [scope]));
      expect(await invoke(dashboardReceipts, scoped, { project_key: FAR, message_id: farId! })).toEqual([silverHawk]);
      expect((await appError(invoke(dashboardReceipts, scoped, { project_key: NEAR, message_id: nearId! }))).code).toBe("FORBIDDEN");
    }
    // And the other way round: scoped to near, the near recipients only.
    expect(await invoke(dashboardReceipts, as(actorFor("admin", [NEAR])), { project_key: NEAR, message_id: nearId! })).toEqual([blueDog, goldPeak]);
  });

  it("is NOT_FOUND for a message of another project (or none), naming message_id", async () => {
    const one = await projectWithAgents(db, "/console/receipts-one", ["GreenLake", "BlueDog"]);
    await projectWithAgents(db, "/console/receipts-two", ["RedFox"]);
    const id = await send("/console/receipts-one", one.agents, "GreenLake", ["BlueDog"]);
    for (const [projectKey, messageId] of [
      ["/console/receipts-two", id],
      ["/console/receipts-one", 2_000_000_000],
    ] as const) {
      const error = await appError(invoke(dashboardReceipts, admin, { project_key: projectKey, message_id: messageId }));
      expect([error.code, error.data?.field]).toEqual(["NOT_FOUND", "message_id"]);
      expect(error.message).toContain(`Message ${messageId} not found`);
    }
    for (const role of ["reader", "writer"] as RoleName[]) {
      expect((await appError(invoke(dashboardReceipts, as(actorFor(role)), { project_key: "/console/receipts-one", message_id: id }))).code).toBe("FORBIDDEN");
    }
  });
});

describe("dashboard_force_release", () => {
  const KEY = "/console/force";
  let fixture: Awaited<ReturnType<typeof projectWithAgents>>;
  let serial = 0;

  beforeAll(async () => {
    fixture = await projectWithAgents(db, KEY, ["GreenLake", "BlueDog"]);
  });

  /** A new active reservation of BlueDog's (just active: not stale). */
  async function reserve(key = KEY, agents: Agents = fixture.agents, holder = "BlueDog") {
    serial += 1;
    const pattern = `src/locked-${serial}/**`;
    const result = await invoke(fileReservationPaths, admin, { ...agentCall(key, agents, holder), paths: [pattern], reason: "editing" });
    return { id: result.granted[0]!.id, pattern };
  }

  const activeIds = async (key = KEY) => (await invoke(fileReservationsResource, admin, { project_key: key, active_only: true })).map((row) => row.id);
  const inbox = (name = "BlueDog") => invoke(fetchInbox, admin, { ...agentCall(KEY, fixture.agents, name), include_bodies: true, limit: 100 });

  it("releases an active reservation that is not stale, and tells the holder by mail from HumanOverseer", async () => {
    const { id, pattern } = await reserve();
    expect(await activeIds()).toContain(id);
    // The agents' force-release refuses it: the holder is active.
    const refused = await appError(
      invoke(forceReleaseFileReservation, admin, { ...agentCall(KEY, fixture.agents, "GreenLake"), file_reservation_id: id, notify_previous: false }),
    );
    expect(refused.code).toBe("RESERVATION_ACTIVE");
    const before = await inbox();

    const result = await invoke(dashboardForceRelease, admin, { project_key: KEY, file_reservation_id: id, note: "blocking the release" });
    expect(result).toEqual({ released: 1, file_reservation_id: id, agent: "BlueDog", path_pattern: pattern, notified: true });
    expect(await activeIds()).not.toContain(id);
    const listed = (await invoke(fileReservationsResource, admin, { project_key: KEY, active_only: false })).find((row) => row.id === id)!;
    expect(listed.released_ts).toMatch(ISO_UTC);

    const after = await inbox();
    expect(after).toHaveLength(before.length + 1);
    const notice = after[0]!;
    expect(notice).toMatchObject({ from: "HumanOverseer", subject: `[file-reservations] The overseer released your lock on ${pattern}`, importance: "high", ack_required: false });
    expect(notice.body_md).toContain(`\`${pattern}\``);
    expect(notice.body_md).toContain(KEY);
    expect(notice.body_md).toContain("Note: blocking the release");

    // Again: nothing left to release, nobody told.
    expect(await invoke(dashboardForceRelease, admin, { project_key: KEY, file_reservation_id: id })).toEqual({
      released: 0,
      file_reservation_id: id,
      agent: "BlueDog",
      path_pattern: pattern,
      notified: false,
    });
    expect(await inbox()).toHaveLength(after.length);
  });

  it("sends nothing with notify_previous=false", async () => {
    const { id, pattern } = await reserve();
    const before = await inbox();
    expect(await invoke(dashboardForceRelease, admin, { project_key: KEY, file_reservation_id: id, notify_previous: false })).toEqual({
      released: 1,
      file_reservation_id: id,
      agent: "BlueDog",
      path_pattern: pattern,
      notified: false,
    });
    expect(await activeIds()).not.toContain(id);
    expect(await inbox()).toEqual(before);
  });

  it("releases nothing and tells nobody when the reservation already ran out", async () => {
    const ranOut = await db.prisma.fileReservation.create({
      data: { projectId: fixture.project.id, agentId: fixture.agents.BlueDog!.id, pathPattern: "ran-out/**", expiresTs: minutesAgo(1) },
    });
    const before = await inbox();
    expect(await invoke(dashboardForceRelease, admin, { project_key: KEY, file_reservation_id: ranOut.id })).toEqual({
      released: 0,
      file_reservation_id: ranOut.id,
      agent: "BlueDog",
      path_pattern: "ran-out/**",
      notified: false,
    });
    expect(await inbox()).toEqual(before);
  });

  it("keeps the release when the notice cannot be delivered (archived project): notified false", async () => {
    const key = "/console/force-archived";
    const { agents } = await projectWithAgents(db, key, ["BlueDog"]);
    const { id } = await reserve(key, agents);
    await invoke(archiveProject, admin, { project_key: key });
    const result = await invoke(dashboardForceRelease, admin, { project_key: key, file_reservation_id: id });
    expect([result.released, result.notified]).toEqual([1, false]);
    expect((await db.prisma.fileReservation.findUniqueOrThrow({ where: { id } })).releasedTs).not.toBeNull();
    expect(await db.prisma.message.count({ where: { project: { humanKey: key } } })).toBe(0);
  });

  it("is NOT_FOUND for an unknown id or another project's reservation, which stays active", async () => {
    const other = await projectWithAgents(db, "/console/force-other", ["RedFox"]);
    const foreign = await reserve("/console/force-other", other.agents, "RedFox");
    for (const id of [2_000_000_000, foreign.id]) {
      const error = await appError(invoke(dashboardForceRelease, admin, { project_key: KEY, file_reservation_id: id }));
      expect([error.code, error.data?.field]).toEqual(["NOT_FOUND", "file_reservation_id"]);
      expect(error.message).toBe(`File reservation id=${id} not found for project '${fixture.project.slug}'.`);
    }
    expect(await activeIds("/console/force-other")).toContain(foreign.id);
  });

  it("refuses readers, writers and admins of other projects: FORBIDDEN, the reservation stays and nobody is told", async () => {
    const { id } = await reserve();
    const before = await inbox();
    const callers: [string, Actor][] = [
      ["reader", actorFor("reader")],
      ["writer", actorFor("writer")],
      ["admin of another project", actorFor("admin", ["/console/force-other"])],
    ];
    for (const [label, actor] of callers) {
      const error = await appError(invoke(dashboardForceRelease, as(actor), { project_key: KEY, file_reservation_id: id }));
      expect([label, error.code]).toEqual([label, "FORBIDDEN"]);
    }
    expect(await activeIds()).toContain(id);
    expect(await inbox()).toEqual(before);
    // An admin of this project may.
    expect((await invoke(dashboardForceRelease, as(actorFor("admin", [KEY])), { project_key: KEY, file_reservation_id: id })).released).toBe(1);
  });
});

describe("dashboard_search filters", () => {
  const KEY = "/console/search";
  let fixture: Awaited<ReturnType<typeof projectWithAgents>>;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    fixture = await projectWithAgents(db, KEY, ["GreenLake", "BlueDog", "RedFox"]);
    const A = fixture.agents;
    ids.alpha = await send(KEY, A, "GreenLake", ["BlueDog"], { subject: "widget alpha", importance: "high", topic: "Builds", thread_id: "T-1" });
    ids.beta = await send(KEY, A, "GreenLake", ["RedFox"], { subject: "widget beta", topic: "docs" });
    ids.gamma = await send(KEY, A, "BlueDog", ["RedFox"], { subject: "widget gamma", cc: ["GreenLake"], importance: "urgent", thread_id: "T-1" });
    ids.delta = await send(KEY, A, "RedFox", ["BlueDog"], { subject: "widget delta", bcc: ["GreenLake"], importance: "low" });
    ids.epsilon = await send(KEY, A, "BlueDog", ["GreenLake"], { subject: "widget epsilon", thread_id: "T-2" });
    ids.other = await send(KEY, A, "GreenLake", ["BlueDog"], { subject: "unrelated gadget" });
    // delta is two days old.
    await db.prisma.message.update({ where: { id: ids.delta }, data: { createdTs: minutesAgo(2 * 24 * 60) } });
  });

  const search = async (filters: Record<string, unknown>) =>
    (await invoke(operatorSearch, admin, { project_key: KEY, query: "widget", limit: 50, ...filters })).map((hit) => hit.id).sort((x, y) => x - y);
  const named = (...names: string[]) => names.map((name) => ids[name]!).sort((x, y) => x - y);

  it("without filters finds every matching message of the project (bcc included)", async () => {
    expect(await search({})).toEqual(named("alpha", "beta", "gamma", "delta", "epsilon"));
  });

  it.each([
    ["recipient BlueDog (to)", { recipient: "BlueDog" }, ["alpha", "delta"]],
    ["recipient GreenLake (cc, bcc and to)", { recipient: "greenlake" }, ["gamma", "delta", "epsilon"]],
    ["recipient RedFox", { recipient: "RedFox" }, ["beta", "gamma"]],
    ["sender BlueDog", { sender: "BlueDog" }, ["gamma", "epsilon"]],
    ["importance high or urgent", { importance: ["high", "urgent"] }, ["alpha", "gamma"]],
    ["importance low", { importance: ["low"] }, ["delta"]],
    ["topic, any case", { topic: "builds" }, ["alpha"]],
    ["topic docs", { topic: "DOCS" }, ["beta"]],
    ["thread T-1", { thread_id: "T-1" }, ["alpha", "gamma"]],
    ["since a day ago", { since_ts: minutesAgo(24 * 60).toISOString() }, ["alpha", "beta", "gamma", "epsilon"]],
    ["until a day ago", { until_ts: minutesAgo(24 * 60).toISOString() }, ["delta"]],
    ["sender and recipient together", { sender: "BlueDog", recipient: "RedFox" }, ["gamma"]],
    ["recipient and thread together", { recipient: "BlueDog", thread_id: "T-1" }, ["alpha"]],
  ] as const)("%s", async (_label, filters, expected) => {
    expect(await search(filters)).toEqual(named(...expected));
  });

  it("an unknown recipient or sender is NOT_FOUND, naming the field", async () => {
    for (const field of ["recipient", "sender"] as const) {
      const error = await appError(invoke(operatorSearch, admin, { project_key: KEY, query: "widget", [field]: "NoSuchAgent" }));
      expect([error.code, error.data?.field]).toEqual(["NOT_FOUND", field]);
      expect(error.message).toBe(`${field === "recipient" ? "Recipient" : "Sender"} 'NoSuchAgent' not found in project '${fixture.project.slug}'.`);
    }
  });

  it("does not find another project's agent as recipient", async () => {
    const other = await projectWithAgents(db, "/console/search-other", ["SilverHawk"]);
    expect(other.agents.SilverHawk).toBeDefined();
    expect((await appError(invoke(operatorSearch, admin, { project_key: KEY, query: "widget", recipient: "SilverHawk" }))).code).toBe("NOT_FOUND");
  });
});

describe("the event stream of every project (/api/events without project)", () => {
  const SCOPE_HEADER = "x-test-scope";
  let server: TestServer;
  const streams: EventStream[] = [];
  let one: Awaited<ReturnType<typeof projectWithAgents>>;
  let two: Awaited<ReturnType<typeof projectWithAgents>>;

  beforeAll(async () => {
    // The role from X-Test-Role; X-Test-Scope confines the actor to one project.
    server = await startTestServer(db, {}, {}, {
      resolveActor: async (request) => {
        const actor = await actorFromTestHeader(request);
        const scope = request.headers.get(SCOPE_HEADER);
        return scope ? { ...actor, projectScopes: [scope] } : actor;
      },
    });
    one = await projectWithAgents(db, "/console/stream-one", ["GreenLake", "BlueDog"]);
    two = await projectWithAgents(db, "/console/stream-two", ["GreenLake", "BlueDog"]);
  });
  afterAll(async () => {
    streams.forEach((stream) => stream.close());
    await server?.close();
  });

  async function open(params: Record<string, string>, headers: Record<string, string>): Promise<EventStream> {
    const stream = await openEventStream(server.url, params, headers);
    streams.push(stream);
    return stream;
  }

  async function ready(headers: Record<string, string>): Promise<EventStream> {
    const stream = await open({}, headers);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get("content-type")).toBe("text/event-stream");
    expect(await stream.events.next()).toEqual({ event: "ready", data: { project: null, agent: null } });
    return stream;
  }

  /** Message events up to and including the one with id `last`. */
  async function messagesUntil(stream: EventStream, last: number): Promise<SseEvent[]> {
    const { match, skipped } = await stream.events.until((event) => event.event === "message" && event.data.id === last);
    return [...skipped, match];
  }

  it("carries an admin the mail of every project", async () => {
    const stream = await ready({ [ROLE_HEADER]: "admin" });
    const first = await send("/console/stream-one", one.agents, "GreenLake", ["BlueDog"], { subject: "in one", importance: "high" });
    const second = await send("/console/stream-two", two.agents, "BlueDog", ["GreenLake"], { subject: "in two" });
    const seen = await messagesUntil(stream, second);
    expect(seen.map((event) => [event.event, event.data.id, event.data.subject, event.data.from])).toEqual([
      ["message", first, "in one", "GreenLake"],
      ["message", second, "in two", "BlueDog"],
    ]);
    // The operator's view: the headline without a recipient kind or a body.
    expect(seen[0]!.data).toEqual({
      id: first,
      thread_id: null,
      topic: null,
      subject: "in one",
      from: "GreenLake",
      importance: "high",
      ack_required: false,
      created_ts: expect.stringMatching(ISO_UTC),
    });
  });

  it("carries a project-scoped admin only its project's mail", async () => {
    for (const scope of ["/console/stream-one", one.project.slug]) {
      const stream = await ready({ [ROLE_HEADER]: "admin", [SCOPE_HEADER]: scope });
      const elsewhere = await send("/console/stream-two", two.agents, "GreenLake", ["BlueDog"], { subject: "not for the scoped admin" });
      const here = await send("/console/stream-one", one.agents, "GreenLake", ["BlueDog"], { subject: "for the scoped admin" });
      const after = await send("/console/stream-two", two.agents, "BlueDog", ["GreenLake"], { subject: "not this either" });
      const sentinel = await send("/console/stream-one", one.agents, "BlueDog", ["GreenLake"], { subject: "sentinel" });
      const seen = await messagesUntil(stream, sentinel);
      expect(seen.map((event) => [event.event, event.data.id])).toEqual([
        ["message", here],
        ["message", sentinel],
      ]);
      expect(seen.map((event) => event.data.id)).not.toContain(elsewhere);
      expect(seen.map((event) => event.data.id)).not.toContain(after);
      stream.close();
    }
  });

  it("is FORBIDDEN below admin, and an agent without its project is INVALID_ARGUMENT (400)", async () => {
    for (const role of ["reader", "writer"] as RoleName[]) {
      const stream = await open({}, { [ROLE_HEADER]: role });
      expect(stream.response.status).toBe(403);
      expect(((await stream.response.json()) as { error: { type: string } }).error.type).toBe("FORBIDDEN");
    }
    const agent = one.agents.BlueDog!;
    const stream = await open({ agent: agent.name, agent_token: agent.token }, { [ROLE_HEADER]: "admin" });
    expect(stream.response.status).toBe(400);
    expect(stream.response.headers.get("content-type")).toBe("application/json");
    const body = (await stream.response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("INVALID_ARGUMENT");
    expect(body.error.message).toMatch(/project is required with agent/);
  });
});

describe("the operator's attachment download (/api/attachments without agent)", () => {
  const SECRET = "console-attachments-secret-0123456789abcdef";
  const SCOPE_HEADER = "x-test-scope";
  /** Binds the test credential to this agent of project one, as a token bound to an agent would be. */
  const BOUND_HEADER = "x-test-bound-agent";
  const ONE = "/console/files-one";
  const TWO = "/console/files-two";
  const DATA = Buffer.from([...Array.from({ length: 256 }, (_, index) => index), ...Buffer.from("résumé ✓\n")]);
  const OTHER = Buffer.from("another file\n");
  const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");
  const file = (name: string, data: Buffer) => ({ name, media_type: "application/octet-stream", content_base64: data.toString("base64") });
  let server: TestServer;
  let one: Awaited<ReturnType<typeof projectWithAgents>>;
  let two: Awaited<ReturnType<typeof projectWithAgents>>;
  /** GreenLake → BlueDog in ONE with DATA; SilverHawk → GoldPeak in TWO with the same bytes; GreenLake → BlueDog in ONE with OTHER. */
  let inOne: number;
  let inTwo: number;
  let otherInOne: number;

  beforeAll(async () => {
    // Token mode. X-Test-Role names the caller's role (X-Test-Scope confines it to one project,
    // X-Test-Bound-Agent binds it to an agent); without X-Test-Role the server's own resolver
    // answers, which wants a bearer token or a sign-in.
    const auth = { mode: "tokens", secret: SECRET } as const;
    const tokens = createActorResolver(auth);
    server = await startTestServer(db, { auth }, {}, {
      resolveActor: async (request, prisma) => {
        if (!request.headers.has(ROLE_HEADER)) return tokens(request, prisma);
        const actor = await actorFromTestHeader(request);
        const scope = request.headers.get(SCOPE_HEADER);
        const bound = request.headers.get(BOUND_HEADER);
        return {
          ...actor,
          ...(scope ? { projectScopes: [scope] } : {}),
          ...(bound ? { agent: { id: one.agents[bound]!.id, projectId: one.project.id, name: bound } } : {}),
        };
      },
    });
    one = await projectWithAgents(db, ONE, ["GreenLake", "BlueDog", "RedFox"]);
    two = await projectWithAgents(db, TWO, ["SilverHawk", "GoldPeak"]);
    inOne = await send(ONE, one.agents, "GreenLake", ["BlueDog"], { subject: "report", attachments: [file("résumé.bin", DATA)] });
    inTwo = await send(TWO, two.agents, "SilverHawk", ["GoldPeak"], { subject: "same bytes", attachments: [file("copy.bin", DATA)] });
    otherInOne = await send(ONE, one.agents, "GreenLake", ["BlueDog"], { subject: "other", attachments: [file("other.bin", OTHER)] });
  });
  afterAll(async () => {
    await server?.close();
  });

  function download(messageId: number, digest: string, query: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(new URL(`/api/attachments/${messageId}/${digest}?${new URLSearchParams(query)}`, server.url), { headers });
  }
  const asRole = (role: RoleName, extra: Record<string, string> = {}) => ({ [ROLE_HEADER]: role, ...extra });

  async function refusal(response: Response, status: number, type: string): Promise<string> {
    expect([response.status, response.headers.get("content-type")]).toEqual([status, "application/json"]);
    const body = (await response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe(type);
    return body.error.message;
  }

  it("serves an admin the exact bytes of any message of the project, as a download, by slug or human key", async () => {
    for (const project of [one.project.slug, ONE]) {
      const response = await download(inOne, sha(DATA), { project }, asRole("admin"));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/octet-stream");
      expect(response.headers.get("content-length")).toBe(String(DATA.length));
      expect(response.headers.get("content-disposition")).toBe(`attachment; filename="r_sum_.bin"; filename*=UTF-8''r%C3%A9sum%C3%A9.bin`);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(Buffer.from(await response.arrayBuffer()).equals(DATA)).toBe(true);
    }
    // An empty agent means "not given": still the operator's download.
    expect((await download(inOne, sha(DATA), { project: ONE, agent: "" }, asRole("admin"))).status).toBe(200);
    // The same bytes through the other project's own message.
    const theirs = await download(inTwo, sha(DATA), { project: TWO }, asRole("admin"));
    expect(theirs.status).toBe(200);
    expect(theirs.headers.get("content-disposition")).toBe(`attachment; filename="copy.bin"; filename*=UTF-8''copy.bin`);
    expect(Buffer.from(await theirs.arrayBuffer()).equals(DATA)).toBe(true);
  });

  it("is admin only: readers, writers and role-less credentials get FORBIDDEN (403), no credential 401", async () => {
    for (const role of ["reader", "writer", "none"] as RoleName[]) {
      const message = await refusal(await download(inOne, sha(DATA), { project: ONE }, asRole(role)), 403, "FORBIDDEN");
      expect([role, message]).toEqual([role, "GET /api/attachments (operator) needs the admin role."]);
    }
    const anonymous = await download(inOne, sha(DATA), { project: ONE });
    expect(await refusal(anonymous, 401, "AUTHENTICATION_REQUIRED")).toMatch(/requires a bearer token/);
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="mailroom"');
  });

  it("keeps to the admin's projects: another project's admin is FORBIDDEN", async () => {
    for (const scope of [TWO, two.project.slug]) {
      const message = await refusal(await download(inOne, sha(DATA), { project: ONE }, asRole("admin", { [SCOPE_HEADER]: scope })), 403, "FORBIDDEN");
      expect(message).toContain("outside this credential's project scopes");
    }
    expect((await download(inOne, sha(DATA), { project: ONE }, asRole("admin", { [SCOPE_HEADER]: ONE }))).status).toBe(200);
  });

  it("is NOT_FOUND (404) for another project's message carrying the same file, an unknown sha256 or one the message does not list, and an unknown message", async () => {
    const misses: [string, number, string, string][] = [
      ["message of TWO under ONE", inTwo, sha(DATA), ONE],
      ["message of ONE under TWO", inOne, sha(DATA), TWO],
      ["unknown sha256", inOne, "0".repeat(64), ONE],
      ["sha256 of another message's file", inOne, sha(OTHER), ONE],
      ["unknown message", 2_000_000_000, sha(DATA), ONE],
    ];
    for (const [label, messageId, digest, project] of misses) {
      const message = await refusal(await download(messageId, digest, { project }, asRole("admin")), 404, "NOT_FOUND");
      expect([label, message]).toEqual([label, `Attachment ${digest} of message ${messageId} not found or not visible.`]);
    }
    // That other file is served through its own message.
    expect(Buffer.from(await (await download(otherInOne, sha(OTHER), { project: ONE }, asRole("admin"))).arrayBuffer()).equals(OTHER)).toBe(true);
    // Without project there is no scope to look in.
    expect(await refusal(await download(inOne, sha(DATA), {}, asRole("admin")), 400, "INVALID_ARGUMENT")).toContain("project");
  });

  it("with agent named, or a credential bound to an agent, is the agent's download even for an admin", async () => {
    // Naming the agent without proving it: AUTHENTICATION_REQUIRED, admin or not (the admin is
    // not exempt; it can leave agent out instead).
    for (const role of ["admin", "reader"] as RoleName[]) {
      const response = await download(inOne, sha(DATA), { project: ONE, agent: "BlueDog" }, asRole(role));
      const message = await refusal(response, 401, "AUTHENTICATION_REQUIRED");
      expect([role, message]).toEqual([role, "GET /api/attachments requires agent_token for agent 'BlueDog': pass the token register_agent returned on every call (this server keeps no sessions)."]);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="mailroom"');
    }
    // In token mode the registration token is not accepted in the query at all.
    const inQuery = await download(inOne, sha(DATA), { project: ONE, agent: "BlueDog", agent_token: one.agents.BlueDog!.token }, asRole("admin"));
    expect(await refusal(inQuery, 400, "INVALID_ARGUMENT")).toMatch(/'agent_token' is not accepted in the query string/);

    // A credential bound to the recipient proves it: a reader gets the file, with or without agent.
    for (const query of [{ project: ONE }, { project: ONE, agent: "BlueDog" }] as Record<string, string>[]) {
      const response = await download(inOne, sha(DATA), query, asRole("reader", { [BOUND_HEADER]: "BlueDog" }));
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(DATA)).toBe(true);
    }
    // Bound to an agent that is neither sender nor recipient: 404, even for an admin (not the
    // operator's download).
    await refusal(await download(inOne, sha(DATA), { project: ONE }, asRole("admin", { [BOUND_HEADER]: "RedFox" })), 404, "NOT_FOUND");
  });
});
