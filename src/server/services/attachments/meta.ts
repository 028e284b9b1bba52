// What messages.attachments holds for each file (the contract the archive writer and the export
// read too) and what message payloads show of it. The bytes live once per sha256 in
// attachment_blobs; every delivered row of a send carries the same metadata.

export interface AttachmentMeta {
  /** A base file name: no directory part, no leading dots (see ./input.ts). */
  name: string;
  media_type: string;
  bytes: number;
  /** Lowercase hex SHA-256 of the bytes: the blob's key. */
  sha256: string;
}

export interface AttachmentView extends AttachmentMeta {
  uri: string;
}

export function attachmentUri(messageId: number, sha256: string): string {
  return `resource://attachment/${messageId}/${sha256}`;
}

function isMeta(value: unknown): value is AttachmentMeta {
  const item = value as Partial<AttachmentMeta> | null;
  return (
    typeof item === "object" &&
    item !== null &&
    typeof item.name === "string" &&
    typeof item.media_type === "string" &&
    typeof item.bytes === "number" &&
    typeof item.sha256 === "string"
  );
}

/** The column's JSON as typed metadata; anything that is not the contract's shape is left out. */
export function attachmentMetas(json: unknown): AttachmentMeta[] {
  return Array.isArray(json) ? json.filter(isMeta) : [];
}

/** A message's attachments as payloads list them, each with the URI that reads it. */
export function attachmentViews(messageId: number, json: unknown): AttachmentView[] {
  return attachmentMetas(json).map(({ name, media_type, bytes, sha256 }) => ({ name, media_type, bytes, sha256, uri: attachmentUri(messageId, sha256) }));
}
