import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { RESERVATION_TTL_MAX_SECONDS } from "@/server/schemas/reservations";
import { macroFileReservationCycle } from "@/server/services/macros/reservation-cycle";
import { fetchInbox } from "@/server/services/messages/inbox";
import { sendMessage } from "@/server/services/messages/send";
import { RESERVATIONS_PER_AGENT_MAX, RESERVATIONS_PER_PROJECT_MAX } from "@/server/services/reservations/grant";
import { PATTERN_ANY_DEPTH_MAX, PATTERN_SEGMENTS_MAX } from "@/server/services/reservations/match";
import { fileReservationPaths, forceReleaseFileReservation, renewFileReservations } from "@/server/services/reservations/operations";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// The bounds of file reservations: what one pattern may hold, how many reservations an agent and
// a project may have, how long a lease may run; and the force-release notice under contact rules.

const LONG_AGO = new Date(Date.now() - 3 * 3600_000);
const DAY_MS = 86_400_000;

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let counter = 0;

beforeAll(async () => {
  db = await openTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

async function fresh() {
  const humanKey = `/reservations-bounds/p${++counter}`;
  const { ctx, project, agents } = await projectWithAgents(db, humanKey, ["BlueLake", "GreenCastle"]);
  const [a, b] = [agents.BlueLake!, agents.GreenCastle!] as [TestAgent, TestAgent];
  const as = (agent: TestAgent) => ({ project_key: humanKey, agent_name: agent.name, registration_token: agent.token });
  const reserve = (agent: TestAgent, paths: string[], extra: Record<string, unknown> = {}) => invoke(fileReservationPaths, ctx, { ...as(agent), paths, ...extra });
  return { ctx, project, a, b, as, reserve, humanKey };
}

async function errorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("one pattern", () => {
  it(`at most ${PATTERN_SEGMENTS_MAX} segments, named by field and rule`, async () => {
    const { a, reserve } = await fresh();
    const deepest = Array.from({ length: PATTERN_SEGMENTS_MAX }, (_, i) => `d${i}`).join("/");
    expect((await reserve(a, [deepest])).granted).toHaveLength(1);
    const error = await errorOf(reserve(a, ["src/ok", `${deepest}/x`]));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain(`paths.1: must have at most ${PATTERN_SEGMENTS_MAX} '/'-separated segments`);
    expect(error.data).toEqual({ field: "paths.1" });
  });

  it(`at most ${PATTERN_ANY_DEPTH_MAX} ** segments`, async () => {
    const { a, reserve } = await fresh();
    const most = `${"**/a/".repeat(PATTERN_ANY_DEPTH_MAX)}c`;
    expect((await reserve(a, [most])).granted).toHaveLength(1);
    const error = await errorOf(reserve(a, [`**/${most}`]));
    expect(error.message).toContain(`paths.0: must have at most ${PATTERN_ANY_DEPTH_MAX} '**' segments`);
  });

  it("the macros refuse the same patterns and TTLs under their own field names", async () => {
    const { ctx, a, as } = await fresh();
    const deep = Array.from({ length: PATTERN_SEGMENTS_MAX + 1 }, () => "d").join("/");
    const pattern = await errorOf(invoke(macroFileReservationCycle, ctx, { ...as(a), paths: [deep] }));
    expect(pattern.message).toContain("Invalid arguments for macro_file_reservation_cycle: paths.0: must have at most");
    const ttl = await errorOf(invoke(macroFileReservationCycle, ctx, { ...as(a), paths: ["src/**"], ttl_seconds: RESERVATION_TTL_MAX_SECONDS + 1 }));
    expect(ttl.message).toContain(`ttl_seconds: must be at most ${RESERVATION_TTL_MAX_SECONDS} (30 days)`);
  });
});

describe("how many", () => {
  it(`an agent holds at most ${RESERVATIONS_PER_AGENT_MAX} active reservations; re-reserving its own patterns still works`, async () => {
    const { a, b, reserve } = await fresh();
    const batch = 250;
    for (let start = 0; start < RESERVATIONS_PER_AGENT_MAX; start += batch) {
      await reserve(a, Array.from({ length: batch }, (_, i) => `many/${start + i}`));
    }
    const error = await errorOf(reserve(a, ["many/0", "one-more/**"]));
    expect(error.code).toBe("RESERVATION_LIMIT");
    expect(error.message).toBe(`At most ${RESERVATIONS_PER_AGENT_MAX} active file reservations per agent: agent '${a.name}' holds ${RESERVATIONS_PER_AGENT_MAX} and this call adds 1. Release some first.`);
    expect(error.data).toEqual({ field: "paths", limit: RESERVATIONS_PER_AGENT_MAX, held: RESERVATIONS_PER_AGENT_MAX, adding: 1 });
    expect((await reserve(a, ["many/0", "many/1"])).granted).toHaveLength(2);
    // Another agent is not limited by a's reservations.
    expect((await reserve(b, ["other/**"])).granted).toHaveLength(1);
  });

  it(`a project holds at most ${RESERVATIONS_PER_PROJECT_MAX}`, async () => {
    const { project, a, b, reserve } = await fresh();
    const expiresTs = new Date(Date.now() + DAY_MS);
    await db.prisma.fileReservation.createMany({
      data: Array.from({ length: RESERVATIONS_PER_PROJECT_MAX - 1 }, (_, i) => ({ projectId: project.id, agentId: b.id, pathPattern: `filled/${i}`, expiresTs })),
    });
    expect((await reserve(a, ["last/**"])).granted).toHaveLength(1);
    const error = await errorOf(reserve(a, ["past/**"]));
    expect(error.code).toBe("RESERVATION_LIMIT");
    expect(error.message).toContain(`At most ${RESERVATIONS_PER_PROJECT_MAX} active file reservations per project:`);
    expect(await db.prisma.fileReservation.count({ where: { projectId: project.id, pathPattern: "past/**" } })).toBe(0);
  });
});

describe("how long", () => {
  it("ttl_seconds and extend_seconds are at most 30 days", async () => {
    const { a, as, ctx, reserve } = await fresh();
    const grant = await errorOf(reserve(a, ["src/**"], { ttl_seconds: RESERVATION_TTL_MAX_SECONDS + 1 }));
    expect(grant.message).toContain(`ttl_seconds: must be at most ${RESERVATION_TTL_MAX_SECONDS} (30 days)`);
    const renew = await errorOf(invoke(renewFileReservations, ctx, { ...as(a), extend_seconds: RESERVATION_TTL_MAX_SECONDS + 1 }));
    expect(renew.message).toContain(`extend_seconds: must be at most ${RESERVATION_TTL_MAX_SECONDS} (30 days)`);
  });

  it("a renew never takes a reservation past 30 days from now, and says so", async () => {
    const { a, as, ctx, reserve } = await fresh();
    await reserve(a, ["src/**"], { ttl_seconds: RESERVATION_TTL_MAX_SECONDS });
    for (let i = 0; i < 3; i++) {
      const before = Date.now();
      const { file_reservations } = await invoke(renewFileReservations, ctx, { ...as(a), extend_seconds: RESERVATION_TTL_MAX_SECONDS });
      const after = Date.now();
      expect(file_reservations).toEqual([expect.objectContaining({ path_pattern: "src/**", capped: true })]);
      const expires = Date.parse(file_reservations[0]!.new_expires_ts);
      expect(expires).toBeGreaterThanOrEqual(before + RESERVATION_TTL_MAX_SECONDS * 1000);
      expect(expires).toBeLessThanOrEqual(after + RESERVATION_TTL_MAX_SECONDS * 1000);
    }
  });

  it("a renew within the cap is not marked", async () => {
    const { a, as, ctx, reserve } = await fresh();
    await reserve(a, ["src/**"], { ttl_seconds: 3600 });
    const { file_reservations } = await invoke(renewFileReservations, ctx, { ...as(a), extend_seconds: 600 });
    expect(Object.keys(file_reservations[0]!)).toEqual(["id", "path_pattern", "old_expires_ts", "new_expires_ts"]);
  });
});

describe("the force-release notice follows the holder's contact policy", () => {
  async function staleHolder(policy: string) {
    const setup = await fresh();
    const { b, reserve } = setup;
    const { granted } = await reserve(b, ["src/**"]);
    await db.prisma.agent.update({ where: { id: b.id }, data: { lastActiveTs: LONG_AGO, contactPolicy: policy } });
    const force = () => invoke(forceReleaseFileReservation, setup.ctx, { ...setup.as(setup.a), file_reservation_id: granted[0]!.id });
    const inbox = () => invoke(fetchInbox, setup.ctx, { ...setup.as(b), include_bodies: false });
    return { ...setup, force, inbox };
  }

  it("block_all: released, not mailed, and the refusal is the notification_error", async () => {
    const { force, inbox } = await staleHolder("block_all");
    const result = await force();
    expect(result.released).toBe(1);
    expect(result.reservation).toMatchObject({ notified: false, notification_error: expect.stringContaining("not accepting messages") });
    expect(await inbox()).toEqual([]);
  });

  it("auto without earlier contact: refused without a contact request, so it opens nothing for later mail", async () => {
    const { force, inbox, ctx, a, b, humanKey } = await staleHolder("auto");
    const result = await force();
    expect(result.released).toBe(1);
    expect(result.reservation).toMatchObject({ notified: false, notification_error: expect.stringContaining("Contact approval required") });
    expect(await inbox()).toEqual([]);
    const later = await errorOf(invoke(sendMessage, ctx, { project_key: humanKey, sender_name: a.name, sender_token: a.token, to: [b.name], subject: "x", body_md: "x" }));
    expect(later.code).toBe("CONTACT_REQUIRED");
    expect(later.data?.auto_contact_requested).toEqual([b.name]);
  });
});
