import { z } from "zod";
import { archiveStatus } from "@/server/archive/status";
import { defineOperation } from "@/server/operations/define";
import { noInput } from "@/server/schemas/common";

/** The Git archive as health_check and /api/ready show it (src/server/archive/status.ts). */
export const archiveStatusOutput = z.strictObject({
  enabled: z.boolean(),
  role: z.enum(["writer", "standby", "disabled"]),
  pending_events: z.number().int(),
  oldest_pending_age_seconds: z.number().nullable(),
  last_commit_sha: z.string().nullable(),
  last_commit_ts: z.string().nullable(),
  last_error: z.string().nullable(),
  commits: z.number().int(),
  events_written: z.number().int(),
});

export const healthCheck = defineOperation({
  name: "health_check",
  description: "Server status and configuration echo. Call first to confirm Mailroom is reachable.",
  input: noInput,
  output: z.strictObject({
    status: z.literal("ok"),
    environment: z.string(),
    http_host: z.string(),
    http_port: z.number().int(),
    database_url: z.string(),
    archive: archiveStatusOutput,
  }),
  permission: "read",
  kind: "query",
  scope: "global",
  tool: { profile: "core", title: "Health check" },
  handler: async (ctx) => ({
    status: "ok" as const,
    environment: ctx.config.environment,
    http_host: ctx.config.httpHost,
    http_port: ctx.config.httpPort,
    database_url: ctx.config.databaseLabel,
    // The archive's backlog and errors never make the server unhealthy: mail does not depend on it.
    archive: await archiveStatus(ctx.db, ctx.config.archive),
  }),
});

export const environmentResource = defineOperation({
  name: "resource://config/environment",
  description: "Server environment, database (password redacted) and MCP endpoint.",
  input: noInput,
  output: z.strictObject({
    environment: z.string(),
    database_url: z.string(),
    http: z.strictObject({ host: z.string(), port: z.number().int(), path: z.string() }),
  }),
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://config/environment",
  handler: (ctx) => ({
    environment: ctx.config.environment,
    database_url: ctx.config.databaseLabel,
    http: { host: ctx.config.httpHost, port: ctx.config.httpPort, path: ctx.config.mcpPath },
  }),
});
