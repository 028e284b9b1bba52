import { env } from "@/env";
import { parseToolProfile } from "@/mcp/catalog";
import { getDatabase, getEventBus } from "@/server/db/client";
import { configFromEnv } from "@/server/services/context";
import { createHandlers } from "./handlers";

/** The handlers the Next route files serve: the process-wide database and the environment's config. */
export const handlers = createHandlers({
  database: getDatabase,
  events: getEventBus,
  config: configFromEnv(),
  // An unknown tool or cluster name stops the server at start, naming it.
  defaultToolProfile: parseToolProfile(env.MCP_TOOLS_PROFILE),
});
