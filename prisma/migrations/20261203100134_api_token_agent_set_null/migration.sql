-- DropForeignKey
ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_agent_id_fkey";

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;
