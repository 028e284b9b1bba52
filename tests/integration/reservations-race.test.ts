import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invoke } from "@/server/operations/invoke";
import { fileReservationPaths } from "@/server/services/reservations/operations";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// Fifty agents race for one exclusive path. On Postgres (TEST_DATABASE_URL) the calls run on
// concurrent pool connections; grants of a project are serialised by its advisory lock, so exactly
// one grant sees no conflict and each later grant lists every holder that committed before it.

const RACERS = 50;

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

async function racers(humanKey: string) {
  const names = Array.from({ length: RACERS }, (_, i) => `Racer${i}`);
  const { ctx, agents } = await projectWithAgents(db, humanKey, names);
  const list = names.map((name) => agents[name]!);
  const byId = new Map(list.map((agent) => [agent.id, agent]));
  const race = (extra: Record<string, unknown>) =>
    Promise.all(
      list.map((agent: TestAgent) =>
        invoke(fileReservationPaths, ctx, { project_key: humanKey, agent_name: agent.name, registration_token: agent.token, paths: ["src/main.py"], ...extra }),
      ),
    );
  return { list, byId, race };
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
});
