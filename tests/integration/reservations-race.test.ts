import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "@/server/db/client";
import { invoke } from "@/server/operations/invoke";
import { fileReservationPaths } from "@/server/services/reservations/operations";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// Fifty agents race for one exclusive path. On Postgres (TEST_DATABASE_URL) the calls run on
// concurrent pool connections; grants of a project are serialised by its advisory lock, so exactly
// one grant sees no conflict and each later grant lists every holder that committed before it.
// Within one process grants of a project also queue before taking a connection, so the lock's own
// work shows only across clients: the cross-client cases open more pools, as other instances would.

const RACERS = 50;

/** Instances' worth of clients on one Postgres database (each its own pool and grant queue). */
const CLIENTS = 5;
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

let db: Awaited<ReturnType<typeof openTestDatabase>>;
const others: Database[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
  if (db.url) for (let i = 1; i < CLIENTS; i++) others.push(await openDatabase({ url: db.url, poolMax: 4, migrate: false }));
});

afterAll(async () => {
  for (const other of others) await other.close();
  await db?.close();
});

/** Racer i calls through client i % clients (the test database's own client alone on PGlite). */
async function racers(humanKey: string, clients = 1) {
  const names = Array.from({ length: RACERS }, (_, i) => `Racer${i}`);
  const { ctx, agents } = await projectWithAgents(db, humanKey, names);
  const contexts = [ctx, ...others.slice(0, clients - 1).map((other) => ({ ...ctx, db: other.prisma }))];
  const list = names.map((name) => agents[name]!);
  const byId = new Map(list.map((agent) => [agent.id, agent]));
  const race = (extra: Record<string, unknown>) =>
    Promise.all(
      list.map((agent: TestAgent, i) =>
        invoke(fileReservationPaths, contexts[i % contexts.length]!, {
          project_key: humanKey,
          agent_name: agent.name,
          registration_token: agent.token,
          paths: ["src/main.py"],
          ...extra,
        }),
      ),
    );
  return { list, byId, race, ctx, contexts };
}

describe(`${RACERS} agents racing for one exclusive path`, () => {
  it("advisory: one grant without conflicts; every later one lists exactly the earlier holders", async () => {
    const { race } = await racers("/race/advisory");
    const results = await race({});
    const ordered = results.map((result) => ({ id: result.granted[0]!.id, result })).sort((x, y) => x.id - y.id);
    expect(results.filter((result) => result.conflicts.length === 0)).toHaveLength(1);
    const rows = await db.prisma.fileReservation.findMany({ where: { id: { in: ordered.map((entry) => entry.id) } }, include: { agent: true }, orderBy: { id: "asc" } });
    ordered.forEach(({ result }, index) => {
      const earlier = rows.slice(0, index).map((row) => row.agent.name);
      expect(result.conflicts.flatMap((conflict) => conflict.holders.map((holder) => holder.agent))).toEqual(earlier);
    });
  });

  it("lock mode: exactly one grant, every other call refused, one row written", async () => {
    const { race } = await racers("/race/locked");
    const results = await race({ refuse_conflicts: true });
    const winners = results.filter((result) => result.granted.length === 1);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.conflicts).toEqual([]);
    const losers = results.filter((result) => result.refused);
    expect(losers).toHaveLength(RACERS - 1);
    for (const loser of losers) expect(loser.conflicts).toEqual([{ path: "src/main.py", holders: [expect.objectContaining({ path_pattern: "src/main.py", exclusive: true })] }]);
    const project = await db.prisma.project.findFirstOrThrow({ where: { humanKey: "/race/locked" } });
    expect(await db.prisma.fileReservation.count({ where: { projectId: project.id } })).toBe(1);
  });

  it.skipIf(!onPostgres)(`across ${CLIENTS} clients (instances) the advisory lock alone makes one winner, round after round`, async () => {
    const { list, contexts } = await racers("/race/clients", CLIENTS);
    // One racer per client and round, started together: the queues serialise nothing here.
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all(
        contexts.map((context, i) => {
          const agent = list[round * CLIENTS + i]!;
          const input = { project_key: "/race/clients", agent_name: agent.name, registration_token: agent.token, paths: [`src/round${round}.py`], refuse_conflicts: true };
          return invoke(fileReservationPaths, context, input);
        }),
      );
      expect(results.filter((result) => result.granted.length === 1)).toHaveLength(1);
    }
  });
});

describe("idempotency_key under a race", () => {
  it("two calls with the same key at once (through two clients on Postgres): one grant row, the same result twice", async () => {
    const humanKey = "/race/idempotent";
    const { ctx, agents } = await projectWithAgents(db, humanKey, ["BlueLake"]);
    const agent = agents.BlueLake!;
    const second = others[0] ? { ...ctx, db: others[0].prisma } : ctx;
    const call = (context: typeof ctx) =>
      invoke(fileReservationPaths, context, {
        project_key: humanKey,
        agent_name: agent.name,
        registration_token: agent.token,
        paths: ["src/**", "docs/*.md"],
        idempotency_key: "same-key",
      });
    const results = await Promise.all([call(ctx), call(second)]);
    const project = await db.prisma.project.findFirstOrThrow({ where: { humanKey } });
    expect(await db.prisma.fileReservation.count({ where: { projectId: project.id } })).toBe(2);
    expect(results.filter((result) => result.idempotent_replay)).toHaveLength(1);
    const [first, replay] = results.map(({ idempotent_replay: _replay, ...rest }) => rest);
    expect(replay).toEqual(first);
  });
});

describe("the in-process grant queue", () => {
  it.skipIf(!onPostgres)("grants of a project wait without a connection: one waits on the lock, and another project's grant goes through", async () => {
    const queued = await projectWithAgents(db, "/race/queued", ["BlueLake", "GreenCastle", "RedStone", "PinkOwl", "GoldFox", "Grayelk"]);
    const free = await projectWithAgents(db, "/race/free", ["BlueLake"]);
    const project = await db.prisma.project.findFirstOrThrow({ where: { humanKey: "/race/queued" } });
    // Another instance holds the project's grant lock.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query("BEGIN");
    await blocker.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [0x4652, project.id]);
    const waiting = async () =>
      Number(
        (
          await blocker.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND NOT granted", [
            0x4652,
            project.id,
          ])
        ).rows[0].n,
      );
    try {
      const grants = Object.values(queued.agents).map((agent) =>
        invoke(fileReservationPaths, queued.ctx, { project_key: "/race/queued", agent_name: agent.name, registration_token: agent.token, paths: [`own/${agent.name}/**`] }),
      );
      while ((await waiting()) === 0) await sleep(10);
      const other = free.agents.BlueLake!;
      const result = await invoke(fileReservationPaths, free.ctx, { project_key: "/race/free", agent_name: other.name, registration_token: other.token, paths: ["src/**"] });
      expect(result.granted).toHaveLength(1);
      expect(await waiting()).toBe(1);
      await blocker.query("COMMIT");
      expect((await Promise.all(grants)).map((grant) => grant.granted.length)).toEqual([1, 1, 1, 1, 1, 1]);
    } finally {
      await blocker.end();
    }
  });
});
