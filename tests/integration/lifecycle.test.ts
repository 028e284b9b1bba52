import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { getProject, listAgents } from "@/server/services/agents/queries";
import type { ServiceContext } from "@/server/services/context";
import { deregisterAgent, hardDeleteAgent, retireAgent, unretireAgent } from "@/server/services/lifecycle/agents";
import { archiveProject, hardDeleteProject, unarchiveProject } from "@/server/services/lifecycle/projects";
import { overseerSend } from "@/server/services/messages/overseer";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { actorFor } from "../helpers/actors";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// Agent and project lifecycle: what each tool changes, what retirement, deregistration and
// archiving mean to the rest of the mail system, and exactly what the hard deletes remove.

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

function send(ctx: ServiceContext, projectKey: string, from: TestAgent, to: string[], extra: Record<string, unknown> = {}) {
  return invoke(sendMessage, ctx, { project_key: projectKey, sender_name: from.name, sender_token: from.token, to, subject: "hello", body_md: "body", ...extra });
}

describe("retire_agent and unretire_agent", () => {
  it("retire moves the agent to retired_agents, refuses mail to it and skips it in broadcasts; unretire undoes all three", async () => {
    const key = "/lifecycle/retire";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake", "BlueDog", "RedFox"]);
    expect(await invoke(retireAgent, ctx, { project_key: key, agent_name: "bluedog" })).toEqual({ status: "retired", agent_name: "BlueDog", project_key: key });

    const listed = await invoke(listAgents, ctx, { project_key: key });
    expect(listed.agents.map((agent) => agent.name).sort()).toEqual(["GreenLake", "RedFox"]);
    expect(listed.retired_agents.map((agent) => [agent.name, typeof agent.retired_at])).toEqual([["BlueDog", "string"]]);

    expect((await rejection(send(ctx, key, agents.GreenLake!, ["BlueDog"]))).code).toBe("AGENT_RETIRED");
    const broadcast = await invoke(sendMessage, ctx, {
      project_key: key, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: [], broadcast: true, subject: "all", body_md: "x",
    });
    expect(broadcast.deliveries[0]!.payload.to).toEqual(["RedFox"]);

    expect(await invoke(unretireAgent, ctx, { project_key: key, agent_name: "BlueDog" })).toEqual({ status: "active", agent_name: "BlueDog", project_key: key });
    const after = await invoke(listAgents, ctx, { project_key: key });
    expect(after.retired_agents).toEqual([]);
    expect(after.agents.find((agent) => agent.name === "BlueDog")!.retired_at).toBeUndefined();
    expect((await send(ctx, key, agents.GreenLake!, ["BlueDog"])).count).toBe(1);
  });

  it("retiring twice keeps the first retired_at; unretire makes the agent active from now", async () => {
    const key = "/lifecycle/retire-twice";
    const { ctx } = await projectWithAgents(db, key, ["GreenLake"]);
    const old = new Date("2020-01-01T00:00:00Z");
    await db.prisma.agent.updateMany({ where: { name: "GreenLake", project: { humanKey: key } }, data: { lastActiveTs: old } });
    await invoke(retireAgent, ctx, { project_key: key, agent_name: "GreenLake" });
    const first = await db.prisma.agent.findFirstOrThrow({ where: { name: "GreenLake", project: { humanKey: key } } });
    await invoke(retireAgent, ctx, { project_key: key, agent_name: "GreenLake" });
    const second = await db.prisma.agent.findFirstOrThrow({ where: { id: first.id } });
    expect(second.retiredAt).toEqual(first.retiredAt);

    await invoke(unretireAgent, ctx, { project_key: key, agent_name: "GreenLake" });
    const back = await db.prisma.agent.findFirstOrThrow({ where: { id: first.id } });
    expect(back.retiredAt).toBeNull();
    expect(back.lastActiveTs.getTime()).toBeGreaterThan(old.getTime());
  });

  it("needs the admin role; an admin needs no token, but a wrong token is refused", async () => {
    const key = "/lifecycle/auth";
    const { ctx } = await projectWithAgents(db, key, ["GreenLake"]);
    const writer = { ...ctx, actor: actorFor("writer") };
    expect((await rejection(invoke(retireAgent, writer, { project_key: key, agent_name: "GreenLake" }))).code).toBe("FORBIDDEN");
    const wrong = await rejection(invoke(retireAgent, ctx, { project_key: key, agent_name: "GreenLake", registration_token: "not-the-token" }));
    expect([wrong.code, wrong.message]).toEqual(["AUTHENTICATION_REQUIRED", "Invalid registration_token for agent 'GreenLake'."]);
    expect((await db.prisma.agent.findFirstOrThrow({ where: { name: "GreenLake", project: { humanKey: key } } })).retiredAt).toBeNull();
    const missing = await rejection(invoke(retireAgent, ctx, { project_key: key, agent_name: "NoSuchAgent" }));
    expect([missing.code, missing.message]).toEqual(["NOT_FOUND", expect.stringContaining("not found")]);
  });
});

describe("the archive's profile.json follows lifecycle changes", () => {
  it("retire, unretire and deregister each queue the agent's profile as it now stands; retiring again queues nothing", async () => {
    const key = "/lifecycle/profile-events";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake"]);
    const profiles = async () =>
      (await db.prisma.archiveOutbox.findMany({ where: { kind: "agent_profile", payload: { path: ["agent", "id"], equals: agents.GreenLake!.id } }, orderBy: { id: "asc" } })).map(
        (row) => (row.payload as { agent: { retired_at?: string; task_description: string } }).agent,
      );
    const before = (await profiles()).length;
    await invoke(retireAgent, ctx, { project_key: key, agent_name: "GreenLake" });
    await invoke(retireAgent, ctx, { project_key: key, agent_name: "GreenLake" });
    await invoke(unretireAgent, ctx, { project_key: key, agent_name: "GreenLake" });
    await invoke(deregisterAgent, ctx, { project_key: key, agent_name: "GreenLake" });
    const queued = (await profiles()).slice(before);
    expect(queued.map((agent) => [typeof agent.retired_at, agent.task_description.startsWith("[DEREGISTERED at ")])).toEqual([
      ["string", false],
      ["undefined", false],
      ["undefined", true],
    ]);
  });
});

describe("deregister_agent", () => {
  it("sets block_all and tags the task once; the agent no longer receives mail but can still send", async () => {
    const key = "/lifecycle/deregister";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake", "BlueDog"]);
    expect(await invoke(deregisterAgent, ctx, { project_key: key, agent_name: "BlueDog" })).toEqual({
      status: "deregistered",
      agent_name: "BlueDog",
      project_key: key,
    });
    await invoke(deregisterAgent, ctx, { project_key: key, agent_name: "BlueDog" });
    const row = await db.prisma.agent.findFirstOrThrow({ where: { name: "BlueDog", project: { humanKey: key } } });
    expect(row.contactPolicy).toBe("block_all");
    expect(row.taskDescription).toMatch(/^\[DEREGISTERED at \d{4}-\d\d-\d\dT[\d:.]+\+00:00\] testing as BlueDog$/);
    expect(row.deregisteredAt).not.toBeNull();

    const blocked = await rejection(send(ctx, key, agents.GreenLake!, ["BlueDog"]));
    expect([blocked.code, blocked.message]).toEqual(["CONTACT_BLOCKED", expect.stringContaining("Recipient is not accepting messages")]);
    expect((await send(ctx, key, agents.BlueDog!, ["GreenLake"])).count).toBe(1);
  });
});

describe("archive_project and unarchive_project", () => {
  it("set and clear archived_at, shown on the project", async () => {
    const key = "/lifecycle/archive";
    const { ctx, project } = await projectWithAgents(db, key, ["GreenLake"]);
    expect(await invoke(archiveProject, ctx, { project_key: key })).toEqual({ status: "archived", project_key: key, slug: project.slug });
    const archived = await invoke(getProject, ctx, { project_key: key });
    expect(archived.archived_at).toMatch(/\+00:00$/);
    // Archiving again keeps the first time.
    await invoke(archiveProject, ctx, { project_key: project.slug });
    expect((await invoke(getProject, ctx, { project_key: key })).archived_at).toBe(archived.archived_at);

    expect(await invoke(unarchiveProject, ctx, { project_key: key })).toEqual({ status: "active", project_key: key, slug: project.slug });
    expect((await invoke(getProject, ctx, { project_key: key })).archived_at).toBeUndefined();
  });

  it("accept the token of any agent of the project and refuse any other token", async () => {
    const { ctx, agents } = await projectWithAgents(db, "/lifecycle/archive-token", ["GreenLake"]);
    const other = await projectWithAgents(db, "/lifecycle/archive-token-other", ["BlueDog"]);
    const refused = await rejection(invoke(archiveProject, ctx, { project_key: "/lifecycle/archive-token", registration_token: other.agents.BlueDog!.token }));
    expect([refused.code, refused.message]).toEqual(["AUTHENTICATION_REQUIRED", "Invalid registration_token for project 'lifecycle-archive-token'."]);
    expect((await db.prisma.project.findUniqueOrThrow({ where: { humanKey: "/lifecycle/archive-token" } })).archivedAt).toBeNull();
    const done = await invoke(archiveProject, ctx, { project_key: "/lifecycle/archive-token", registration_token: agents.GreenLake!.token });
    expect(done.status).toBe("archived");
  });
});

describe("the send path refuses retired senders and archived projects", () => {
  const messageCount = (key: string) => db.prisma.message.count({ where: { project: { humanKey: key } } });

  it("a retired agent cannot send or reply, writing nothing; unretire_agent lets it send again", async () => {
    const key = "/lifecycle/retired-sender";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake", "BlueDog"]);
    const first = await send(ctx, key, agents.BlueDog!, ["GreenLake"]);
    await invoke(retireAgent, ctx, { project_key: key, agent_name: "GreenLake" });

    const refused = await rejection(send(ctx, key, agents.GreenLake!, ["BlueDog"]));
    expect([refused.code, refused.message]).toEqual(["AGENT_RETIRED", "Agent 'GreenLake' is retired and cannot send; unretire_agent brings it back."]);
    const reply = await rejection(
      invoke(replyMessage, ctx, { project_key: key, message_id: first.deliveries[0]!.payload.id, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, body_md: "re" }),
    );
    expect(reply.code).toBe("AGENT_RETIRED");
    expect(await messageCount(key)).toBe(1);

    await invoke(unretireAgent, ctx, { project_key: key, agent_name: "GreenLake" });
    expect((await send(ctx, key, agents.GreenLake!, ["BlueDog"])).count).toBe(1);
  });

  it("an archived project takes no mail from its agents, the overseer or another project; unarchive_project reopens it", async () => {
    const key = "/lifecycle/archived-sends";
    const { ctx, agents, project } = await projectWithAgents(db, key, ["GreenLake", "BlueDog"]);
    const other = await projectWithAgents(db, "/lifecycle/archived-sends-other", ["RedFox"]);
    await invoke(archiveProject, ctx, { project_key: key });

    const own = await rejection(send(ctx, key, agents.GreenLake!, ["BlueDog"]));
    expect([own.code, own.message]).toEqual(["PROJECT_ARCHIVED", `Project '${project.slug}' is archived and takes no new mail; unarchive_project reopens it.`]);
    const overseer = await rejection(invoke(overseerSend, ctx, { project_key: key, recipients: ["BlueDog"], subject: "hi", body_md: "x" }));
    expect(overseer.code).toBe("PROJECT_ARCHIVED");
    const inbound = await rejection(send(other.ctx, "/lifecycle/archived-sends-other", other.agents.RedFox!, [`project:${project.slug}#BlueDog`]));
    expect([inbound.code, inbound.message]).toEqual(["PROJECT_ARCHIVED", expect.stringContaining(`'${project.slug}' is archived`)]);
    expect(await messageCount(key)).toBe(0);
    expect(await messageCount("/lifecycle/archived-sends-other")).toBe(0);

    await invoke(unarchiveProject, ctx, { project_key: key });
    expect((await send(ctx, key, agents.GreenLake!, ["BlueDog"])).count).toBe(1);
    expect((await send(other.ctx, "/lifecycle/archived-sends-other", other.agents.RedFox!, [`project:${project.slug}#BlueDog`])).count).toBe(1);
  });
});

describe("hard_delete_agent", () => {
  it("refuses anything but the exact confirmation, deleting nothing", async () => {
    const key = "/lifecycle/delete-confirm";
    const { ctx } = await projectWithAgents(db, key, ["GreenLake"]);
    for (const confirmation of ["", "i understand", "I UNDERSTAND ", "yes"]) {
      const error = await rejection(invoke(hardDeleteAgent, ctx, { project_key: key, agent_name: "GreenLake", confirmation }));
      expect([error.code, error.message]).toEqual(["INVALID_ARGUMENT", expect.stringContaining("'I UNDERSTAND'")]);
    }
    expect(await db.prisma.agent.count({ where: { project: { humanKey: key } } })).toBe(1);
  });

  it("deletes the agent, its mail both ways, reservations, slots, links and windows, and counts them", async () => {
    const key = "/lifecycle/delete-agent";
    const { ctx, agents, project } = await projectWithAgents(db, key, ["GreenLake", "BlueDog", "RedFox"]);
    const green = agents.GreenLake!;
    await send(ctx, key, green, ["BlueDog"]);
    await send(ctx, key, green, ["BlueDog"], { cc: ["RedFox"] });
    const kept = await send(ctx, key, agents.BlueDog!, ["GreenLake", "RedFox"]);
    const expires = new Date(Date.now() + 3600_000);
    await db.prisma.fileReservation.createMany({
      data: [
        { projectId: project.id, agentId: green.id, pathPattern: "src/**", expiresTs: expires },
        { projectId: project.id, agentId: agents.BlueDog!.id, pathPattern: "docs/**", expiresTs: expires },
      ],
    });
    await db.prisma.agentLink.createMany({
      data: [
        { aProjectId: project.id, aAgentId: green.id, bProjectId: project.id, bAgentId: agents.BlueDog!.id, status: "approved" },
        { aProjectId: project.id, aAgentId: agents.RedFox!.id, bProjectId: project.id, bAgentId: green.id, status: "pending" },
        { aProjectId: project.id, aAgentId: agents.RedFox!.id, bProjectId: project.id, bAgentId: agents.BlueDog!.id, status: "approved" },
      ],
    });
    await db.prisma.windowIdentity.createMany({
      data: [
        { projectId: project.id, windowUuid: "00000000-0000-4000-8000-000000000001", displayName: "GreenLake" },
        { projectId: project.id, windowUuid: "00000000-0000-4000-8000-000000000002", displayName: "BlueDog" },
      ],
    });
    await db.prisma.buildSlot.create({ data: { projectId: project.id, agentId: green.id, slot: "build", expiresTs: expires } });

    const result = await invoke(hardDeleteAgent, ctx, { project_key: key, agent_name: "greenlake", confirmation: "I UNDERSTAND" });
    expect(result).toEqual({
      status: "hard_deleted",
      agent_name: "GreenLake",
      project_key: key,
      deleted_counts: {
        message_recipients: 1,
        sent_message_recipients: 3,
        messages_sent: 2,
        file_reservations: 1,
        agent_links: 2,
        window_identities: 1,
        agent: 1,
        archive_files_removed: 0,
        archive_dirs_removed: 0,
      },
      filesystem_errors: [],
    });

    const where = { projectId: project.id };
    expect(await db.prisma.agent.findMany({ where, select: { name: true }, orderBy: { name: "asc" } })).toEqual([{ name: "BlueDog" }, { name: "RedFox" }]);
    expect(await db.prisma.message.findMany({ where, select: { id: true } })).toEqual([{ id: kept.deliveries[0]!.payload.id }]);
    expect(await db.prisma.messageRecipient.findMany({ where: { message: where }, select: { agentId: true } })).toEqual([{ agentId: agents.RedFox!.id }]);
    expect(await db.prisma.fileReservation.count({ where })).toBe(1);
    expect(await db.prisma.agentLink.count({ where: { aProjectId: project.id } })).toBe(1);
    expect(await db.prisma.windowIdentity.findMany({ where, select: { displayName: true } })).toEqual([{ displayName: "BlueDog" }]);
    expect(await db.prisma.buildSlot.count({ where })).toBe(0);
  });
});

describe("hard_delete_project", () => {
  it("refuses a wrong confirmation; then deletes the project and everything in it, counted, leaving other projects alone", async () => {
    const key = "/lifecycle/delete-project";
    const { ctx, agents, project } = await projectWithAgents(db, key, ["GreenLake", "BlueDog"]);
    const other = await projectWithAgents(db, "/lifecycle/delete-project-bystander", ["RedFox"]);
    await send(ctx, key, agents.GreenLake!, ["BlueDog"]);
    await send(ctx, key, agents.BlueDog!, ["GreenLake"], { cc: ["GreenLake"] });
    await send(other.ctx, "/lifecycle/delete-project-bystander", other.agents.RedFox!, ["RedFox"]);
    const expires = new Date(Date.now() + 3600_000);
    await db.prisma.fileReservation.create({ data: { projectId: project.id, agentId: agents.GreenLake!.id, pathPattern: "a/**", expiresTs: expires } });
    await db.prisma.agentLink.create({
      data: { aProjectId: project.id, aAgentId: agents.GreenLake!.id, bProjectId: other.project.id, bAgentId: other.agents.RedFox!.id, status: "approved" },
    });
    await db.prisma.windowIdentity.create({ data: { projectId: project.id, windowUuid: "00000000-0000-4000-8000-00000000000a", displayName: "GreenLake" } });
    await db.prisma.messageSummary.create({ data: { projectId: project.id, summaryText: "{}", startTs: expires, endTs: expires } });
    const product = await db.prisma.product.create({ data: { productUid: "abcdef0123", name: "lifecycle-product" } });
    await db.prisma.productProjectLink.createMany({ data: [{ productId: product.id, projectId: project.id }, { productId: product.id, projectId: other.project.id }] });

    const refused = await rejection(invoke(hardDeleteProject, ctx, { project_key: key, confirmation: "I understand" }));
    expect(refused.code).toBe("INVALID_ARGUMENT");
    expect(await db.prisma.project.count({ where: { id: project.id } })).toBe(1);

    const result = await invoke(hardDeleteProject, ctx, { project_key: key, confirmation: "I UNDERSTAND" });
    expect(result).toEqual({
      status: "hard_deleted",
      project_key: key,
      deleted_counts: {
        agents: 2,
        messages: 2,
        // GreenLake→BlueDog; BlueDog→GreenLake with GreenLake also on cc is one row per recipient.
        message_recipients: 2,
        file_reservations: 1,
        agent_links: 1,
        window_identities: 1,
        message_summaries: 1,
        sibling_suggestions: 0,
        product_links: 1,
        project: 1,
        archive_files_removed: 0,
        archive_dirs_removed: 0,
      },
      filesystem_errors: [],
    });
    expect(await db.prisma.project.count({ where: { id: project.id } })).toBe(0);
    expect(await db.prisma.agent.count({ where: { projectId: project.id } })).toBe(0);
    expect(await db.prisma.message.count({ where: { projectId: project.id } })).toBe(0);
    expect(await db.prisma.agentLink.count({ where: { bAgentId: other.agents.RedFox!.id } })).toBe(0);
    expect(await db.prisma.message.count({ where: { projectId: other.project.id } })).toBe(1);
    expect(await db.prisma.productProjectLink.count({ where: { productId: product.id } })).toBe(1);
    const gone = await rejection(invoke(getProject, ctx, { project_key: key }));
    expect(gone.code).toBe("NOT_FOUND");
  });
});
