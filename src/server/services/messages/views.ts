import { isoTs, isoTsOrNull } from "../format";
import type { MessageRow } from "@/server/db/mail-sql";
import { attachmentViews, type AttachmentView } from "../attachments/meta";

// Result shapes of mcp_agent_mail (reference §1.5), built from MessageRow.

export interface MessageBase {
  id: number;
  project_id: number;
  sender_id: number;
  thread_id: string | null;
  topic: string | null;
  subject: string;
  importance: string;
  ack_required: boolean;
  created_ts: string;
  attachments: AttachmentView[];
  from: string;
  from_project?: string;
  from_project_slug?: string;
  from_address?: string;
  body_md?: string;
}

export interface RecipientLists {
  to: string[];
  cc: string[];
  bcc: string[];
}

export function messageBase(row: MessageRow, includeBody: boolean): MessageBase {
  const crossProject = row.sender_project_id !== row.project_id;
  return {
    id: row.id,
    project_id: row.project_id,
    sender_id: row.sender_id,
    thread_id: row.thread_id,
    topic: row.topic,
    subject: row.subject,
    importance: row.importance,
    ack_required: row.ack_required,
    created_ts: isoTs(row.created_ts),
    attachments: attachmentViews(row.id, row.attachments),
    from: row.sender_name,
    ...(crossProject
      ? {
          from_project: row.sender_project_key,
          from_project_slug: row.sender_project_slug,
          from_address: `project:${row.sender_project_slug}#${row.sender_name}`,
        }
      : {}),
    ...(includeBody && row.body_md !== null ? { body_md: row.body_md } : {}),
  };
}

export function inboxItem(row: MessageRow, includeBody: boolean) {
  return { ...messageBase(row, includeBody), kind: row.kind ?? "to" };
}

/** Inbox item plus the recipient's own read/ack state (mailbox and views). */
export function stateItem(row: MessageRow, includeBody: boolean) {
  return { ...inboxItem(row, includeBody), read_at: isoTsOrNull(row.read_ts), ack_at: isoTsOrNull(row.ack_ts) };
}

export function withRecipients(base: MessageBase, lists: RecipientLists) {
  return { ...base, to: lists.to, cc: lists.cc, bcc: lists.bcc };
}
