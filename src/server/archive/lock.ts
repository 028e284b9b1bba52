import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type { Database } from "@/server/db/client";

// The archive has one writer at a time across every instance on a database.
//
// Postgres: a SESSION advisory lock (pg_try_advisory_lock) held by a connection of its own. It is
// released when that connection ends, so a writer that dies (kill -9, lost network) frees it at
// once and a standby takes over on its next try. Everything the writer does in the database,
// marking events done above all, goes through that same connection: a writer whose connection
// (and with it the lock) is gone cannot mark anything, even if it has not noticed yet.
//
// PGlite: the database belongs to one process (DATA_DIR/mailroom.lock), and all of that process's
// queries share one session, where advisory locks are re-entrant and prove nothing. The lock is a
// claim in this process on the PGlite instance itself, so two workers in one process (tests, a
// reloaded module) still never write at once.

/** First key of the two-key advisory lock ("AR", the archive); the second is 0. */
export const ARCHIVE_LOCK_CLASS = 0x4152;
const ARCHIVE_LOCK_KEY = 0;

export interface WriterLock {
  /** Takes the lock if it is free; true when this worker holds it (now or already). */
  tryAcquire(): Promise<boolean>;
  /** Whether the lock is held as far as this process knows (false from the moment its connection is lost). */
  held(): boolean;
  /** One SQL statement on the lock's own session. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Gives the lock up and closes its connection. */
  release(): Promise<void>;
}

export class LockLostError extends Error {
  constructor() {
    super("The archive writer lock was lost.");
    this.name = "LockLostError";
  }
}

class PostgresWriterLock implements WriterLock {
  private client: pg.Client | undefined;
  private isHeld = false;

  constructor(private readonly url: string) {}

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.isHeld = false;
    client.end().catch(() => {});
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    // keepAlive: a silently dead peer is noticed by the kernel, which ends the connection and with it the lock.
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, application_name: "mailroom-archive-writer" });
    client.on("error", () => this.drop(client));
    client.on("end", () => this.drop(client));
    await client.connect();
    this.client = client;
    return client;
  }

  async tryAcquire(): Promise<boolean> {
    if (this.isHeld && this.client) return true;
    const client = await this.connect();
    try {
      const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1::int, $2::int) AS locked", [ARCHIVE_LOCK_CLASS, ARCHIVE_LOCK_KEY]);
      this.isHeld = rows[0]?.locked === true && this.client === client;
    } catch (error) {
      this.drop(client);
      throw error;
    }
    return this.isHeld;
  }

  held(): boolean {
    return this.isHeld && this.client !== undefined;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = this.client;
    if (!client || !this.isHeld) throw new LockLostError();
    try {
      return (await client.query(sql, params)).rows as T[];
    } catch (error) {
      // A statement that failed because the connection went is a lost lock, whatever pg calls it.
      if (this.client !== client || !this.isHeld) throw new LockLostError();
      throw error;
    }
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.isHeld = false;
    // Ending the session releases its advisory locks.
    await client?.end().catch(() => {});
  }
}

// The PGlite instances claimed in this process, each by one worker's token.
const pgliteClaims = new WeakMap<PGlite, symbol>();

class PGliteWriterLock implements WriterLock {
  private readonly token = Symbol("archive-writer");

  constructor(private readonly pglite: PGlite) {}

  async tryAcquire(): Promise<boolean> {
    const holder = pgliteClaims.get(this.pglite);
    if (holder === undefined) pgliteClaims.set(this.pglite, this.token);
    return pgliteClaims.get(this.pglite) === this.token;
  }

  held(): boolean {
    return pgliteClaims.get(this.pglite) === this.token && !this.pglite.closed;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (!this.held()) throw new LockLostError();
    return (await this.pglite.query<T>(sql, params)).rows;
  }

  async release(): Promise<void> {
    if (pgliteClaims.get(this.pglite) === this.token) pgliteClaims.delete(this.pglite);
  }
}

/** What the lock needs of the database: a Postgres URL to open its own session, or the PGlite instance. */
export type WriterDatabase = Pick<Database, "kind" | "url" | "pglite">;

export function createWriterLock(database: WriterDatabase): WriterLock {
  if (database.kind === "pglite") {
    if (!database.pglite) throw new Error("An embedded database without its PGlite instance");
    return new PGliteWriterLock(database.pglite);
  }
  if (!database.url) throw new Error("The archive writer lock needs the Postgres URL");
  return new PostgresWriterLock(database.url);
}
