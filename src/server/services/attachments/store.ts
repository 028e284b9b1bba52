import type { Db } from "@/server/db/client";
import { withTransaction, type ServiceContext } from "../context";
import type { PreparedAttachment } from "./input";

// attachment_blobs holds each content once (keyed by sha256); messages.attachments refers to it.
// A send that reuses a blob and a cleanup that finds it unreferenced must not cross: the cleanup
// could delete the blob between the send's "already there" and its commit, leaving a message whose
// file is gone. So sends with attachments hold this advisory lock shared from before their blob
// insert until they commit, and the cleanup takes it exclusively before it looks: it then sees
// every message of every send that got there first, and later sends insert the blob anew.
// Sends without attachments never touch it.
const ATTACHMENT_LOCK_CLASS = 0x4154; // "AT"
const ATTACHMENT_LOCK_KEY = 0;

/** Inserts the blobs a send refers to; call inside the transaction that inserts its messages. */
export async function storeBlobs(db: Db, attachments: readonly PreparedAttachment[]): Promise<void> {
  await db.$executeRaw`SELECT pg_advisory_xact_lock_shared(${ATTACHMENT_LOCK_CLASS}::int, ${ATTACHMENT_LOCK_KEY}::int)`;
  const unique = new Map(attachments.map(({ meta, data }) => [meta.sha256, { sha256: meta.sha256, bytes: meta.bytes, data }]));
  await db.attachmentBlob.createMany({ data: [...unique.values()], skipDuplicates: true });
}

/**
 * Deletes every blob no message refers to any more, after messages were deleted (hard deletes,
 * purges). It runs in a transaction of its own after the delete has committed: inside the
 * delete's transaction it would wait for sends that themselves wait for the delete's row locks.
 * One anti-join over messages.attachments; deletes are rare, so its scan is affordable.
 */
export async function deleteOrphanBlobs(ctx: ServiceContext): Promise<number> {
  return withTransaction(ctx, async ({ db }) => {
    await db.$executeRaw`SELECT pg_advisory_xact_lock(${ATTACHMENT_LOCK_CLASS}::int, ${ATTACHMENT_LOCK_KEY}::int)`;
    return db.$executeRaw`
      DELETE FROM attachment_blobs b
      WHERE NOT EXISTS (
        SELECT 1 FROM messages m CROSS JOIN LATERAL jsonb_array_elements(m.attachments) AS a(item)
        WHERE m.attachments <> '[]'::jsonb AND a.item->>'sha256' = b.sha256
      )`;
  });
}

/**
 * The cleanup after a delete that has already committed: a failure is logged, not reported as the
 * delete's, and the next cleanup removes what this one left (it looks at every blob).
 */
export async function cleanUpAfterDelete(ctx: ServiceContext): Promise<void> {
  try {
    await deleteOrphanBlobs(ctx);
  } catch (error) {
    console.error("[attachments] orphan blob cleanup failed:", error);
  }
}
