import { LOCAL_OPERATOR } from "../../src/server/auth/actor";
import type { Database } from "../../src/server/db/client";
import type { ServiceContext } from "../../src/server/services/context";
import { createBenchDatabase, redact } from "../lib/postgres.mjs";
import { DEFAULT_SERVER_URL, loopbackPostgresUrl, onCleanup } from "./common.mjs";
import { describeSeed, seedDatabase, seedOptionsFrom, type SeedReport } from "./seed.mjs";

/**
 * The context the read benchmarks call services with: the local operator (every role, every
 * project), no rate limits, no archive, the defaults of everything else, as the MCP and tRPC
 * handlers would build it for one request.
 */
export function inProcessContext(db: Database["prisma"], url: string): ServiceContext {
  return {
    db,
    actor: LOCAL_OPERATOR,
    config: {
      environment: "bench",
      auth: { mode: "local" },
      rateLimits: { reads: 0, writes: 0, search: 0, auth_failures: 0 },
      nameMode: "coerce",
      databaseLabel: redact(url),
      httpHost: "127.0.0.1",
      httpPort: 0,
      mcpPath: "/api/mcp",
      maxBodyBytes: 256 * 1024,
      maxRecipients: 100,
      contacts: { enforcementEnabled: true, autoTtlSeconds: 86_400, autoHandshakeOnBlock: true, defaultPolicy: "auto" },
      reservations: { inactivitySeconds: 1800, activityGraceSeconds: 900, enforcementEnabled: true },
      jobs: { autoRetire: { enabled: false, intervalSeconds: 3600, thresholdSeconds: 86_400 }, reservationCleanup: { enabled: false, intervalSeconds: 60 } },
      archive: { enabled: false, dir: "/nonexistent", authorName: "bench", authorEmail: "bench@localhost" },
      attachments: { maxBytes: 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024 },
    },
  };
}

/** The options of a benchmark that measures a seeded database: a fresh one, or --reuse. */
export const SEEDED_DATABASE_OPTIONS = {
  "database-url": { type: "string" },
  reuse: { type: "string" },
  messages: { type: "string" },
  agents: { type: "string" },
  "hot-inbox": { type: "string" },
  keep: { type: "boolean" },
} as const;

export interface SeededDatabaseValues {
  "database-url"?: string;
  reuse?: string;
  messages?: string;
  agents?: string;
  "hot-inbox"?: string;
  keep?: boolean;
}

/** --reuse's database, or a fresh one seeded by seed.mts (dropped at the end unless --keep). */
export async function seededDatabase(values: SeededDatabaseValues, log: (message: string) => void): Promise<{ url: string; seed?: SeedReport }> {
  if (values.reuse) {
    const url = loopbackPostgresUrl(values.reuse, "--reuse");
    log(`reusing ${redact(url)}`);
    return { url };
  }
  const db = await createBenchDatabase(loopbackPostgresUrl(values["database-url"] ?? process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL));
  onCleanup(`database ${db.name}`, async () => {
    if (values.keep) log(`kept database: ${redact(db.url)} (next time: --reuse '${redact(db.url)}')`);
    else await db.drop();
  });
  log(`fresh Postgres ${db.serverVersion} database ${db.name}; seeding`);
  const seed = await seedDatabase(db.url, seedOptionsFrom(values));
  log(describeSeed(seed));
  return { url: db.url, seed };
}
