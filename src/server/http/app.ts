import { env } from "@/env";
import { getDatabase, getEventBus } from "@/server/db/client";
import { configFromEnv } from "@/server/services/context";
import { createHandlers } from "./handlers";

/** The handlers the Next route files serve: the process-wide database and the environment's config. */
export const handlers = createHandlers({
  database: getDatabase,
  events: getEventBus,
  config: configFromEnv(),
  defaultToolProfile: env.MCP_TOOLS_PROFILE,
});
