import { z } from "zod";
import {
  INT32_MAX,
  agentName,
  cursorId,
  looseLimit,
  optionalToken,
  outputFormat,
  projectKey,
  queryFlag,
  queryInt,
  registrationToken,
  rowId,
  messageOutput,
  recipientListsOutput,
  inboxItemOutput,
  messageWithRecipientsOutput,
} from "./common";

/** Schema bound on body_md (characters); the configured byte limit (MAX_BODY_BYTES) is checked by the send. */
export const BODY_MD_MAX_CHARS = 16 * 1024 * 1024;
const RECIPIENT_MAX = 512;
const RECIPIENTS_MAX_ITEMS = 10_000;

const recipients = (what: string) =>
  z
    .union([z.string().max(RECIPIENT_MAX), z.array(z.string().max(RECIPIENT_MAX)).max(RECIPIENTS_MAX_ITEMS)])
    .nullish()
    .describe(`${what}: names; Name@project or project:<slug>#Name elsewhere.`);

/** At most this many files per message, attachments and attachment_paths together. */
export const ATTACHMENTS_MAX_ITEMS = 20;
/** Schema bound on content_base64: the base64 of the largest ATTACHMENT_MAX_BYTES allowed (64 MiB); the configured limit is checked by the send. */
const CONTENT_BASE64_MAX = Math.ceil((64 * 1024 * 1024) / 3) * 4;

export const attachmentInput = z.strictObject({
  name: z.string().min(1).max(255),
  media_type: z.string().min(1).max(127),
  content_base64: z.string().max(CONTENT_BASE64_MAX),
});
export type AttachmentInput = z.infer<typeof attachmentInput>;

const attachments = z
  .array(attachmentInput)
  .max(ATTACHMENTS_MAX_ITEMS, `at most ${ATTACHMENTS_MAX_ITEMS} attachments per message`)
  .nullish()
  .describe("Files: [{name, media_type (e.g. text/plain), content_base64 (standard base64)}].");

const senderToken = optionalToken("Sender's registration_token (proves sender_name).");
const idempotencyKey = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .optional()
  .describe("Retrying with the same key returns the first result, sends nothing twice.");
const threadId = z.string().max(256).nullish().describe("Thread id: 1-128 of [A-Za-z0-9._-], starting alphanumeric (e.g. FEAT-123).");
const topic = z.string().max(256).nullish().describe("Topic tag: 1-64 of [A-Za-z0-9_-], no spaces (e.g. architecture).");
const sinceTs = z.string().max(64).nullish().describe("ISO-8601; only messages created strictly after it.");
const includeBodies = (fallback: boolean) => z.boolean().default(fallback).describe("Include body_md.");
const viewerName = z.string().trim().max(128).nullish().describe("Your agent name: results cover only mail you can see.");

export const sendMessageInput = z.strictObject({
  project_key: projectKey,
  sender_name: agentName.describe("Your agent name."),
  to: recipients("To"),
  subject: z.string().max(10_000).default("").describe("Subject; longer than 200 characters is truncated."),
  body_md: z.string().max(BODY_MD_MAX_CHARS).describe("GitHub-flavoured Markdown body."),
  cc: recipients("Cc"),
  bcc: recipients("Bcc (hidden)"),
  importance: z.string().trim().max(16).default("normal").describe("low | normal | high | urgent."),
  ack_required: z.boolean().default(false).describe("Ask recipients to acknowledge_message."),
  thread_id: threadId,
  topic,
  broadcast: z.boolean().default(false).describe("Send to every active agent of the project (to must be empty)."),
  auto_contact_if_blocked: z.boolean().nullish().describe("File contact requests for refused recipients (default: server setting)."),
  attachments,
  attachment_paths: z
    .array(z.string().max(4096))
    .max(ATTACHMENTS_MAX_ITEMS, `at most ${ATTACHMENTS_MAX_ITEMS} attachments per message`)
    .nullish()
    .describe("Server-side files inside the project's human_key directory."),
  convert_images: z.boolean().nullish().describe("Accepted for compatibility."),
  sender_token: senderToken,
  idempotency_key: idempotencyKey,
  format: outputFormat,
});
export type SendMessageInput = z.infer<typeof sendMessageInput>;

export const replyMessageInput = z.strictObject({
  project_key: projectKey,
  message_id: rowId.describe("Id of the message you reply to."),
  sender_name: agentName.describe("Your agent name."),
  body_md: z.string().max(BODY_MD_MAX_CHARS).describe("Markdown body."),
  to: recipients("To (default: the sender)"),
  cc: recipients("Cc"),
  bcc: recipients("Bcc"),
  subject_prefix: z.string().max(32).default("Re:").describe("Prefix added unless the subject already has it."),
  attachments,
  sender_token: senderToken,
  idempotency_key: idempotencyKey,
  format: outputFormat,
});
export type ReplyMessageInput = z.infer<typeof replyMessageInput>;

export const fetchInboxInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  limit: looseLimit(20).describe("1..1000 (larger is capped)."),
  urgent_only: z.boolean().default(false).describe("Only importance high or urgent."),
  include_bodies: includeBodies(false),
  since_ts: sinceTs,
  since_id: cursorId.nullish().describe("Cursor: ids above this, oldest first; pass the last id seen."),
  topic: z.string().max(256).nullish().describe("Only this topic (case-insensitive)."),
  registration_token: registrationToken,
  format: outputFormat,
});
export type FetchInboxInput = z.infer<typeof fetchInboxInput>;

export const messageActionInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  message_id: rowId,
  registration_token: registrationToken,
  format: outputFormat,
});
export type MessageActionInput = z.infer<typeof messageActionInput>;

export const fetchTopicInput = z.strictObject({
  project_key: projectKey,
  topic_name: z.string().max(256).describe("Topic to list (case-insensitive)."),
  limit: looseLimit(50).describe("Clamped to 1..1000."),
  include_bodies: includeBodies(true),
  since_ts: sinceTs,
  agent_name: viewerName,
  registration_token: registrationToken,
  format: outputFormat,
});
export type FetchTopicInput = z.infer<typeof fetchTopicInput>;

export const searchMessagesInput = z.strictObject({
  project_key: projectKey,
  query: z.string().max(1000).describe('Words, "a phrase", OR, -word; ids like POL-358 match whole.'),
  limit: looseLimit(20).describe("Clamped to 1..200."),
  sender: z.string().max(128).nullish().describe("Only messages from this agent."),
  thread_id: threadId,
  importance: z.array(z.string().max(16)).max(8).nullish().describe("Only these importance levels."),
  since_ts: sinceTs,
  until_ts: z.string().max(64).nullish().describe("ISO-8601; only messages created at or before it."),
  agent_name: viewerName,
  registration_token: registrationToken,
  format: outputFormat,
});
export type SearchMessagesInput = z.infer<typeof searchMessagesInput>;

export const summarizeThreadInput = z.strictObject({
  project_key: projectKey,
  thread_id: z.string().max(2000).describe("A thread id, or several separated by commas."),
  include_examples: z.boolean().default(false).describe("Add up to 3 example messages (single thread)."),
  llm_mode: z.boolean().default(true).describe("Refine with the configured LLM when one is configured."),
  llm_model: z.string().max(128).nullish().describe("Override the LLM model."),
  per_thread_limit: z.number().int().min(1).max(1000).default(50).describe("Messages per thread when several are given."),
  agent_name: viewerName,
  registration_token: registrationToken,
  format: outputFormat,
});
export type SummarizeThreadInput = z.infer<typeof summarizeThreadInput>;

export const summarizeRecentInput = z.strictObject({
  project_key: projectKey,
  since_hours: z.number().positive().max(24 * 365).default(1).describe("Window length in hours."),
  llm_mode: z.boolean().default(true),
  llm_model: z.string().max(128).nullish(),
  max_messages: z.number().int().min(1).max(INT32_MAX).default(500).describe("At most 500."),
  agent_name: agentName.describe("Your agent name: only mail you can see is summarised."),
  registration_token: registrationToken,
  format: outputFormat,
});
export type SummarizeRecentInput = z.infer<typeof summarizeRecentInput>;

export const fetchSummaryInput = z.strictObject({
  project_key: projectKey,
  since_hours: z.number().positive().max(24 * 365 * 10).default(24),
  limit: z.number().int().min(1).max(100).default(5),
  agent_name: agentName,
  registration_token: registrationToken,
  format: outputFormat,
});
export type FetchSummaryInput = z.infer<typeof fetchSummaryInput>;

export const purgeOldMessagesInput = z.strictObject({
  project_key: projectKey,
  max_age_days: z.number().int().min(1).max(36_500).nullish().describe("Delete messages older than this (default 180)."),
  dry_run: z.boolean().default(true).describe("Only count (default)."),
});
export type PurgeOldMessagesInput = z.infer<typeof purgeOldMessagesInput>;

export const waitForMailInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  timeout_seconds: z.number().min(0).max(60).default(30).describe("Longest wait, 0..60 s."),
  since_id: cursorId.nullish().describe("Only mail newer than this id (default: any unread)."),
  urgent_only: z.boolean().default(false),
  include_bodies: includeBodies(false),
  limit: looseLimit(20).describe("1..1000."),
  registration_token: registrationToken,
  format: outputFormat,
});
export type WaitForMailInput = z.infer<typeof waitForMailInput>;

export const messageReceiptsInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName.describe("The sender (receipts are shown to the sender only)."),
  message_id: rowId,
  registration_token: registrationToken,
  format: outputFormat,
});
export type MessageReceiptsInput = z.infer<typeof messageReceiptsInput>;

export const overseerSendInput = z.strictObject({
  project_key: projectKey,
  recipients: z.array(z.string().trim().min(1).max(128)).min(1).max(100),
  subject: z.string().trim().min(1).max(200),
  body_md: z.string().min(1).max(50_000),
  thread_id: threadId,
});
export type OverseerSendInput = z.infer<typeof overseerSendInput>;

export const dashboardMailboxInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  limit: z.number().int().min(1).max(200).default(50),
  before_id: rowId.nullish(),
});
export type DashboardMailboxInput = z.infer<typeof dashboardMailboxInput>;

export const dashboardThreadInput = z.strictObject({ project_key: projectKey, thread_id: z.string().min(1).max(128) });
export const dashboardMessageInput = z.strictObject({ project_key: projectKey, message_id: rowId });
export const dashboardSearchInput = z.strictObject({
  project_key: projectKey,
  query: z.string().max(1000),
  limit: z.number().int().min(1).max(200).default(20),
  sender: z.string().max(128).nullish().describe("Only messages from this agent."),
  recipient: z.string().max(128).nullish().describe("Only messages to, cc or bcc this agent."),
  importance: z.array(z.enum(["low", "normal", "high", "urgent"])).max(4).nullish(),
  thread_id: threadId,
  topic: z.string().max(64).nullish(),
  since_ts: sinceTs,
  until_ts: z.string().max(64).nullish().describe("ISO-8601; only messages created at or before it."),
});

// ----- resources: `resource://…/{path field}?query fields`, all given as text -----

const resourceLimit = (fallback: number) => queryInt(-INT32_MAX, INT32_MAX).default(fallback).describe("1..1000 (larger is capped).");
const resourceAgent = {
  agent: agentName,
  project: projectKey,
  agent_token: optionalToken("The agent's registration_token."),
};
const resourceSince = z.string().max(64).optional().describe("ISO-8601; an unparseable value is ignored, as upstream.");
const TEN_YEARS_SECONDS = 10 * 365 * 86_400;

export const inboxResourceInput = z.strictObject({
  ...resourceAgent,
  limit: resourceLimit(20),
  since_ts: resourceSince,
  urgent_only: queryFlag.default(false),
  include_bodies: queryFlag.default(false),
});
export const outboxResourceInput = z.strictObject({ ...resourceAgent, limit: resourceLimit(20), since_ts: resourceSince, include_bodies: queryFlag.default(false) });
export const mailboxResourceInput = z.strictObject({ ...resourceAgent, limit: resourceLimit(20) });
export const acksStaleResourceInput = z.strictObject({ ...resourceAgent, limit: resourceLimit(20), ttl_seconds: queryInt(0, TEN_YEARS_SECONDS).default(1800) });
export const pendingResourceInput = z.strictObject(resourceAgent);
export const ackOverdueResourceInput = z.strictObject({ ...resourceAgent, limit: resourceLimit(50), ttl_minutes: queryInt(0, TEN_YEARS_SECONDS / 60).default(60) });

const viewerResource = {
  project: projectKey,
  agent: z.string().trim().max(128).optional().describe("Your agent name (or a credential bound to an agent)."),
  agent_token: optionalToken("The agent's registration_token."),
};
export const messageResourceInput = z.strictObject({ message_id: queryInt(1, INT32_MAX), ...viewerResource });
export const threadResourceInput = z.strictObject({ thread_id: z.string().max(256), ...viewerResource, include_bodies: queryFlag.default(true) });
export const attachmentResourceInput = z.strictObject({
  message_id: queryInt(1, INT32_MAX),
  sha256: z.string().length(64).regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits").describe("The attachment's sha256, as its payload lists it."),
  ...viewerResource,
});
export type AttachmentResourceInput = z.output<typeof attachmentResourceInput>;
export const operatorAttachmentInput = z.strictObject({
  message_id: attachmentResourceInput.shape.message_id,
  sha256: attachmentResourceInput.shape.sha256,
  project: projectKey,
});

// ----- result contracts -----

export const deliveryPayloadOutput = messageOutput.extend(recipientListsOutput);
export const sendResultOutput = z.looseObject({
  deliveries: z.array(z.strictObject({ project: z.string(), payload: deliveryPayloadOutput })),
  count: z.number().int(),
  verified_sender: z.literal(true).optional(),
  idempotent_replay: z.literal(true).optional(),
});
export const attachmentContentOutput = z.strictObject({
  name: z.string(),
  media_type: z.string(),
  bytes: z.number().int().min(0),
  sha256: z.string(),
  content_base64: z.string(),
});
export const replyResultOutput = sendResultOutput.extend({ thread_id: z.string(), reply_to: z.number().int() });
export const inboxItemsOutput = z.array(inboxItemOutput);
export const messagesWithRecipientsOutput = z.array(messageWithRecipientsOutput);
