import { env, redactedDatabaseUrl } from "@/env";
import type { Actor } from "@/server/auth/actor";
import type { Prisma } from "@/server/db/client";
import type { NameMode } from "./agents/names";

/** Settings the services read; built from the environment, overridable per context in tests. */
export interface ServiceConfig {
  environment: string;
  nameMode: NameMode;
  databaseLabel: string;
  httpHost: string;
  httpPort: number;
  mcpPath: string;
}

export function configFromEnv(): ServiceConfig {
  return {
    environment: env.APP_ENVIRONMENT,
    nameMode: env.AGENT_NAME_ENFORCEMENT_MODE,
    databaseLabel: redactedDatabaseUrl(),
    httpHost: env.HOSTNAME,
    httpPort: env.PORT,
    mcpPath: "/api/mcp",
  };
}

/** Everything a service function needs besides its input. */
export interface ServiceContext {
  db: Prisma;
  actor: Actor;
  config: ServiceConfig;
}
