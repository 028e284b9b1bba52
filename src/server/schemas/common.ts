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

/** An empty string means "no token", as clients that always send the field expect. */
export const optionalToken = (description: string) =>
  z
    .string()
    .max(256)
    .nullish()
    .transform((value) => value || undefined)
    .optional()
    .describe(description);

export const registrationToken = optionalToken("The agent's registration_token returned by register_agent; proves you are that agent.");

/**
 * `format` is accepted on every tool for compatibility with mcp_agent_mail clients. Results are
 * always JSON: upstream itself falls back to JSON when its TOON encoder is unavailable.
 */
export const outputFormat = z
  .enum(["json", "application/json", "text/json", "toon", "application/toon", "text/toon", "", "auto", "default", "none", "null"])
  .nullish()
  .describe("Output format; results are JSON.");
