import type { ToolDefinition } from "../registry";
import { createAgentIdentityTool, registerAgentTool, whoisTool } from "./agents";
import {
  acknowledgeMessageTool,
  fetchInboxTool,
  fetchTopicTool,
  markMessageReadTool,
  messageReceiptsTool,
  purgeOldMessagesTool,
  replyMessageTool,
  sendMessageTool,
  waitForMailTool,
} from "./messages";
import { ensureProjectTool } from "./projects";
import { fetchSummaryTool, searchMessagesTool, summarizeRecentTool, summarizeThreadTool } from "./search";
import { healthCheckTool } from "./system";

// Every MCP tool, in the order tools/list shows them.
export const tools: ToolDefinition[] = [
  healthCheckTool,
  ensureProjectTool,
  registerAgentTool,
  createAgentIdentityTool,
  whoisTool,
  sendMessageTool,
  replyMessageTool,
  fetchInboxTool,
  waitForMailTool,
  markMessageReadTool,
  acknowledgeMessageTool,
  fetchTopicTool,
  messageReceiptsTool,
  searchMessagesTool,
  summarizeThreadTool,
  summarizeRecentTool,
  fetchSummaryTool,
  purgeOldMessagesTool,
];
