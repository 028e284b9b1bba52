import { z } from "zod";
import { agentName, outputFormat, projectKey, registrationToken, timestamp } from "./common";

// Lifecycle tools take no `format` (as upstream: the lifecycle/delete group never had it).

/** The phrase hard deletes require, as upstream. */
export const HARD_DELETE_CONFIRMATION = "I UNDERSTAND";

const confirmation = z.string().max(64).describe(`Type exactly '${HARD_DELETE_CONFIRMATION}': the deletion cannot be undone.`);

/** Lifecycle tools are for admins, who need no token; a token that is given must still be right. */
export const agentLifecycleInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  registration_token: registrationToken.describe("The agent's registration_token (optional for admins; checked when given)."),
});
export type AgentLifecycleInput = z.infer<typeof agentLifecycleInput>;

export const hardDeleteAgentInput = agentLifecycleInput.extend({ confirmation });
export type HardDeleteAgentInput = z.infer<typeof hardDeleteAgentInput>;

export const projectLifecycleInput = z.strictObject({
  project_key: projectKey,
  registration_token: registrationToken.describe("A registration_token of any agent of the project (optional for admins)."),
});
export type ProjectLifecycleInput = z.infer<typeof projectLifecycleInput>;

export const hardDeleteProjectInput = projectLifecycleInput.extend({ confirmation });
export type HardDeleteProjectInput = z.infer<typeof hardDeleteProjectInput>;

const windowUuid = z.string().trim().min(1, "is required").max(64).describe("The window identity's UUID.");

export const listWindowsInput = z.strictObject({ project_key: projectKey, format: outputFormat });
export const renameWindowInput = z.strictObject({
  project_key: projectKey,
  window_uuid: windowUuid,
  new_display_name: z.string().trim().min(1, "is required").max(128).describe("Adjective+noun name, e.g. GreenLake."),
  format: outputFormat,
});
export type RenameWindowInput = z.infer<typeof renameWindowInput>;
export const expireWindowInput = z.strictObject({ project_key: projectKey, window_uuid: windowUuid, format: outputFormat });
export type ExpireWindowInput = z.infer<typeof expireWindowInput>;

// ----- results -----

export const agentStatusOutput = (status: readonly [string, ...string[]]) =>
  z.strictObject({ status: z.enum(status), agent_name: z.string(), project_key: z.string() });

export const projectStatusOutput = z.strictObject({ status: z.enum(["archived", "active"]), project_key: z.string(), slug: z.string() });

const count = z.number().int().min(0);

export const hardDeleteAgentOutput = z.strictObject({
  status: z.literal("hard_deleted"),
  agent_name: z.string(),
  project_key: z.string(),
  deleted_counts: z.strictObject({
    message_recipients: count,
    sent_message_recipients: count,
    messages_sent: count,
    file_reservations: count,
    agent_links: count,
    window_identities: count,
    agent: count,
    archive_files_removed: count,
    archive_dirs_removed: count,
  }),
  filesystem_errors: z.array(z.string()),
});

export const hardDeleteProjectOutput = z.strictObject({
  status: z.literal("hard_deleted"),
  project_key: z.string(),
  deleted_counts: z.strictObject({
    agents: count,
    messages: count,
    message_recipients: count,
    file_reservations: count,
    agent_links: count,
    window_identities: count,
    message_summaries: count,
    sibling_suggestions: count,
    product_links: count,
    project: count,
    archive_files_removed: count,
    archive_dirs_removed: count,
  }),
  filesystem_errors: z.array(z.string()),
});

export const windowIdentityOutput = z.strictObject({
  id: z.number().int(),
  window_uuid: z.string(),
  display_name: z.string(),
  created_ts: timestamp,
  last_active_ts: timestamp,
  expires_ts: timestamp.nullable(),
  age_days: z.number().int().min(0),
});

export const listWindowsOutput = z.strictObject({ identities: z.array(windowIdentityOutput), count });

export const renameWindowOutput = z.strictObject({
  id: z.number().int(),
  window_uuid: z.string(),
  display_name: z.string(),
  old_display_name: z.string(),
  last_active_ts: timestamp,
});

export const expireWindowOutput = z.strictObject({
  window_uuid: z.string(),
  display_name: z.string(),
  expired: z.literal(true),
  expired_at: timestamp,
});
