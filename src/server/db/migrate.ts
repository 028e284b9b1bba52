import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

// Applies prisma/migrations/*/migration.sql in order and records each in `_prisma_migrations`
// exactly as Prisma Migrate does (same table, same sha256 checksum), so `prisma migrate deploy` on
// a machine with internet sees them as applied. It runs under Prisma's own advisory-lock key, so
// instances starting together (or a concurrent `prisma migrate deploy`) apply each migration once.

/** The few statements the runner needs, implemented over a pg client or a PGlite instance. */
export interface SqlSession {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements without parameters. */
  exec(sql: string): Promise<void>;
}

const PRISMA_ADVISORY_LOCK_KEY = 72707369;

export function migrationsDirectory(): string {
  return path.join(process.cwd(), "prisma", "migrations");
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir: string = migrationsDirectory()): MigrationFile[] {
  // The folder is read at run time from the deployed checkout; the bundler must not trace it.
  if (!existsSync(/*turbopackIgnore: true*/ dir)) throw new Error(`No migrations folder at ${dir}`);
  return readdirSync(/*turbopackIgnore: true*/ dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(/*turbopackIgnore: true*/ path.join(dir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(/*turbopackIgnore: true*/ path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: number;
}

export interface MigrationStatus {
  applied: number;
  /** In the migrations folder, not in the database yet. */
  pending: string[];
  /** In the database, not in this install's folder: a newer version of Mailroom migrated it. */
  unknown: string[];
  /** Applied, but the file has changed since. */
  changed: string[];
  /** Started and never finished (a failed migration needing `prisma migrate resolve`). */
  failed: string[];
}

/** The database's migrations against the folder's, read-only (`mailroom doctor`). */
export async function migrationStatus(session: SqlSession, migrations = readMigrations()): Promise<MigrationStatus> {
  const [{ present }] = (await session.query<{ present: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`)) as [{ present: boolean }];
  const rows = present
    ? await session.query<AppliedRow>(`SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`)
    : [];
  const byName = new Map(rows.map((row) => [row.migration_name, row]));
  const known = new Set(migrations.map((migration) => migration.name));
  return {
    applied: rows.filter((row) => row.finished_at !== null).length,
    pending: migrations.filter((migration) => !byName.has(migration.name)).map((migration) => migration.name),
    unknown: rows.filter((row) => !known.has(row.migration_name)).map((row) => row.migration_name),
    changed: migrations.filter((migration) => byName.has(migration.name) && byName.get(migration.name)!.checksum !== migration.checksum).map((migration) => migration.name),
    failed: rows.filter((row) => row.finished_at === null).map((row) => row.migration_name),
  };
}

export async function applyMigrations(session: SqlSession, migrations = readMigrations()): Promise<MigrationReport> {
  await session.query("SELECT pg_advisory_lock($1)", [PRISMA_ADVISORY_LOCK_KEY]);
  try {
    await session.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    )`);
    const rows = await session.query<AppliedRow>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const failed = rows.find((row) => row.finished_at === null);
    if (failed) {
      throw new Error(
        `Migration ${failed.migration_name} failed earlier and was not rolled back; fix the database, then mark it with \`prisma migrate resolve\`.`,
      );
    }
    const done = new Set(rows.map((row) => row.migration_name));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.name)) continue;
      // Postgres DDL is transactional: a failing migration leaves neither schema changes nor a row.
      await session.exec("BEGIN");
      try {
        await session.exec(migration.sql);
        await session.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), now(), 1)`,
          [randomUUID(), migration.checksum, migration.name],
        );
        await session.exec("COMMIT");
      } catch (error) {
        await session.exec("ROLLBACK");
        throw new Error(`Migration ${migration.name} failed: ${(error as Error).message}`);
      }
      applied.push(migration.name);
    }
    return { applied, alreadyApplied: migrations.length - applied.length };
  } finally {
    await session.query("SELECT pg_advisory_unlock($1)", [PRISMA_ADVISORY_LOCK_KEY]);
  }
}
