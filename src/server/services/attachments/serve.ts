import { AppError } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import { Prisma as P } from "@/generated/prisma/client";
import { attachmentContentOutput, attachmentResourceInput, operatorAttachmentInput, type AttachmentResourceInput } from "@/server/schemas/messages";
import type { AgentContext, ProjectContext } from "../context";
import { attachmentMetas, type AttachmentMeta } from "./meta";

// Reading an attachment back: only the message's sender and its to/cc/bcc recipients may, each
// proven like every agent-scoped read (token or bound credential). Anyone else, and any message or
// sha256 that does not exist, gets the same NOT_FOUND, so a refusal says nothing about existence.

export interface AttachmentFile {
  meta: AttachmentMeta;
  data: Buffer;
}

/**
 * The attachment `sha256` of message `messageId` as `viewer` may read it. Agent ids are global:
 * a message delivered into another project is still its sender's and its recipients'.
 */
export function readAttachment(ctx: AgentContext, input: AttachmentResourceInput): Promise<AttachmentFile> {
  const viewer = ctx.agent.id;
  return readVisible(ctx, input, P.sql`(m.sender_id = ${viewer} OR EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.agent_id = ${viewer}))`);
}

async function readVisible(ctx: ProjectContext, input: { message_id: number; sha256: string }, visible: P.Sql): Promise<AttachmentFile> {
  const [row] = await ctx.db.$queryRaw<{ attachments: unknown; data: Uint8Array | null }[]>`
    SELECT m.attachments, b.data
    FROM messages m
    LEFT JOIN attachment_blobs b ON b.sha256 = ${input.sha256}
    WHERE m.id = ${input.message_id} AND ${visible}`;
  const meta = row ? attachmentMetas(row.attachments).find((item) => item.sha256 === input.sha256) : undefined;
  if (!row || !meta) throw new AppError("NOT_FOUND", `Attachment ${input.sha256} of message ${input.message_id} not found or not visible.`, { field: "sha256" });
  if (!row.data) {
    // The message lists it but the blob is gone: a broken invariant, not the caller's mistake.
    throw new AppError("INTERNAL_ERROR", "The attachment's content is missing; the server log has the details.");
  }
  return { meta, data: Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength) };
}

const viewerFields = { project: "project", agent: "agent", token: "agent_token", agentOptional: true } as const;

/** resource://attachment/{message_id}/{sha256}?project=…&agent=…&agent_token=… */
export const attachmentResource = defineOperation({
  name: "resource://attachment",
  description: "An attachment's bytes (base64), for the message's sender and recipients. Query: project, agent, agent_token.",
  input: attachmentResourceInput,
  output: attachmentContentOutput,
  permission: "read",
  kind: "query",
  scope: "agent",
  fields: viewerFields,
  resource: "resource://attachment/{message_id}/{sha256}",
  async handler(ctx, input) {
    const { meta, data } = await readAttachment(ctx, input);
    return { ...meta, content_base64: data.toString("base64") };
  },
});

/**
 * The same read for GET /api/attachments/{message_id}/{sha256}: the same input, permission and
 * scope (so `invoke` proves the agent exactly as for the resource), answering the raw bytes. It
 * is served by the HTTP route only, not listed in the registry.
 */
export const attachmentDownload = defineOperation({
  ...attachmentResource,
  name: "GET /api/attachments",
  resource: undefined,
  handler: readAttachment,
});

/** `Content-Disposition: attachment` naming the file in ASCII and, exactly, as RFC 5987 UTF-8. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * The headers an attachment is served with. Its bytes are the sender's, so they must never act
 * as part of this site: always a download, no type sniffing, and a sandbox CSP (an opaque origin,
 * no scripts, nothing loaded) in case a browser renders it anyway, e.g. an HTML or SVG file.
 */
export function attachmentHeaders(file: AttachmentFile): Record<string, string> {
  return {
    "content-type": file.meta.media_type,
    "content-length": String(file.data.length),
    "content-disposition": contentDisposition(file.meta.name),
    "x-content-type-options": "nosniff",
    "content-security-policy": "sandbox; default-src 'none'",
    "cross-origin-resource-policy": "same-origin",
    "referrer-policy": "no-referrer",
    "cache-control": "private, no-store",
  };
}

/**
 * GET /api/attachments without an agent, for the overseer's console: any attachment of a message
 * of the project, for the admin role (who reads every agent's mail there anyway).
 */
export const operatorAttachmentDownload = defineOperation({
  name: "GET /api/attachments (operator)",
  description: "An attachment of any message of the project (admin).",
  input: operatorAttachmentInput,
  output: attachmentContentOutput,
  permission: "admin",
  kind: "query",
  scope: "project",
  fields: { project: "project" },
  handler: (ctx, input) => readVisible(ctx, input, P.sql`m.project_id = ${ctx.project.id}`),
});
