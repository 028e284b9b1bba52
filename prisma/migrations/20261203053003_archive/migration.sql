-- AlterTable
ALTER TABLE "archive_outbox" ADD COLUMN     "commit_sha" TEXT,
ADD COLUMN     "message_id" INTEGER;

-- CreateTable
CREATE TABLE "attachment_blobs" (
    "sha256" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "attachment_blobs_pkey" PRIMARY KEY ("sha256")
);

-- CreateIndex
CREATE INDEX "archive_outbox_message_id_idx" ON "archive_outbox"("message_id");

-- Rows written before this migration carry the message id only in their payload.
UPDATE "archive_outbox" SET "message_id" = ("payload"->>'message_id')::int WHERE "kind" = 'message' AND "message_id" IS NULL;
