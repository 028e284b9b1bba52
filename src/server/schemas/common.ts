import { z } from "zod";

// Pieces shared by several domain contracts.

export const projectKey = z
  .string()
  .trim()
  .min(1, "project_key is required")
  .max(1024)
  .describe("Project: its absolute path (human_key) or its slug, as returned by ensure_project.");

export const agentName = z
  .string()
  .trim()
  .min(1, "agent_name is required")
  .max(128)
  .describe("Agent name, case-insensitive (e.g. GreenCastle).");

export const registrationToken = z
  .string()
  .min(1)
  .max(256)
  .optional()
  .describe("The agent's registration_token returned by register_agent; proves you are that agent.");

/**
 * `format` is accepted on every tool for compatibility with mcp_agent_mail clients. Only JSON is
 * produced; the aliases that mean "the default" are accepted as JSON too.
 */
export const outputFormat = z
  .enum(["json", "application/json", "text/json", "", "auto", "default", "none", "null"])
  .nullish()
  .describe("Output format; only json is supported.");
