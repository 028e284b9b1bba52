import { z } from "zod";
import { APPROVAL_TTL_SECONDS, REQUEST_TTL_SECONDS } from "@/server/services/contacts/policy";
import { INT32_MAX, agentName, outputFormat, projectKey, registrationToken, timestamp } from "./common";

// Contracts of the contact tools (§2.2 request_contact … set_contact_policy).

const ttlSeconds = (fallback: number) => z.number().int().min(-INT32_MAX).max(INT32_MAX).default(fallback);
const address = z.string().trim().min(1, "is required").max(1200);
const otherProject = z.string().trim().max(1024).nullish();

export const requestContactInput = z.strictObject({
  project_key: projectKey,
  from_agent: agentName.describe("You: the agent asking for contact."),
  to_agent: address.describe("Target: Name, project:<slug>#Name or Name@<project>."),
  to_project: otherProject.describe("Target's project when to_agent is a plain name (default: project_key)."),
  reason: z.string().max(2000).default("").describe("Why; becomes the request mail's body."),
  ttl_seconds: ttlSeconds(REQUEST_TTL_SECONDS).describe("Request lifetime; at least 60 (default 7 days)."),
  registration_token: registrationToken,
  register_if_missing: z.boolean().default(true).describe("Accepted for compatibility; targets must be registered."),
  program: z.string().max(128).nullish().describe("Accepted for compatibility."),
  model: z.string().max(128).nullish().describe("Accepted for compatibility."),
  task_description: z.string().max(2048).nullish().describe("Accepted for compatibility."),
  format: outputFormat,
});
export type RequestContactInput = z.infer<typeof requestContactInput>;

export const respondContactInput = z.strictObject({
  project_key: projectKey,
  to_agent: agentName.describe("You: the agent that was asked."),
  from_agent: agentName.describe("The requester."),
  accept: z.boolean().describe("true approves, false blocks."),
  ttl_seconds: ttlSeconds(APPROVAL_TTL_SECONDS).describe("Approval lifetime; at least 60 (default 30 days)."),
  from_project: otherProject.describe("Requester's project (default: project_key)."),
  registration_token: registrationToken,
  format: outputFormat,
});
export type RespondContactInput = z.infer<typeof respondContactInput>;

export const listContactsInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  registration_token: registrationToken,
  format: outputFormat,
});

export const setContactPolicyInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  policy: z.string().max(64).describe("open | auto | contacts_only | block_all (anything else: auto)."),
  registration_token: registrationToken,
  format: outputFormat,
});

export const contactRequestOutput = z.strictObject({
  from: z.string(),
  from_project: z.string(),
  to: z.string(),
  to_project: z.string(),
  status: z.enum(["pending", "approved"]),
  expires_ts: timestamp.nullable(),
  notification_message: z.looseObject({ id: z.number().int(), subject: z.string() }).optional(),
});

export const respondContactOutput = z.strictObject({
  from: z.string(),
  to: z.string(),
  approved: z.boolean(),
  expires_ts: timestamp.nullable(),
  updated: z.number().int(),
});

export const contactListOutput = z.array(
  z.strictObject({
    to: z.string(),
    to_project: z.string(),
    status: z.string(),
    is_expired: z.boolean(),
    allows_messaging: z.boolean(),
    reason: z.string(),
    updated_ts: timestamp,
    expires_ts: timestamp.nullable(),
  }),
);

export const contactPolicyOutput = z.strictObject({ agent: z.string(), policy: z.enum(["open", "auto", "contacts_only", "block_all"]) });
