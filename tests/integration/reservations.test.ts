import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invoke } from "@/server/operations/invoke";
import { AppError } from "@/server/errors";
import { sendMessage } from "@/server/services/messages/send";
import { overlappingHolders } from "@/server/services/reservations/overlap";
import { assertNoArchiveSurfaceConflicts } from "@/server/services/reservations/surfaces";
import {
  checkFileReservationConflicts,
  fileReservationPaths,
  fileReservationsResource,
  releaseFileReservations,
  renewFileReservations,
} from "@/server/services/reservations/operations";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { tableDigest } from "../helpers/snapshot";

// File reservations through the operation layer (what MCP and tRPC call): the reference's
// conformance items 20–24 (§13.1), its conflict rule (§4.2) as a matrix, the lock mode,
// idempotency keys, lazy expiry and the archive-surface enforcement (§4.5).

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let counter = 0;

beforeAll(async () => {
  db = await openTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

/** Agent names must look like AdjectiveNoun: the tests call them A, B, C and D. */
const N = { A: "BlueLake", B: "GreenCastle", C: "RedStone", D: "PurpleBear" } as const;
type Key = keyof typeof N;

async function fresh(keys: Key[] = ["A", "B"]) {
  const humanKey = `/reservations/p${++counter}`;
  const registered = await projectWithAgents(db, humanKey, keys.map((key) => N[key]));
  const { ctx, project } = registered;
  const agents: Partial<Record<Key, TestAgent>> = Object.fromEntries(keys.map((key) => [key, registered.agents[N[key]]!]));
  const as = (agent: TestAgent) => ({ project_key: humanKey, agent_name: agent.name, registration_token: agent.token });
  const reserve = (agent: TestAgent, paths: string[], extra: Record<string, unknown> = {}) => invoke(fileReservationPaths, ctx, { ...as(agent), paths, ...extra });
  const list = (activeOnly: boolean) => invoke(fileReservationsResource, ctx, { project_key: humanKey, active_only: activeOnly });
  return { ctx, project, agents, humanKey, as, reserve, list };
}

async function errorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("reservations are advisory (§13.1 item 20)", () => {
  it("grants a conflicting path anyway and names the holder; release leaves the other one active", async () => {
    const { agents, as, reserve, list, ctx } = await fresh();
    const first = await reserve(agents.A!, ["src/app.py"]);
    expect(first.conflicts).toEqual([]);
    const second = await reserve(agents.B!, ["src/app.py"]);
    expect(second.granted).toHaveLength(1);
    expect(second.conflicts).toEqual([
      { path: "src/app.py", holders: [{ agent: N.A, path_pattern: "src/app.py", exclusive: true, expires_ts: first.granted[0]!.expires_ts }] },
    ]);
    expect(await list(true)).toHaveLength(2);

    expect(await invoke(releaseFileReservations, ctx, as(agents.A!))).toMatchObject({ released: 1 });
    const active = await list(true);
    expect(active.map((row) => row.agent)).toEqual([N.B]);
    const all = await list(false);
    expect(all.map((row) => [row.agent, row.released_ts !== null])).toEqual([
      [N.A, true],
      [N.B, false],
    ]);
  });
});

describe("the conflict matrix (§4.2, §13.1 item 21)", () => {
  // [first holder's pattern, first exclusive, second's path, second exclusive, conflict?]
  const cases: [string, boolean, string, boolean, boolean][] = [
    ["src/app.py", false, "src/app.py", false, false],
    ["src/app.py", false, "src/app.py", true, true],
    ["src/app.py", true, "src/app.py", false, true],
    ["src/**", true, "src/main.py", true, true],
    ["app/models/user.py", true, "app/**", true, true],
    ["docs/**", true, "src/**", true, false],
    ["assets/*.png", true, "assets/logo.jpg", true, false],
    ["assets/*.png", true, "assets/logo.png", true, true],
    ["*.md", true, "docs/guide/deep/intro.md", true, true],
    ["docs/guide/intro.md", true, "*.md", true, true],
    ["build/", true, "build/out/app.js", true, true],
    ["build/", true, "build", true, false],
    ["src\\app.py", true, "src/app.py", true, true],
    ["/src/app.py", true, "src/app.py", true, true],
    ["src", true, "src/app.py", true, true],
    ["src/app.py", true, "src", true, false],
    ["tool://deploy", true, "tool://deploy", true, true],
    ["tool://deploy", true, "tool://deploy-staging", true, false],
    ["tool://deploy", true, "**", true, false],
    ["**", true, "service://billing", true, false],
    ["resource://db", true, "resource://db", false, true],
  ];
  for (const [first, firstExclusive, second, secondExclusive, conflict] of cases) {
    it(`${first} (${firstExclusive ? "exclusive" : "shared"}) then ${second} (${secondExclusive ? "exclusive" : "shared"}) → ${conflict ? "conflict" : "none"}`, async () => {
      const { agents, reserve } = await fresh();
      await reserve(agents.A!, [first], { exclusive: firstExclusive });
      const result = await reserve(agents.B!, [second], { exclusive: secondExclusive });
      expect(result.granted).toHaveLength(1);
      expect(result.conflicts).toEqual(conflict ? [{ path: second, holders: [expect.objectContaining({ agent: N.A, path_pattern: first })] }] : []);
    });
  }

  it("an agent's own reservations never conflict with its new ones", async () => {
    const { agents, reserve } = await fresh();
    await reserve(agents.A!, ["src/**"]);
    expect((await reserve(agents.A!, ["src/main.py"])).conflicts).toEqual([]);
  });
});

describe("self re-reservation (§13.1 item 22)", () => {
  it("updates the same row: same id, reason kept, exclusive replaced, expiry never shortened", async () => {
    const { agents, reserve, list } = await fresh();
    const first = await reserve(agents.A!, ["self/**"], { ttl_seconds: 300, reason: "initial hold" });
    const second = await reserve(agents.A!, ["self/**"], { ttl_seconds: 60, exclusive: false });
    expect(second.granted[0]).toMatchObject({ id: first.granted[0]!.id, reason: "initial hold", exclusive: false });
    expect(Date.parse(second.granted[0]!.expires_ts)).toBeGreaterThanOrEqual(Date.parse(first.granted[0]!.expires_ts));
    expect(await list(true)).toHaveLength(1);

    const third = await reserve(agents.A!, ["self/**"], { ttl_seconds: 7200, reason: "longer" });
    expect(third.granted[0]).toMatchObject({ id: first.granted[0]!.id, reason: "longer", exclusive: true });
    expect(Date.parse(third.granted[0]!.expires_ts)).toBeGreaterThan(Date.parse(first.granted[0]!.expires_ts));
  });

  it("the same pattern twice in one call is one reservation", async () => {
    const { agents, reserve, list } = await fresh();
    const result = await reserve(agents.A!, ["x/**", "x/**"]);
    expect(result.granted.map((row) => row.id)).toEqual([result.granted[0]!.id, result.granted[0]!.id]);
    expect(await list(true)).toHaveLength(1);
  });
});

describe("release and renew contracts (§13.1 item 23)", () => {
  it("release without filters releases all of the agent's active reservations, and only its own", async () => {
    const { agents, as, reserve, list, ctx } = await fresh();
    await reserve(agents.A!, ["a/**", "b/**", "tool://x"]);
    await reserve(agents.B!, ["c/**"]);
    expect(await invoke(releaseFileReservations, ctx, as(agents.A!))).toMatchObject({ released: 3 });
    expect((await list(true)).map((row) => row.path_pattern)).toEqual(["c/**"]);
  });

  it("filters by id and by exact pattern", async () => {
    const { agents, as, reserve, list, ctx } = await fresh();
    const { granted } = await reserve(agents.A!, ["a/**", "b/**", "c/**"]);
    expect(await invoke(releaseFileReservations, ctx, { ...as(agents.A!), paths: ["a/**", "a/*"] })).toMatchObject({ released: 1 });
    expect(await invoke(releaseFileReservations, ctx, { ...as(agents.A!), file_reservation_ids: [granted[1]!.id] })).toMatchObject({ released: 1 });
    // Another agent's id is not released by you.
    const other = await reserve(agents.B!, ["z/**"]);
    expect(await invoke(releaseFileReservations, ctx, { ...as(agents.A!), file_reservation_ids: [other.granted[0]!.id] })).toMatchObject({ released: 0 });
    expect((await list(true)).map((row) => row.path_pattern)).toEqual(["c/**", "z/**"]);
  });

  it("empty lists are errors: EMPTY_PATHS, EMPTY_IDS", async () => {
    const { agents, as, reserve, ctx } = await fresh();
    expect((await errorOf(reserve(agents.A!, []))).code).toBe("EMPTY_PATHS");
    expect((await errorOf(invoke(releaseFileReservations, ctx, { ...as(agents.A!), paths: [] }))).code).toBe("EMPTY_PATHS");
    expect((await errorOf(invoke(releaseFileReservations, ctx, { ...as(agents.A!), file_reservation_ids: [] }))).code).toBe("EMPTY_IDS");
    expect((await errorOf(invoke(renewFileReservations, ctx, { ...as(agents.A!), paths: [] }))).code).toBe("EMPTY_PATHS");
    expect((await errorOf(invoke(renewFileReservations, ctx, { ...as(agents.A!), file_reservation_ids: [] }))).code).toBe("EMPTY_IDS");
    expect((await errorOf(invoke(checkFileReservationConflicts, ctx, { ...as(agents.A!), paths: [] }))).code).toBe("EMPTY_PATHS");
  });

  it("a reservation whose TTL passed is not released again (released: 0); ttl_seconds 30 is granted", async () => {
    const { agents, as, reserve, ctx } = await fresh();
    const short = await reserve(agents.A!, ["short/**"], { ttl_seconds: 30 });
    expect(short.granted).toHaveLength(1);
    await db.prisma.fileReservation.update({ where: { id: short.granted[0]!.id }, data: { expiresTs: new Date(Date.now() - 1000) } });
    expect(await invoke(releaseFileReservations, ctx, as(agents.A!))).toMatchObject({ released: 0 });
  });

  it("renew sets max(now, old) + max(60, extend_seconds)", async () => {
    const { agents, as, reserve, ctx } = await fresh();
    const { granted } = await reserve(agents.A!, ["r/**", "s/**"], { ttl_seconds: 3600 });
    const renewed = await invoke(renewFileReservations, ctx, { ...as(agents.A!), extend_seconds: 600, paths: ["r/**"] });
    expect(renewed.renewed).toBe(1);
    const [item] = renewed.file_reservations;
    expect(item).toMatchObject({ id: granted[0]!.id, path_pattern: "r/**", old_expires_ts: granted[0]!.expires_ts });
    expect(Date.parse(item!.new_expires_ts) - Date.parse(item!.old_expires_ts)).toBe(600_000);

    // Below the minimum, 60 s is applied.
    const small = await invoke(renewFileReservations, ctx, { ...as(agents.A!), extend_seconds: 5, file_reservation_ids: [granted[1]!.id] });
    expect(Date.parse(small.file_reservations[0]!.new_expires_ts) - Date.parse(small.file_reservations[0]!.old_expires_ts)).toBe(60_000);

    // An expiry already in the past is not renewed (it is released first).
    await db.prisma.fileReservation.update({ where: { id: granted[0]!.id }, data: { expiresTs: new Date(Date.now() - 1000) } });
    const after = await invoke(renewFileReservations, ctx, { ...as(agents.A!), extend_seconds: 600 });
    expect(after.file_reservations.map((row) => row.id)).toEqual([granted[1]!.id]);
    expect(await invoke(renewFileReservations, ctx, { ...as(agents.B!) })).toEqual({ renewed: 0, file_reservations: [] });
  });
});

describe("lock mode: refuse_conflicts", () => {
  it("grants nothing when any path conflicts, says so, and writes nothing", async () => {
    const { agents, reserve, list } = await fresh();
    await reserve(agents.A!, ["src/**"]);
    const before = await tableDigest(db);
    const refused = await reserve(agents.B!, ["docs/**", "src/main.py"], { refuse_conflicts: true });
    expect(refused).toEqual({ granted: [], conflicts: [{ path: "src/main.py", holders: [expect.objectContaining({ agent: N.A, path_pattern: "src/**" })] }], refused: true });
    expect(await tableDigest(db)).toEqual(before);
    expect((await list(true)).map((row) => row.agent)).toEqual([N.A]);
  });

  it("grants normally when nothing conflicts (shared vs shared included)", async () => {
    const { agents, reserve } = await fresh();
    await reserve(agents.A!, ["src/**"], { exclusive: false });
    const result = await reserve(agents.B!, ["src/main.py", "docs/**"], { refuse_conflicts: true, exclusive: false });
    expect(result.granted).toHaveLength(2);
    expect(result).not.toHaveProperty("refused");
  });
});

describe("idempotency_key", () => {
  it("a retry returns the first result and writes nothing", async () => {
    const { agents, reserve } = await fresh();
    const first = await reserve(agents.A!, ["idem/**"], { idempotency_key: "k-1", ttl_seconds: 600 });
    const before = await tableDigest(db);
    const retry = await reserve(agents.A!, ["idem/**", "other/**"], { idempotency_key: "k-1", ttl_seconds: 9999 });
    expect(retry).toEqual({ ...first, idempotent_replay: true });
    expect(await tableDigest(db)).toEqual(before);
  });

  it("a refused result is replayed too, and another agent's key is its own", async () => {
    const { agents, reserve } = await fresh();
    await reserve(agents.A!, ["k/**"]);
    const refused = await reserve(agents.B!, ["k/x"], { refuse_conflicts: true, idempotency_key: "same" });
    expect(refused.refused).toBe(true);
    expect(await reserve(agents.B!, ["k/x"], { refuse_conflicts: true, idempotency_key: "same" })).toEqual({ ...refused, idempotent_replay: true });
    expect((await reserve(agents.A!, ["k/x"], { idempotency_key: "same" })).granted).toHaveLength(1);
  });

  it("a key already used by send_message is refused, naming the field", async () => {
    const { agents, reserve, ctx, humanKey } = await fresh();
    await invoke(sendMessage, ctx, { project_key: humanKey, sender_name: N.A, sender_token: agents.A!.token, to: [N.B], subject: "s", body_md: "b", idempotency_key: "used" });
    const error = await errorOf(reserve(agents.A!, ["p/**"], { idempotency_key: "used" }));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.data).toMatchObject({ field: "idempotency_key" });
  });
});

describe("check_file_reservation_conflicts (dry run)", () => {
  it("reports what a grant would, and writes nothing", async () => {
    const { agents, as, reserve, ctx } = await fresh();
    await reserve(agents.A!, ["src/**", "tool://deploy"]);
    const before = await tableDigest(db);
    const result = await invoke(checkFileReservationConflicts, ctx, { ...as(agents.B!), paths: ["src/a.py", "docs/x.md", "tool://deploy"] });
    expect(result.would_conflict).toBe(true);
    expect(result.conflicts.map((conflict) => [conflict.path, conflict.holders.map((holder) => holder.path_pattern)])).toEqual([
      ["src/a.py", ["src/**"]],
      ["tool://deploy", ["tool://deploy"]],
    ]);
    expect(await invoke(checkFileReservationConflicts, ctx, { ...as(agents.A!), paths: ["src/a.py"] })).toEqual({ conflicts: [], would_conflict: false });
    expect(await tableDigest(db)).toEqual(before);
  });
});

describe("lazy expiry", () => {
  it("a reservation past its TTL is released by the next grant and no longer conflicts", async () => {
    const { agents, reserve, list } = await fresh();
    const old = await reserve(agents.A!, ["lazy/**"]);
    await db.prisma.fileReservation.update({ where: { id: old.granted[0]!.id }, data: { expiresTs: new Date(Date.now() - 1000) } });
    const result = await reserve(agents.B!, ["lazy/x"]);
    expect(result.conflicts).toEqual([]);
    const row = await db.prisma.fileReservation.findUniqueOrThrow({ where: { id: old.granted[0]!.id } });
    expect(row.releasedTs).not.toBeNull();
    expect((await list(false)).find((entry) => entry.id === row.id)?.released_ts).not.toBeNull();
  });
});

describe("archive surfaces block message writes (§4.5, §13.1 item 24)", () => {
  async function surfaceSetup() {
    const setup = await fresh(["A", "B", "C"]);
    const check = (overrides: Partial<Parameters<typeof assertNoArchiveSurfaceConflicts>[1]> = {}) =>
      assertNoArchiveSurfaceConflicts(db.prisma, {
        projectId: setup.project.id,
        senderId: setup.agents.A!.id,
        senderName: N.A,
        recipientNames: [N.A],
        threadId: null,
        hasAttachments: false,
        ...overrides,
      });
    return { ...setup, check };
  }

  it("another agent's reservation of the recipient's inbox refuses the write with the reference's error", async () => {
    const { agents, reserve, check, humanKey } = await surfaceSetup();
    const held = await reserve(agents.B!, [`agents/${N.A}/inbox/*/*/*.md`]);
    const error = await errorOf(check());
    expect(error.code).toBe("FILE_RESERVATION_CONFLICT");
    expect(error.message).toBe("Conflicting active file_reservations prevent message write.");
    const now = new Date();
    const month = `${now.getUTCFullYear()}/${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
    expect(error.data).toEqual({
      conflicts: [{ surface: `agents/${N.A}/inbox/${month}/*.md`, holder: N.B, path_pattern: `agents/${N.A}/inbox/*/*/*.md`, exclusive: true, expires_ts: held.granted[0]!.expires_ts }],
      project: humanKey,
    });
  });

  it("shared reservations block too; one's own, code paths and released ones do not", async () => {
    const { agents, as, reserve, check, ctx } = await surfaceSetup();
    await reserve(agents.A!, [`agents/${N.A}/**`]);
    await reserve(agents.B!, ["src/**", "**/*.md"]);
    await expect(check()).resolves.toBeUndefined();
    await reserve(agents.C!, ["messages/**"], { exclusive: false });
    expect((await errorOf(check())).data?.conflicts).toEqual([expect.objectContaining({ surface: expect.stringMatching(/^messages\/\d{4}\/\d{2}\/\*\.md$/), holder: N.C, exclusive: false })]);
    await invoke(releaseFileReservations, ctx, as(agents.C!));
    await expect(check()).resolves.toBeUndefined();
  });

  it("covers the sender's outbox, the thread file and attachments (only when there are any)", async () => {
    const { agents, reserve, check } = await surfaceSetup();
    await reserve(agents.B!, [`agents/${N.A}/outbox/**`, "messages/threads/T-1.md", "attachments/**"]);
    const surfaces = async (overrides: Parameters<typeof check>[0]) => ((await errorOf(check(overrides))).data?.conflicts as { surface: string }[]).map((c) => c.surface);
    expect(await surfaces({ recipientNames: [N.C] })).toEqual([expect.stringMatching(new RegExp(`^agents/${N.A}/outbox/`))]);
    expect(await surfaces({ recipientNames: [N.C], threadId: "T-1", hasAttachments: true })).toEqual([
      expect.stringMatching(new RegExp(`^agents/${N.A}/outbox/`)),
      "messages/threads/T-1.md",
      "attachments/**",
    ]);
    await expect(check({ senderId: agents.B!.id, senderName: N.B, recipientNames: [N.C], threadId: "T-1", hasAttachments: true })).resolves.toBeUndefined();
  });
});

describe("overlappingHolders (contact auto-allow, §13.1 item 18)", () => {
  it("finds recipients whose active reservations overlap the sender's", async () => {
    const { agents, reserve, project } = await fresh(["A", "B", "C", "D"]);
    await reserve(agents.A!, ["src/*"]);
    await reserve(agents.B!, ["src/app.py"]);
    await reserve(agents.C!, ["docs/**"]);
    const ids = [agents.B!.id, agents.C!.id, agents.D!.id];
    expect(await overlappingHolders(db.prisma, project.id, agents.A!.id, ids)).toEqual(new Set([agents.B!.id]));
    expect(await overlappingHolders(db.prisma, project.id, agents.D!.id, ids)).toEqual(new Set());
  });
});
