import { z } from "zod";
import { INT32_MAX, agentName, outputFormat, projectKey, registrationToken } from "./common";

const program = z.string().max(128).describe("The coding tool you run in (e.g. claude-code, codex-cli).");
const model = z.string().max(128).describe("Your model (e.g. opus-4.1, gpt-5).");
const taskDescription = z.string().max(2048).default("").describe("What you are working on.");
const attachmentsPolicy = z
  .string()
  .max(32)
  .default("auto")
  .describe("auto | inline | file; anything else becomes auto.");

export const registerAgentInput = z.strictObject({
  project_key: projectKey,
  program,
  model,
  name: z
    .string()
    .max(256)
    .nullish()
    .describe("GreenLake-style name or id with - _ . (alpha-one); omit for a generated one."),
  task_description: taskDescription,
  attachments_policy: attachmentsPolicy,
  registration_token: registrationToken,
  format: outputFormat,
});
export type RegisterAgentInput = z.infer<typeof registerAgentInput>;

export const createAgentIdentityInput = z.strictObject({
  project_key: projectKey,
  program,
  model,
  name_hint: z
    .string()
    .max(256)
    .nullish()
    .describe("Preferred name; used when valid and free, otherwise a name is generated."),
  task_description: taskDescription,
  attachments_policy: attachmentsPolicy,
  format: outputFormat,
});
export type CreateAgentIdentityInput = z.infer<typeof createAgentIdentityInput>;

export const whoisInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  registration_token: registrationToken,
  include_recent_commits: z.boolean().default(true).describe("Include recent archive commits."),
  commit_limit: z.number().int().min(-INT32_MAX).max(INT32_MAX).default(5).describe("Commits to include, clamped to 1..50."),
  format: outputFormat,
});
export type WhoisInput = z.infer<typeof whoisInput>;
