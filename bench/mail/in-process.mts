import { LOCAL_OPERATOR } from "../../src/server/auth/actor";
import type { Database } from "../../src/server/db/client";
import type { ServiceContext } from "../../src/server/services/context";
import { redact } from "../lib/postgres.mjs";

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
