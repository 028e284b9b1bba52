import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "@/server/db/client";
import { runDueJobs, startJobRunner, type Job } from "@/server/jobs/runner";
import { scheduledJobs } from "@/server/jobs/scheduled";
import { retireStaleAgents } from "@/server/services/lifecycle/auto-retire";
import type { JobsConfig } from "@/server/services/context";
import { OVERSEER_NAME } from "@/server/services/messages/overseer";
import { testConfig } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// The periodic job runner: a job runs once per period across every instance sharing the
// database (two runners with different owners, on Postgres over two separate clients), failures
// are recorded and do not stop other jobs, and the auto-retire job retires only stale agents.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
/** A second "instance": its own client and pool on Postgres; PGlite in memory has only one. */
let other: Database;
beforeAll(async () => {
  db = await openTestDatabase();
  other = db.url ? await openDatabase({ url: db.url, poolMax: 4, migrate: false }) : db;
});
afterAll(async () => {
  if (other !== db) await other?.close();
  await db?.close();
});

const MINUTE = 60_000;

function countingJob(name: string, intervalMs = MINUTE): Job & { calls: string[] } {
  const calls: string[] = [];
  return {
    name,
    intervalMs,
    calls,
    async run(_db, now) {
      calls.push(now.toISOString());
      return { n: calls.length };
    },
  };
}

/** The test configuration with only the given jobs on. */
function config(jobs: Partial<JobsConfig>) {
  return { ...testConfig, jobs: { autoRetire: { ...testConfig.jobs.autoRetire, enabled: false }, reservationCleanup: { enabled: false, intervalSeconds: 60 }, ...jobs } };
}

const jobRow = (name: string) => db.prisma.scheduledJob.findUniqueOrThrow({ where: { name } });

describe("runDueJobs", () => {
  it("runs a job when due, not again within its period, and again once the period has passed; the row records it", async () => {
    const job = countingJob("count-once");
    const start = new Date("2030-01-01T00:00:00Z");
    expect((await runDueJobs(db.prisma, "a", [job], start)).map((run) => run.run)).toEqual([1]);
    expect(await runDueJobs(db.prisma, "a", [job], new Date(start.getTime() + MINUTE - 1))).toEqual([]);
    expect(await runDueJobs(db.prisma, "b", [job], new Date(start.getTime() + MINUTE - 1))).toEqual([]);
    const later = await runDueJobs(db.prisma, "b", [job], new Date(start.getTime() + MINUTE));
    expect(later).toEqual([{ name: "count-once", run: 2, result: { ok: true, n: 2 } }]);
    expect(job.calls).toHaveLength(2);
    const row = await jobRow("count-once");
    expect(row).toMatchObject({ runs: 2, lastOwner: "b", lastResult: { ok: true, n: 2 } });
    expect(row.lastRunAt?.toISOString()).toBe("2030-01-01T00:01:00.000Z");
    expect(row.nextRunAt.toISOString()).toBe("2030-01-01T00:02:00.000Z");
  });

  it("two instances ticking together run each period's job once", async () => {
    const job = countingJob("count-race");
    const start = Date.parse("2030-02-01T00:00:00Z");
    for (let period = 0; period < 10; period += 1) {
      const now = new Date(start + period * MINUTE);
      const ticks = await Promise.all([
        runDueJobs(db.prisma, "instance-a", [job], now),
        runDueJobs(other.prisma, "instance-b", [job], now),
        runDueJobs(db.prisma, "instance-a", [job], now),
        runDueJobs(other.prisma, "instance-b", [job], now),
      ]);
      expect(ticks.flat().map((run) => run.run)).toEqual([period + 1]);
    }
    expect(job.calls).toHaveLength(10);
    expect((await jobRow("count-race")).runs).toBe(10);
  });

  it("on the database clock too: instances claiming at once run the job once", async () => {
    const job = countingJob("count-db-clock", 3600_000);
    const ticks = await Promise.all([0, 1, 2, 3].map((index) => runDueJobs(index % 2 ? other.prisma : db.prisma, `i${index}`, [job])));
    expect(ticks.flat()).toHaveLength(1);
    expect(job.calls).toHaveLength(1);
    expect(await runDueJobs(db.prisma, "late", [job])).toEqual([]);
  });

  it("records a failing job's error, still runs the others, and tries the failed job again next period", async () => {
    let fail = true;
    const broken: Job = {
      name: "broken",
      intervalMs: MINUTE,
      async run() {
        if (fail) throw new Error("disk on fire\n    at secret/stack/frame.ts:1");
        return { fixed: true };
      },
    };
    const fine = countingJob("fine-neighbour");
    const start = Date.parse("2030-03-01T00:00:00Z");
    const runs = await runDueJobs(db.prisma, "a", [broken, fine], new Date(start));
    expect(runs).toEqual([
      { name: "broken", run: 1, result: { ok: false, error: "disk on fire" } },
      { name: "fine-neighbour", run: 1, result: { ok: true, n: 1 } },
    ]);
    expect((await jobRow("broken")).lastResult).toEqual({ ok: false, error: "disk on fire" });
    fail = false;
    const retry = await runDueJobs(db.prisma, "a", [broken], new Date(start + MINUTE));
    expect(retry).toEqual([{ name: "broken", run: 2, result: { ok: true, fixed: true } }]);
  });
});

describe("startJobRunner", () => {
  it("ticks at once and stops cleanly, waiting for the tick under way", async () => {
    const job = countingJob("runner-tick", 3600_000);
    const runner = startJobRunner(db.prisma, [job], "runner-test");
    await runner.stop();
    expect(job.calls).toHaveLength(1);
    expect(await jobRow("runner-tick")).toMatchObject({ runs: 1, lastOwner: "runner-test", lastResult: { ok: true, n: 1 } });
  });
});

describe("the auto-retire job", () => {
  it("retires agents silent for longer than the threshold, except HumanOverseer, once per interval", async () => {
    const key = "/jobs/auto-retire";
    const { project } = await projectWithAgents(db, key, ["GreenLake", "BlueDog", "RedFox"]);
    await db.prisma.agent.create({ data: { projectId: project.id, name: OVERSEER_NAME, nameKey: OVERSEER_NAME.toLowerCase(), program: "WebUI", model: "Human" } });
    const now = new Date("2030-04-01T12:00:00Z");
    const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);
    const setActive = (name: string, at: Date) => db.prisma.agent.updateMany({ where: { projectId: project.id, name }, data: { lastActiveTs: at } });
    await setActive("GreenLake", ago(7200));
    await setActive("BlueDog", ago(3599));
    await setActive("RedFox", ago(10));
    await setActive(OVERSEER_NAME, ago(86_400 * 30));

    const jobs = scheduledJobs(config({ autoRetire: { enabled: true, intervalSeconds: 600, thresholdSeconds: 3600 } }));
    expect(jobs.map((job) => job.name)).toEqual(["auto-retire"]);
    const [run] = await runDueJobs(db.prisma, "a", jobs, now);
    expect(run?.result).toEqual({ ok: true, retired: 1 });
    const retired = await db.prisma.agent.findMany({ where: { projectId: project.id, retiredAt: { not: null } }, select: { name: true, retiredAt: true } });
    expect(retired).toEqual([{ name: "GreenLake", retiredAt: now }]);
    // Within the interval nothing runs, even though BlueDog has become stale meanwhile.
    expect(await runDueJobs(db.prisma, "b", jobs, new Date(now.getTime() + 300_000))).toEqual([]);
    const [next] = await runDueJobs(db.prisma, "b", jobs, new Date(now.getTime() + 600_000));
    expect(next?.result).toEqual({ ok: true, retired: 1 });
  });

  it("never uses a threshold under 60 s, and is off when disabled", async () => {
    const key = "/jobs/auto-retire-floor";
    const { project } = await projectWithAgents(db, key, ["GreenLake"]);
    // Real time: the other tests' agents are active now or in 2030, so none of them is stale here.
    const now = new Date();
    await db.prisma.agent.updateMany({ where: { projectId: project.id }, data: { lastActiveTs: new Date(now.getTime() - 59_000) } });
    const greenRetired = async () => (await db.prisma.agent.findFirstOrThrow({ where: { projectId: project.id } })).retiredAt;
    await retireStaleAgents(db.prisma, 1, now);
    expect(await greenRetired()).toBeNull();
    await retireStaleAgents(db.prisma, 1, new Date(now.getTime() + 2000));
    expect(await greenRetired()).toEqual(new Date(now.getTime() + 2000));
    expect(scheduledJobs(config({ autoRetire: { enabled: false, intervalSeconds: 600, thresholdSeconds: 3600 } }))).toEqual([]);
  });
});

describe("the file-reservation sweep job", () => {
  it("releases expired reservations once per interval", async () => {
    const { project, agents } = await projectWithAgents(db, "/jobs/sweep", ["GreenLake"]);
    const now = new Date();
    const reservation = await db.prisma.fileReservation.create({
      data: { projectId: project.id, agentId: agents.GreenLake!.id, pathPattern: "src/**", expiresTs: new Date(now.getTime() - 1000) },
    });
    const jobs = scheduledJobs(config({ reservationCleanup: { enabled: true, intervalSeconds: 60 } }));
    expect(jobs.map((job) => job.name)).toEqual(["file-reservation-sweep"]);
    const [run] = await runDueJobs(db.prisma, "a", jobs, now);
    expect(run?.result).toMatchObject({ ok: true, released: 1 });
    expect((await db.prisma.fileReservation.findUniqueOrThrow({ where: { id: reservation.id } })).releasedTs).not.toBeNull();
    expect(await runDueJobs(db.prisma, "b", jobs, new Date(now.getTime() + 59_000))).toEqual([]);
  });
});
