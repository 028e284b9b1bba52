import { z } from "zod";
import { projectKey, rowId, timestamp } from "./common";

// The overseer's console (src/app): project pages, the unified mail list and admin actions that
// have no MCP tool. Every list is bounded; pages are cursors on message ids.

export { ACK_OVERDUE_MINUTES, ACTIVE_WINDOW_MINUTES } from "@/lib/dashboard";

export const dashboardProjectInput = z.strictObject({ project_key: projectKey });

const agentSummary = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  program: z.string(),
  model: z.string(),
  task_description: z.string(),
  contact_policy: z.string(),
  inception_ts: timestamp,
  last_active_ts: timestamp,
  status: z.enum(["active", "idle", "retired"]),
  retired_at: timestamp.nullable(),
  unread: z.number().int(),
  ack_overdue: z.number().int(),
});

const reservationRow = z.strictObject({
  id: z.number().int(),
  agent: z.string(),
  path_pattern: z.string(),
  exclusive: z.boolean(),
  reason: z.string(),
  created_ts: timestamp,
  expires_ts: timestamp,
  stale: z.boolean(),
  stale_reasons: z.array(z.string()),
});

const buildSlotRow = z.strictObject({
  id: z.number().int(),
  slot: z.string(),
  agent: z.string(),
  branch: z.string(),
  exclusive: z.boolean(),
  acquired_ts: timestamp,
  expires_ts: timestamp,
});

const contactRow = z.strictObject({
  from: z.string(),
  to: z.string(),
  to_project: z.string(),
  status: z.string(),
  reason: z.string(),
  updated_ts: timestamp,
  expires_ts: timestamp.nullable(),
});

export const dashboardProjectOutput = z.strictObject({
  project: z.strictObject({ slug: z.string(), human_key: z.string(), created_at: timestamp, archived_at: timestamp.nullable() }),
  agents: z.array(agentSummary),
  reservations: z.array(reservationRow),
  build_slots: z.array(buildSlotRow),
  contacts: z.array(contactRow),
  active_window_minutes: z.number().int(),
  ack_overdue_minutes: z.number().int(),
});
export type DashboardProject = z.infer<typeof dashboardProjectOutput>;

export const dashboardMailInput = z.strictObject({
  /** One project's mail; omitted, every project the caller may see (the unified inbox). */
  project_key: projectKey.optional(),
  limit: z.number().int().min(1).max(200).default(50),
  before_id: rowId.nullish(),
});

const recipientState = z.strictObject({
  agent: z.string(),
  kind: z.enum(["to", "cc", "bcc"]),
  read_at: timestamp.nullable(),
  ack_at: timestamp.nullable(),
});

export const mailRow = z.strictObject({
  id: z.number().int(),
  project: z.string(),
  thread_id: z.string().nullable(),
  topic: z.string().nullable(),
  subject: z.string(),
  importance: z.string(),
  ack_required: z.boolean(),
  created_ts: timestamp,
  from: z.string(),
  attachments: z.number().int(),
  recipients: z.array(recipientState),
});

export const dashboardMailOutput = z.strictObject({
  messages: z.array(mailRow),
  /** Pass as before_id for the next (older) page; null at the end. */
  next_before_id: z.number().int().nullable(),
});

export const dashboardReceiptsOutput = z.array(recipientState.extend({ project: z.string() }));

export const dashboardForceReleaseInput = z.strictObject({
  project_key: projectKey,
  file_reservation_id: rowId,
  note: z.string().max(1000).default(""),
  notify_previous: z.boolean().default(true),
});

export const dashboardForceReleaseOutput = z.strictObject({
  released: z.number().int(),
  file_reservation_id: z.number().int(),
  agent: z.string(),
  path_pattern: z.string(),
  notified: z.boolean(),
});
