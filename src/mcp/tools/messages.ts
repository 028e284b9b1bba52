import {
  fetchInboxInput,
  fetchTopicInput,
  messageActionInput,
  messageReceiptsInput,
  purgeOldMessagesInput,
  replyMessageInput,
  sendMessageInput,
  waitForMailInput,
} from "@/server/schemas/messages";
import { fetchInbox } from "@/server/services/messages/inbox";
import { purgeOldMessages } from "@/server/services/messages/maintenance";
import { acknowledgeMessage, markMessageRead } from "@/server/services/messages/read-ack";
import { getMessageReceipts } from "@/server/services/messages/receipts";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { fetchTopic } from "@/server/services/messages/threads";
import { waitForMail } from "@/server/services/messages/wait";
import { defineTool } from "../registry";

const write = { readOnlyHint: false, destructiveHint: false, openWorldHint: false } as const;
const read = { readOnlyHint: true, openWorldHint: false } as const;

export const sendMessageTool = defineTool({
  name: "send_message",
  description:
    "Send Markdown mail to agents (to/cc/bcc, or broadcast). Needs sender_token. Returns {deliveries:[{project, payload}], count}. Pass idempotency_key to make retries safe.",
  input: sendMessageInput,
  permission: "write",
  profile: "core",
  annotations: { title: "Send message", ...write, idempotentHint: false },
  handler: (ctx, input) => sendMessage(ctx, input),
});

export const replyMessageTool = defineTool({
  name: "reply_message",
  description: "Reply in a message's thread (Re: subject, inherited importance/ack/topic; to defaults to the original sender). Needs sender_token.",
  input: replyMessageInput,
  permission: "write",
  profile: "core",
  annotations: { title: "Reply", ...write, idempotentHint: false },
  handler: (ctx, input) => replyMessage(ctx, input),
});

export const fetchInboxTool = defineTool({
  name: "fetch_inbox",
  description: "Your received mail, newest first (no state change). Filters: urgent_only, since_ts, since_id cursor, topic.",
  input: fetchInboxInput,
  permission: "read",
  profile: "core",
  annotations: { title: "Fetch inbox", ...read },
  handler: (ctx, input) => fetchInbox(ctx, input),
});

export const markMessageReadTool = defineTool({
  name: "mark_message_read",
  description: "Mark a message read (idempotent: returns the first read_at).",
  input: messageActionInput,
  permission: "write",
  profile: "core",
  annotations: { title: "Mark read", ...write, idempotentHint: true },
  handler: (ctx, input) => markMessageRead(ctx, input),
});

export const acknowledgeMessageTool = defineTool({
  name: "acknowledge_message",
  description: "Acknowledge a message (also marks it read; idempotent).",
  input: messageActionInput,
  permission: "write",
  profile: "core",
  annotations: { title: "Acknowledge", ...write, idempotentHint: true },
  handler: (ctx, input) => acknowledgeMessage(ctx, input),
});

export const fetchTopicTool = defineTool({
  name: "fetch_topic",
  description: "Messages tagged with a topic that you can see, newest first.",
  input: fetchTopicInput,
  permission: "read",
  profile: "extended",
  annotations: { title: "Fetch topic", ...read },
  handler: (ctx, input) => fetchTopic(ctx, input),
});

export const waitForMailTool = defineTool({
  name: "wait_for_mail",
  description:
    "Block until you have mail (unread, or newer than since_id) or timeout_seconds (≤60) pass; returns at once if mail is waiting. Use instead of polling fetch_inbox.",
  input: waitForMailInput,
  permission: "read",
  profile: "core",
  annotations: { title: "Wait for mail", ...read },
  handler: (ctx, input) => waitForMail(ctx, input),
});

export const messageReceiptsTool = defineTool({
  name: "get_message_receipts",
  description: "For a message you sent: each recipient's delivered/read/acknowledged times.",
  input: messageReceiptsInput,
  permission: "read",
  profile: "extended",
  annotations: { title: "Message receipts", ...read },
  handler: (ctx, input) => getMessageReceipts(ctx, input),
});

export const purgeOldMessagesTool = defineTool({
  name: "purge_old_messages",
  description: "Count (dry_run, default) or delete a project's messages older than max_age_days (default 180). Admin only.",
  input: purgeOldMessagesInput,
  permission: "admin",
  profile: "extended",
  annotations: { title: "Purge old messages", readOnlyHint: false, destructiveHint: true, openWorldHint: false },
  handler: (ctx, input) => purgeOldMessages(ctx, input),
});
