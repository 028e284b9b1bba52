/*
  Warnings:

  - A unique constraint covering the columns `[jti]` on the table `api_tokens` will be added. If there are existing duplicate values, this will fail.

*/
-- AlterTable
ALTER TABLE "api_tokens" ADD COLUMN     "jti" TEXT,
ALTER COLUMN "token_hash" DROP NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_jti_key" ON "api_tokens"("jti");
