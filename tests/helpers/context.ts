import { LOCAL_OPERATOR } from "@/server/auth/actor";
import type { Database } from "@/server/db/client";
import type { ServiceConfig, ServiceContext } from "@/server/services/context";

export const testConfig: ServiceConfig = {
  environment: "test",
  auth: { mode: "local" },
  rateLimits: { reads: 0, writes: 0, search: 0, auth_failures: 0 },
  nameMode: "coerce",
  databaseLabel: "test-database",
  httpHost: "127.0.0.1",
  httpPort: 0,
  mcpPath: "/api/mcp",
  maxBodyBytes: 256 * 1024,
  maxRecipients: 100,
  // New agents start open so that tests of other areas can mail freshly registered agents; the
  // contact tests set the reference default (auto) themselves.
  contacts: { enforcementEnabled: true, autoTtlSeconds: 86_400, autoHandshakeOnBlock: true, defaultPolicy: "open" },
  reservations: { inactivitySeconds: 1800, activityGraceSeconds: 900, enforcementEnabled: true },
  jobs: { autoRetire: { enabled: true, intervalSeconds: 3600, thresholdSeconds: 86_400 }, reservationCleanup: { enabled: true, intervalSeconds: 60 } },
  // No worker runs in service tests; the archive tests start their own on a temporary directory.
  archive: { enabled: false, dir: "/nonexistent/mailroom-archive", authorName: "Mailroom Test", authorEmail: "test@localhost" },
  attachments: { maxBytes: 64 * 1024, maxTotalBytes: 256 * 1024 },
};

export function serviceContext(database: Database, config: Partial<ServiceConfig> = {}): ServiceContext {
  return { db: database.prisma, actor: LOCAL_OPERATOR, config: { ...testConfig, ...config } };
}
