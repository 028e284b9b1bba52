import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { acquireBuildSlot, releaseBuildSlot, renewBuildSlot } from "@/server/services/build-slots/slots";
import type { ServiceContext } from "@/server/services/context";
import { serviceContext } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// Build slots: advisory leases in the database. TTL floor, conflicts (either side exclusive),
// re-acquire renews the same lease, renew and release, and concurrent acquires seeing each other.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

function slotCall(key: string, agent: TestAgent, extra: Record<string, unknown> = {}) {
  return { project_key: key, agent_name: agent.name, registration_token: agent.token, slot: "build", ...extra };
}

describe("acquire_build_slot", () => {
  it("grants a lease of ttl_seconds, never shorter than 60 s, with no conflicts when the slot is free", async () => {
    const key = "/slots/ttl";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake"]);
    const first = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { ttl_seconds: 5 }));
    expect(first.conflicts).toEqual([]);
    expect(first.granted).toMatchObject({ slot: "build", agent: "GreenLake", branch: null, exclusive: true });
    expect(seconds(first.granted.acquired_ts, first.granted.expires_ts)).toBe(60);
    const other = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { slot: "test", branch: "main" }));
    expect(other.granted.branch).toBe("main");
    expect(seconds(other.granted.acquired_ts, other.granted.expires_ts)).toBe(3600);
  });

  it("lists every other active holder when either side is exclusive; shared leases do not conflict with each other", async () => {
    const key = "/slots/conflicts";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake", "BlueDog", "RedFox", "SilverHawk"]);
    await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { exclusive: false }));
    const sharedToo = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.BlueDog!, { exclusive: false }));
    expect(sharedToo.conflicts).toEqual([]);
    const exclusive = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.RedFox!, { exclusive: true }));
    expect(exclusive.granted.exclusive).toBe(true);
    expect(exclusive.conflicts.map((lease) => [lease.agent, lease.exclusive])).toEqual([
      ["GreenLake", false],
      ["BlueDog", false],
    ]);
    // A shared request now conflicts with the exclusive holder only.
    const shared = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.SilverHawk!, { exclusive: false }));
    expect(shared.conflicts.map((lease) => lease.agent)).toEqual(["RedFox"]);
    // Leases are advisory: every request was granted and recorded.
    expect(await db.prisma.buildSlot.count({ where: { project: { humanKey: key }, releasedTs: null } })).toBe(4);
  });

  it("does not count released or expired leases, the caller's own lease, or other slots and projects", async () => {
    const key = "/slots/inactive";
    const { ctx, agents, project } = await projectWithAgents(db, key, ["GreenLake", "BlueDog", "RedFox"]);
    const elsewhere = await projectWithAgents(db, "/slots/inactive-elsewhere", ["GreenLake"]);
    await invoke(acquireBuildSlot, elsewhere.ctx, slotCall("/slots/inactive-elsewhere", elsewhere.agents.GreenLake!));
    await invoke(acquireBuildSlot, ctx, slotCall(key, agents.BlueDog!));
    await invoke(releaseBuildSlot, ctx, slotCall(key, agents.BlueDog!));
    await db.prisma.buildSlot.create({ data: { projectId: project.id, agentId: agents.RedFox!.id, slot: "build", expiresTs: new Date(Date.now() - 1000) } });
    await invoke(acquireBuildSlot, ctx, slotCall(key, agents.RedFox!, { slot: "other" }));
    await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!));
    const again = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!));
    expect(again.conflicts).toEqual([]);
    // The same agent on another branch is another holder.
    const branch = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { branch: "feature" }));
    expect(branch.conflicts.map((lease) => [lease.agent, lease.branch])).toEqual([["GreenLake", null]]);
  });

  it("re-acquiring renews the same lease: same row, same acquired_ts, expiry never earlier, exclusive updated", async () => {
    const key = "/slots/reacquire";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake"]);
    const first = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { ttl_seconds: 7200 }));
    const second = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { ttl_seconds: 60, exclusive: false }));
    expect(second.granted.acquired_ts).toBe(first.granted.acquired_ts);
    expect(second.granted.expires_ts).toBe(first.granted.expires_ts);
    expect(second.granted.exclusive).toBe(false);
    expect(await db.prisma.buildSlot.count({ where: { project: { humanKey: key } } })).toBe(1);

    await invoke(releaseBuildSlot, ctx, slotCall(key, agents.GreenLake!));
    const revived = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { ttl_seconds: 120 }));
    expect(Date.parse(revived.granted.acquired_ts)).toBeGreaterThanOrEqual(Date.parse(first.granted.acquired_ts));
    expect(seconds(revived.granted.acquired_ts, revived.granted.expires_ts)).toBe(120);
    const rows = await db.prisma.buildSlot.findMany({ where: { project: { humanKey: key } } });
    expect(rows.map((row) => row.releasedTs)).toEqual([null]);
  });

  it("authenticates the agent: a wrong token is refused and nothing is written", async () => {
    const key = "/slots/auth";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake"]);
    const error = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { registration_token: "wrong" })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("AUTHENTICATION_REQUIRED");
    expect(await db.prisma.buildSlot.count({ where: { project: { humanKey: key } } })).toBe(0);
  });

  it("concurrent acquires of one slot are serialised: each sees the holders that came before it", async () => {
    const key = "/slots/race";
    const names = ["GreenLake", "BlueDog", "RedFox", "SilverHawk", "GoldEagle", "TealOwl"];
    const { agents } = await projectWithAgents(db, key, names);
    // Separate contexts, so that on Postgres each acquire runs in its own transaction and connection.
    const contexts: ServiceContext[] = names.map(() => serviceContext(db));
    const results = await Promise.all(names.map((name, index) => invoke(acquireBuildSlot, contexts[index]!, slotCall(key, agents[name]!))));
    expect(results.map((result) => result.conflicts.length).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe("renew_build_slot and release_build_slot", () => {
  it("renew moves an active lease to extend_seconds from now (at least 60, never earlier); a missing or released lease is not renewed", async () => {
    const key = "/slots/renew";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake", "BlueDog"]);
    const acquired = await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!, { ttl_seconds: 60 }));
    const renewed = await invoke(renewBuildSlot, ctx, slotCall(key, agents.GreenLake!, { extend_seconds: 7200 }));
    expect(renewed.renewed).toBe(true);
    expect(seconds(acquired.granted.acquired_ts, renewed.expires_ts!)).toBeGreaterThanOrEqual(7200);
    const shorter = await invoke(renewBuildSlot, ctx, slotCall(key, agents.GreenLake!, { extend_seconds: 1 }));
    expect(shorter).toEqual({ renewed: true, expires_ts: renewed.expires_ts });

    expect(await invoke(renewBuildSlot, ctx, slotCall(key, agents.BlueDog!))).toEqual({ renewed: false, expires_ts: null });
    await invoke(releaseBuildSlot, ctx, slotCall(key, agents.GreenLake!));
    expect(await invoke(renewBuildSlot, ctx, slotCall(key, agents.GreenLake!))).toEqual({ renewed: false, expires_ts: null });
  });

  it("release ends the lease now and keeps the row; releasing again or without a lease releases nothing", async () => {
    const key = "/slots/release";
    const { ctx, agents } = await projectWithAgents(db, key, ["GreenLake", "BlueDog"]);
    await invoke(acquireBuildSlot, ctx, slotCall(key, agents.GreenLake!));
    const released = await invoke(releaseBuildSlot, ctx, slotCall(key, agents.GreenLake!));
    expect(released).toEqual({ released: true, released_at: expect.stringMatching(/\+00:00$/) });
    const row = await db.prisma.buildSlot.findFirstOrThrow({ where: { project: { humanKey: key } } });
    expect(row.releasedTs?.getTime()).toBe(Date.parse(released.released_at!));
    expect(row.expiresTs.getTime()).toBe(row.releasedTs!.getTime());
    expect(await invoke(releaseBuildSlot, ctx, slotCall(key, agents.GreenLake!))).toEqual({ released: false, released_at: null });
    expect(await invoke(releaseBuildSlot, ctx, slotCall(key, agents.BlueDog!))).toEqual({ released: false, released_at: null });
    // A released holder no longer conflicts.
    expect((await invoke(acquireBuildSlot, ctx, slotCall(key, agents.BlueDog!))).conflicts).toEqual([]);
  });
});
