-- AlterTable
ALTER TABLE "idempotency_keys" ADD COLUMN     "response" JSONB;

-- CreateTable
CREATE TABLE "scheduled_jobs" (
    "name" TEXT NOT NULL,
    "next_run_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_run_at" TIMESTAMPTZ(6),
    "last_owner" TEXT,
    "last_result" JSONB,
    "runs" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "scheduled_jobs_pkey" PRIMARY KEY ("name")
);
