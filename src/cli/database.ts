import path from "node:path";
import { fileURLToPath } from "node:url";
import { env, redactedDatabaseUrl } from "@/env";
import { LOCAL_OPERATOR } from "@/server/auth/actor";
import { openDatabase, type Database } from "@/server/db/client";
import { readMigrations, type MigrationFile } from "@/server/db/migrate";
import { configFromEnv, type ServiceContext } from "@/server/services/context";

// Server-side commands work on the database directly, opened as the server opens it (DATABASE_URL,
// else the embedded database in DATA_DIR, migrated when MAILROOM_MIGRATE_ON_START allows), and act
// as the local operator. The embedded database admits one process: while a server runs on it,
// these commands are refused with the lock's message (stop it, or use Postgres).

/** The install directory: the migrations are read from it, not from wherever the command was started. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** This install's migrations. */
export function installMigrations(): MigrationFile[] {
  return readMigrations(path.join(ROOT, "prisma", "migrations"));
}

/** The database as an operator reads it: the URL without its password, or the embedded one's folder. */
export function databaseLabel(): string {
  return env.DATABASE_URL ? redactedDatabaseUrl(env.DATABASE_URL) : `embedded database in ${path.resolve(env.DATA_DIR)}`;
}

/** The server's database, opened without migrating it. */
export function openCommandDatabase(): Promise<Database> {
  return openDatabase({ url: env.DATABASE_URL, dataDir: path.resolve(env.DATA_DIR), poolMax: 4, migrate: false });
}

export async function withDatabase<T>(signal: AbortSignal, fn: (ctx: ServiceContext, database: Database) => Promise<T>): Promise<T> {
  const database = await openCommandDatabase();
  try {
    if (env.MAILROOM_MIGRATE_ON_START) await database.migrate(installMigrations());
    return await fn({ db: database.prisma, actor: LOCAL_OPERATOR, config: configFromEnv(), signal }, database);
  } finally {
    await database.close();
  }
}
