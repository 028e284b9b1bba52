-- AlterTable
ALTER TABLE "message_recipients" ADD COLUMN     "ack_required" BOOLEAN NOT NULL DEFAULT false;

-- Backfill (written by hand): every recipient row of a message that asks for an ack.
UPDATE "message_recipients" r SET "ack_required" = true FROM "messages" m WHERE m."id" = r."message_id" AND m."ack_required";

-- CreateIndex
CREATE INDEX "message_recipients_unread_idx" ON "message_recipients"("agent_id") WHERE (read_ts IS NULL);

-- CreateIndex
CREATE INDEX "message_recipients_ack_pending_idx" ON "message_recipients"("agent_id", "message_id") WHERE (ack_required AND ack_ts IS NULL);
