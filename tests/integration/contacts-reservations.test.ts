import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import type { ServiceConfig } from "@/server/services/context";
import { setContactPolicy } from "@/server/services/contacts/operations";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { fileReservationPaths } from "@/server/services/reservations/operations";
import { testConfig } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// Where contacts meet reservations: overlapping reservations let agents mail each other without a
// link (§3.1, §13.1 #18), and reservations of the archive's own paths block the message writes
// they cover (§4.5, §13.1 #24), with nothing written.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

let counter = 0;
async function setup(config: Partial<ServiceConfig> = {}) {
  counter += 1;
  const key = `/contacts-reservations-${counter}`;
  const made = await projectWithAgents(db, key, ["GreenLake", "BlueDog", "RedFox"], {
    contacts: { ...testConfig.contacts, defaultPolicy: "auto" },
    ...config,
  });
  const agents = made.agents as Record<string, TestAgent>;
  const send = (from: string, to: string[], extra: Record<string, unknown> = {}) =>
    invoke(sendMessage, made.ctx, { project_key: key, sender_name: from, sender_token: agents[from]!.token, to, subject: "Hello", body_md: "Body", auto_contact_if_blocked: false, ...extra });
  const reserve = (name: string, paths: string[], exclusive = true) =>
    invoke(fileReservationPaths, made.ctx, { project_key: key, agent_name: name, registration_token: agents[name]!.token, paths, exclusive });
  const policy = (name: string, value: string) =>
    invoke(setContactPolicy, made.ctx, { project_key: key, agent_name: name, registration_token: agents[name]!.token, policy: value });
  return { ...made, key, agents, send, reserve, policy };
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

describe("overlapping reservations (#18)", () => {
  it("let A reach a contacts_only B once their active reservations overlap, and not before", async () => {
    const f = await setup();
    await f.policy("BlueDog", "contacts_only");
    expect((await appError(f.send("GreenLake", ["BlueDog"]))).code).toBe("CONTACT_REQUIRED");
    await f.reserve("GreenLake", ["src/*"]);
    await f.reserve("BlueDog", ["docs/**"]);
    expect((await appError(f.send("GreenLake", ["BlueDog"]))).code).toBe("CONTACT_REQUIRED");
    await f.reserve("BlueDog", ["src/app.py"], false);
    expect((await f.send("GreenLake", ["BlueDog"])).count).toBe(1);
  });

  it("let a retired holder of an overlapping reservation be reached, and never a block_all one", async () => {
    const f = await setup();
    await f.reserve("GreenLake", ["lib/**"]);
    await f.reserve("BlueDog", ["lib/util.ts"], false);
    await db.prisma.agent.update({ where: { id: f.agents.BlueDog!.id }, data: { retiredAt: new Date() } });
    expect((await f.send("GreenLake", ["BlueDog"])).count).toBe(1);
    await f.policy("BlueDog", "block_all");
    expect((await appError(f.send("GreenLake", ["BlueDog"]))).code).toBe("CONTACT_BLOCKED");
  });
});

describe("archive-surface reservations (#24)", () => {
  it("refuse a send to yourself while another agent holds your inbox folder: FILE_RESERVATION_CONFLICT, nothing written", async () => {
    const f = await setup();
    await f.reserve("BlueDog", ["agents/GreenLake/inbox/*/*/*.md"]);
    const before = await db.prisma.message.count();
    const error = await appError(f.send("GreenLake", ["GreenLake"]));
    expect(error.code).toBe("FILE_RESERVATION_CONFLICT");
    expect(error.message).toContain("Conflicting active file_reservations prevent message write.");
    expect(error.data).toMatchObject({ project: f.key, conflicts: [{ holder: "BlueDog", path_pattern: "agents/GreenLake/inbox/*/*/*.md", exclusive: true }] });
    expect(await db.prisma.message.count()).toBe(before);
  });

  it("see a backslash-written archive pattern, and pass a code path that merely contains an archive name", async () => {
    const code = await setup();
    await code.reserve("RedFox", ["docs/agents/GreenLake/**"]);
    expect((await code.send("GreenLake", ["GreenLake"])).count).toBe(1);
    const f = await setup();
    await f.reserve("BlueDog", ["\\agents\\GreenLake\\inbox\\**"]);
    const error = await appError(f.send("GreenLake", ["GreenLake"]));
    expect(error.code).toBe("FILE_RESERVATION_CONFLICT");
    expect(error.data).toMatchObject({ conflicts: [{ holder: "BlueDog" }] });
  });

  it("block a reply whose thread digest another agent holds (even shared), but never for code paths, and not when enforcement is off", async () => {
    const f = await setup();
    await f.policy("BlueDog", "open");
    await f.policy("GreenLake", "open");
    const sent = await f.send("GreenLake", ["BlueDog"], { thread_id: "LOCKED-1" });
    await f.reserve("RedFox", ["messages/threads/LOCKED-1.md"], false);
    await f.reserve("RedFox", ["src/**"]);
    const error = await appError(
      invoke(replyMessage, f.ctx, { project_key: f.key, message_id: sent.deliveries[0]!.payload.id, sender_name: "BlueDog", sender_token: f.agents.BlueDog!.token, body_md: "re" }),
    );
    expect(error.code).toBe("FILE_RESERVATION_CONFLICT");
    expect((await f.send("GreenLake", ["BlueDog"], { thread_id: "FREE-1" })).count).toBe(1);

    const off = { ...f.ctx, config: { ...f.ctx.config, reservations: { ...f.ctx.config.reservations, enforcementEnabled: false } } };
    const reply = await invoke(replyMessage, off, { project_key: f.key, message_id: sent.deliveries[0]!.payload.id, sender_name: "BlueDog", sender_token: f.agents.BlueDog!.token, body_md: "re" });
    expect(reply.count).toBe(1);
  });

  it("check every project of a cross-project send before writing any of them", async () => {
    const f = await setup();
    const other = await projectWithAgents(db, `${f.key}-other`, ["GoldHawk", "SilverOwl"]);
    await invoke(fileReservationPaths, other.ctx, {
      project_key: `${f.key}-other`,
      agent_name: "SilverOwl",
      registration_token: other.agents.SilverOwl!.token,
      paths: ["agents/GoldHawk/**"],
    });
    await f.policy("BlueDog", "open");
    const before = await db.prisma.message.count();
    const error = await appError(f.send("GreenLake", ["BlueDog", `GoldHawk@${other.project.slug}`]));
    expect(error.code).toBe("FILE_RESERVATION_CONFLICT");
    expect(error.data).toMatchObject({ project: `${f.key}-other` });
    expect(await db.prisma.message.count()).toBe(before);
  });
});
