import { healthCheckInput } from "@/server/schemas/projects";
import { healthCheck } from "@/server/services/system/health";
import { defineTool } from "../registry";

export const healthCheckTool = defineTool({
  name: "health_check",
  description: "Server status and configuration echo. Call first to confirm Mailroom is reachable.",
  input: healthCheckInput,
  permission: "read",
  profile: "core",
  annotations: { title: "Health check", readOnlyHint: true, openWorldHint: false },
  handler: (ctx) => healthCheck(ctx),
});
