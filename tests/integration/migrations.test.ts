import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filters, openSchemaEngine, projectFiles } from "../../scripts/lib/schema-engine.mts";
import { readMigrations } from "@/server/db/migrate";
import { openTestDatabase } from "../helpers/database";

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db.close();
});

describe("migration runner", () => {
  it("records every migration the way Prisma Migrate does", async () => {
    const rows = await db.prisma.$queryRawUnsafe<{ migration_name: string; checksum: string; applied_steps_count: number; finished_at: Date | null }[]>(
      `SELECT migration_name, checksum, applied_steps_count, finished_at FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    const files = readMigrations();
    expect(rows.map((row) => row.migration_name)).toEqual(files.map((file) => file.name));
    expect(rows.map((row) => row.checksum)).toEqual(files.map((file) => file.checksum));
    expect(rows.every((row) => row.applied_steps_count === 1 && row.finished_at !== null)).toBe(true);
  });

  it("is seen as fully applied by Prisma's own schema engine (what `prisma migrate deploy` runs)", async () => {
    const adapter = db.pglite ? new PrismaPGlite(db.pglite) : new PrismaPg({ connectionString: db.url! });
    const engine = await openSchemaEngine(adapter);
    const { migrationsList } = projectFiles();
    const output = await engine.applyMigrations({ migrationsList, filters });
    expect(output.appliedMigrationNames).toEqual([]);
  });

  it("applies nothing the second time", async () => {
    const report = await db.migrate();
    expect(report.applied).toEqual([]);
    expect(report.alreadyApplied).toBe(readMigrations().length);
  });

  it("rolls a failing migration back whole and records nothing", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mailroom-migrations-"));
    mkdirSync(path.join(dir, "99990101000000_broken"));
    writeFileSync(
      path.join(dir, "99990101000000_broken", "migration.sql"),
      `CREATE TABLE "half_done" (id int);\nALTER TABLE "no_such_table" ADD COLUMN x int;\n`,
    );
    const migrations = [...readMigrations(), ...readMigrations(dir)];
    await expect(db.migrate(migrations)).rejects.toThrow(/99990101000000_broken failed/);
    const leftovers = await db.prisma.$queryRawUnsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'half_done'`,
    );
    expect(leftovers[0]!.n).toBe(0);
    const recorded = await db.prisma.$queryRawUnsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE migration_name = '99990101000000_broken'`,
    );
    expect(recorded[0]!.n).toBe(0);
  });
});
