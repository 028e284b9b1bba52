import type { ToolDefinition } from "../registry";
import { createAgentIdentityTool, registerAgentTool, whoisTool } from "./agents";
import { ensureProjectTool } from "./projects";
import { healthCheckTool } from "./system";

// Every MCP tool, in the order tools/list shows them.
export const tools: ToolDefinition[] = [
  healthCheckTool,
  ensureProjectTool,
  registerAgentTool,
  createAgentIdentityTool,
  whoisTool,
];
