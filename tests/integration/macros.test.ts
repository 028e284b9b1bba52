import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import type { ServiceConfig } from "@/server/services/context";
import { listContacts } from "@/server/services/contacts/operations";
import { macroContactHandshake, macroFileReservationCycle, macroPrepareThread, macroStartSession } from "@/server/services/macros/operations";
import { fetchInbox } from "@/server/services/messages/inbox";
import { sendMessage } from "@/server/services/messages/send";
import { fileReservationPaths } from "@/server/services/reservations/operations";
import { serviceContext, testConfig } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// The workflow macros (§2.2 macro_*): result shapes as the reference gives them, and each macro's
// writes in one transaction, so a later step that fails leaves nothing of the earlier ones.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const AUTO: Partial<ServiceConfig> = { contacts: { ...testConfig.contacts, defaultPolicy: "auto" } };
let counter = 0;
async function setup(names: string[] = ["GreenLake", "BlueDog", "RedFox"]) {
  counter += 1;
  const key = `/macros-${counter}`;
  const made = await projectWithAgents(db, key, names, AUTO);
  return { ...made, key, agents: made.agents as Record<string, TestAgent> };
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

describe("macro_start_session", () => {
  it("ensures the project, registers the agent, reserves and reads the inbox; again with the token it updates the same agent", async () => {
    const ctx = serviceContext(db, AUTO);
    const first = await invoke(macroStartSession, ctx, {
      human_key: "/macros/session",
      program: "codex",
      model: "gpt",
      task_description: "start",
      file_reservation_paths: ["src/**", "README.md"],
      file_reservation_ttl_seconds: 600,
    });
    expect(Object.keys(first).sort()).toEqual(["agent", "file_reservations", "inbox", "project", "registration_token"]);
    expect(first.project).toMatchObject({ slug: "macros-session", human_key: "/macros/session" });
    expect(first.agent).toMatchObject({ program: "codex", model: "gpt", task_description: "start", project_id: first.project.id });
    expect(first.agent).not.toHaveProperty("registration_token");
    expect(first.registration_token).toEqual(expect.any(String));
    expect(first.file_reservations.conflicts).toEqual([]);
    expect(first.file_reservations.granted).toMatchObject([
      { path_pattern: "src/**", exclusive: true, reason: "macro-session" },
      { path_pattern: "README.md", exclusive: true, reason: "macro-session" },
    ]);
    expect(first.inbox).toEqual([]);

    const again = await invoke(macroStartSession, ctx, {
      human_key: "/macros/session",
      program: "codex-2",
      model: "gpt",
      agent_name: first.agent.name,
      registration_token: first.registration_token,
    });
    expect(again.agent).toMatchObject({ id: first.agent.id, program: "codex-2" });
    expect(again.file_reservations).toEqual({ granted: [], conflicts: [] });
    expect(await db.prisma.fileReservation.count({ where: { agentId: first.agent.id, releasedTs: null } })).toBe(2);
  });

  it("writes nothing when a later step fails: no project, no agent", async () => {
    const ctx = serviceContext(db, { ...AUTO, nameMode: "strict" });
    const error = await appError(invoke(macroStartSession, ctx, { human_key: "/macros/strict", program: "p", model: "m", agent_name: "BackendHarmonizer" }));
    expect(error.code).toBe("DESCRIPTIVE_NAME");
    expect(await db.prisma.project.count({ where: { humanKey: "/macros/strict" } })).toBe(0);
  });

  it("refuses an existing name without its token, creating nothing", async () => {
    const f = await setup(["GreenLake"]);
    const before = await db.prisma.fileReservation.count();
    const error = await appError(invoke(macroStartSession, f.ctx, { human_key: f.key, program: "p", model: "m", agent_name: "GreenLake", file_reservation_paths: ["x/**"] }));
    expect(error.code).toBe("AUTHENTICATION_REQUIRED");
    expect(await db.prisma.fileReservation.count()).toBe(before);
  });
});

describe("macro_prepare_thread", () => {
  it("summarises the thread as the agent sees it and returns the inbox", async () => {
    const f = await setup(["GreenLake", "BlueDog"]);
    await db.prisma.agent.updateMany({ where: { projectId: f.project.id }, data: { contactPolicy: "open" } });
    for (const body of ["- first point", "TODO: second"]) {
      await invoke(sendMessage, f.ctx, { project_key: f.key, sender_name: "GreenLake", sender_token: f.agents.GreenLake!.token, to: ["BlueDog"], subject: "plan", body_md: body, thread_id: "PLAN-1" });
    }
    const prepared = await invoke(macroPrepareThread, f.ctx, {
      project_key: f.key,
      thread_id: "PLAN-1",
      program: "p",
      model: "m",
      agent_name: "BlueDog",
      registration_token: f.agents.BlueDog!.token,
      llm_mode: false,
    });
    expect(Object.keys(prepared).sort()).toEqual(["agent", "inbox", "project", "registration_token", "thread"]);
    expect(prepared.agent).toMatchObject({ id: f.agents.BlueDog!.id, name: "BlueDog" });
    expect(prepared.thread).toMatchObject({ thread_id: "PLAN-1", total_messages: 2 });
    expect(prepared.thread.examples.length).toBe(2);
    expect(prepared.inbox).toHaveLength(2);
    expect(prepared.inbox[0]).not.toHaveProperty("body_md");

    // A newly registered agent sees none of the thread.
    const newcomer = await invoke(macroPrepareThread, f.ctx, { project_key: f.key, thread_id: "PLAN-1", program: "p", model: "m", llm_mode: false });
    expect(newcomer.registration_token).toEqual(expect.any(String));
    expect(newcomer.thread.total_messages).toBe(0);
  });

  it("with register_if_missing=false needs an existing agent and its token", async () => {
    const f = await setup(["GreenLake"]);
    const base = { project_key: f.key, thread_id: "T-1", program: "p", model: "m", register_if_missing: false, llm_mode: false };
    expect((await appError(invoke(macroPrepareThread, f.ctx, { ...base, agent_name: "SilentGlacier" }))).code).toBe("NOT_FOUND");
    expect((await appError(invoke(macroPrepareThread, f.ctx, { ...base, agent_name: "GreenLake" }))).code).toBe("AUTHENTICATION_REQUIRED");
    expect(await db.prisma.agent.count({ where: { projectId: f.project.id } })).toBe(1);
  });
});

describe("macro_file_reservation_cycle", () => {
  it("reserves (reporting conflicts) and with auto_release releases the same paths", async () => {
    const f = await setup(["GreenLake", "BlueDog"]);
    await invoke(fileReservationPaths, f.ctx, { project_key: f.key, agent_name: "BlueDog", registration_token: f.agents.BlueDog!.token, paths: ["src/app.py"] });
    const as = { project_key: f.key, agent_name: "GreenLake", registration_token: f.agents.GreenLake!.token };
    const held = await invoke(macroFileReservationCycle, f.ctx, { ...as, paths: ["src/**"] });
    expect(held.released).toBeNull();
    expect(held.file_reservations.granted).toMatchObject([{ path_pattern: "src/**", exclusive: true, reason: "macro-file_reservation" }]);
    expect(held.file_reservations.conflicts).toMatchObject([{ path: "src/**", holders: [{ agent: "BlueDog", path_pattern: "src/app.py" }] }]);

    const cycled = await invoke(macroFileReservationCycle, f.ctx, { ...as, paths: ["docs/**"], auto_release: true });
    expect(cycled.released).toMatchObject({ released: 1 });
    const active = await db.prisma.fileReservation.findMany({ where: { agentId: f.agents.GreenLake!.id, releasedTs: null }, select: { pathPattern: true } });
    expect(active).toEqual([{ pathPattern: "src/**" }]);
  });
});

describe("macro_contact_handshake", () => {
  it("fast path (auto_accept, same project, no welcome): both authenticated, approved link, no mail", async () => {
    const f = await setup();
    const result = await invoke(macroContactHandshake, f.ctx, {
      project_key: f.key,
      requester: "GreenLake",
      target: "BlueDog",
      requester_registration_token: f.agents.GreenLake!.token,
      target_registration_token: f.agents.BlueDog!.token,
      auto_accept: true,
    });
    expect(result.welcome_message).toBeNull();
    expect(result.request).toEqual(result.response);
    expect(result.request).toMatchObject({ from: "GreenLake", from_project: f.key, to: "BlueDog", to_project: f.key, status: "approved" });
    expect(await db.prisma.message.count({ where: { projectId: f.project.id } })).toBe(0);
    expect((await invoke(sendMessage, f.ctx, { project_key: f.key, sender_name: "GreenLake", sender_token: f.agents.GreenLake!.token, to: ["BlueDog"], subject: "s", body_md: "b" })).count).toBe(1);

    const noTarget = await appError(
      invoke(macroContactHandshake, f.ctx, { project_key: f.key, requester: "GreenLake", target: "RedFox", requester_registration_token: f.agents.GreenLake!.token, auto_accept: true }),
    );
    expect(noTarget.code).toBe("AUTHENTICATION_REQUIRED");
    expect(noTarget.message).toContain("target_registration_token");
  });

  it("slow path: a pending request (and its mail) with response_error when the target is not authenticated", async () => {
    const f = await setup();
    const result = await invoke(macroContactHandshake, f.ctx, {
      project_key: f.key,
      agent_name: "GreenLake",
      to_agent: "BlueDog",
      requester_registration_token: f.agents.GreenLake!.token,
      auto_accept: true,
      welcome_subject: "Hi",
      welcome_body: "Glad to work with you",
      reason: "pairing",
    });
    expect(result.request).toMatchObject({ status: "pending", to: "BlueDog" });
    expect(result.response).toBeNull();
    expect(result.response_error).toMatchObject({ type: "AUTHENTICATION_REQUIRED" });
    expect(result.welcome_error).toMatchObject({ type: "CONTACT_APPROVAL_REQUIRED" });
    const inbox = await invoke(fetchInbox, f.ctx, { project_key: f.key, agent_name: "BlueDog", registration_token: f.agents.BlueDog!.token, include_bodies: true });
    expect(inbox.map((m) => [m.subject, m.body_md])).toEqual([["Contact request from GreenLake", "pairing"]]);
  });

  it("approves and welcomes across projects with both tokens", async () => {
    const f = await setup(["GreenLake"]);
    const other = await setup(["BlueDog"]);
    const result = await invoke(macroContactHandshake, f.ctx, {
      project_key: f.key,
      requester: "GreenLake",
      target: `project:${other.key}#BlueDog`,
      requester_registration_token: f.agents.GreenLake!.token,
      target_registration_token: other.agents.BlueDog!.token,
      auto_accept: true,
      welcome_subject: "Welcome",
      welcome_body: "Hello from backend",
      thread_id: "HELLO-1",
    });
    expect(result.response).toMatchObject({ from: "GreenLake", to: "BlueDog", approved: true, updated: 1 });
    expect(result.welcome_message).toMatchObject({ count: 1, deliveries: [{ project: other.key, payload: { subject: "Welcome", thread_id: "HELLO-1" } }] });
    const contacts = await invoke(listContacts, f.ctx, { project_key: f.key, agent_name: "GreenLake", registration_token: f.agents.GreenLake!.token });
    expect(contacts).toMatchObject([{ to: "BlueDog", to_project: other.key, status: "approved", allows_messaging: true }]);
  });

  it("infers the target in a two-agent project and validates the welcome", async () => {
    const f = await setup(["GreenLake", "BlueDog"]);
    const inferred = await invoke(macroContactHandshake, f.ctx, { project_key: f.key, requester: "GreenLake", requester_registration_token: f.agents.GreenLake!.token });
    expect(inferred.request).toMatchObject({ from: "GreenLake", to: "BlueDog", status: "pending" });
    const base = { project_key: f.key, requester: "GreenLake", target: "BlueDog", requester_registration_token: f.agents.GreenLake!.token };
    for (const bad of [{ welcome_subject: "Hi", welcome_body: "x" }, { auto_accept: true, welcome_subject: " ", welcome_body: "x" }, { auto_accept: true, welcome_subject: "Hi" }]) {
      expect((await appError(invoke(macroContactHandshake, f.ctx, { ...base, ...bad }))).code).toBe("INVALID_ARGUMENT");
    }
  });

  it("writes nothing when the welcome (the last step) fails: no link, no contact request mail", async () => {
    const f = await setup();
    await invoke(fileReservationPaths, f.ctx, { project_key: f.key, agent_name: "RedFox", registration_token: f.agents.RedFox!.token, paths: ["messages/threads/HELLO-9.md"] });
    const before = await db.prisma.message.count();
    const error = await appError(
      invoke(macroContactHandshake, f.ctx, {
        project_key: f.key,
        requester: "GreenLake",
        target: "BlueDog",
        requester_registration_token: f.agents.GreenLake!.token,
        target_registration_token: f.agents.BlueDog!.token,
        auto_accept: true,
        welcome_subject: "Hi",
        welcome_body: "Welcome",
        thread_id: "HELLO-9",
      }),
    );
    expect(error.code).toBe("FILE_RESERVATION_CONFLICT");
    expect(await db.prisma.message.count()).toBe(before);
    expect(await db.prisma.agentLink.count({ where: { aAgentId: f.agents.GreenLake!.id } })).toBe(0);
  });
});
