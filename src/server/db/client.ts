import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { env } from "@/env";
import { PrismaClient, type Prisma as PrismaNamespace } from "@/generated/prisma/client";
import { createEventBus, type EventBus } from "@/server/events/bus";
import { acquireDataDirLock } from "./data-dir-lock";
import { applyMigrations, migrationStatus, type MigrationFile, type MigrationReport, type MigrationStatus, type SqlSession } from "./migrate";

export type Prisma = PrismaClient;

/**
 * What services query through: the process's client or an interactive transaction's. Code typed
 * with Db runs unchanged inside `withTransaction` (services/context.ts).
 */
export type Db = PrismaNamespace.TransactionClient;

/** The database a process talks to: a Postgres server (pool) or the embedded PGlite. */
export interface Database {
  kind: "postgres" | "pglite";
  /** The Postgres URL (with credentials) when kind is postgres; the event bus opens its own LISTEN connection. */
  url?: string;
  prisma: PrismaClient;
  /** One statement, outside Prisma: readiness probes and LISTEN/NOTIFY plumbing. */
  ping(): Promise<void>;
  /** Applies the project's migrations (or the given list) under the migration lock. */
  migrate(migrations?: MigrationFile[]): Promise<MigrationReport>;
  /** Which migrations are applied, pending or unknown to this install, changing nothing. */
  migrationStatus(migrations?: MigrationFile[]): Promise<MigrationStatus>;
  close(): Promise<void>;
  pool?: pg.Pool;
  pglite?: PGlite;
}

export interface OpenOptions {
  /** postgres:// URL; when absent the embedded PGlite in `dataDir` is used. */
  url?: string;
  /** Folder of the embedded database; `memory://` keeps it in memory (tests). */
  dataDir?: string;
  poolMax?: number;
  migrate?: boolean;
}

function pgSession(client: pg.ClientBase | pg.Pool): SqlSession {
  return {
    query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
    exec: async (sql: string) => {
      await client.query(sql);
    },
  };
}

function pgliteSession(db: PGlite): SqlSession {
  return {
    query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
    exec: async (sql: string) => {
      await db.exec(sql);
    },
  };
}

async function openPostgres(url: string, poolMax: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolMax, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on("error", (error) => console.error("[db] idle client error:", error.message));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: "postgres",
    url,
    prisma,
    pool,
    ping: async () => {
      await pool.query("SELECT 1");
    },
    migrate: async (migrations) => {
      const client = await pool.connect();
      try {
        return await applyMigrations(pgSession(client), migrations);
      } finally {
        client.release();
      }
    },
    migrationStatus: (migrations) => migrationStatus(pgSession(pool), migrations),
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPGlite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith("memory://");
  const release = inMemory ? () => {} : acquireDataDirLock(dataDir);
  let pglite: PGlite;
  try {
    pglite = inMemory ? new PGlite(dataDir) : new PGlite(path.join(dataDir, "pglite"));
    await pglite.waitReady;
  } catch (error) {
    release();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: "pglite",
    prisma,
    pglite,
    ping: async () => {
      await pglite.query("SELECT 1");
    },
    migrate: (migrations) => applyMigrations(pgliteSession(pglite), migrations),
    migrationStatus: (migrations) => migrationStatus(pgliteSession(pglite), migrations),
    close: async () => {
      await prisma.$disconnect();
      await pglite.close();
      release();
    },
  };
}

export async function openDatabase(options: OpenOptions = {}): Promise<Database> {
  const db = options.url
    ? await openPostgres(options.url, options.poolMax ?? env.DB_POOL_MAX)
    : await openPGlite(options.dataDir ?? env.DATA_DIR);
  if (options.migrate ?? true) {
    try {
      await db.migrate();
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  return db;
}

// One database and one event bus per process, opened on first use (never while `next build` imports route modules)
// and kept on globalThis so that Next's module reloading in development does not open a second one.
const holder = globalThis as typeof globalThis & { __mailroomDb?: Promise<Database>; __mailroomBus?: Promise<EventBus> };

export function getDatabase(): Promise<Database> {
  holder.__mailroomDb ??= openDatabase({
    url: env.DATABASE_URL,
    dataDir: path.resolve(env.DATA_DIR),
    migrate: env.MAILROOM_MIGRATE_ON_START,
  }).catch((error: unknown) => {
    holder.__mailroomDb = undefined;
    throw error;
  });
  return holder.__mailroomDb;
}

export function getEventBus(): Promise<EventBus> {
  holder.__mailroomBus ??= getDatabase()
    .then((database) => createEventBus(database, database.url))
    .catch((error: unknown) => {
      holder.__mailroomBus = undefined;
      throw error;
    });
  return holder.__mailroomBus;
}
