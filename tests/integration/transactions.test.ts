import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTransaction } from "@/server/services/context";
import { openTestDatabase } from "../helpers/database";
import { serviceContext } from "../helpers/context";

// withTransaction: what a service writes through ctx.db inside it commits together or not at all,
// on both databases, and nested calls join the open transaction instead of opening another.

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const count = (prefix: string) => db.prisma.project.count({ where: { humanKey: { startsWith: prefix } } });

describe("withTransaction", () => {
  it("commits every write of the function together", async () => {
    const ctx = serviceContext(db);
    await withTransaction(ctx, async (tx) => {
      await tx.db.project.create({ data: { slug: "tx-commit-a", humanKey: "/tx/commit/a" } });
      await tx.db.project.create({ data: { slug: "tx-commit-b", humanKey: "/tx/commit/b" } });
    });
    expect(await count("/tx/commit/")).toBe(2);
  });

  it("rolls every write back when the function throws, including those of nested calls", async () => {
    const ctx = serviceContext(db);
    const failure = withTransaction(ctx, async (tx) => {
      await tx.db.project.create({ data: { slug: "tx-rollback-a", humanKey: "/tx/rollback/a" } });
      await withTransaction(tx, async (nested) => {
        expect(nested.db).toBe(tx.db);
        await nested.db.project.create({ data: { slug: "tx-rollback-b", humanKey: "/tx/rollback/b" } });
      });
      expect(await tx.db.project.count({ where: { humanKey: { startsWith: "/tx/rollback/" } } })).toBe(2);
      throw new Error("half-way");
    });
    await expect(failure).rejects.toThrow("half-way");
    expect(await count("/tx/rollback/")).toBe(0);
  });
});
