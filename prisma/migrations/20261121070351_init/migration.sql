-- CreateTable
CREATE TABLE "projects" (
    "id" SERIAL NOT NULL,
    "slug" TEXT NOT NULL,
    "human_key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "archived_at" TIMESTAMPTZ(6),

    CONSTRAINT "projects_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agents" (
    "id" SERIAL NOT NULL,
    "project_id" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "name_key" TEXT NOT NULL,
    "program" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "task_description" TEXT NOT NULL DEFAULT '',
    "inception_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_active_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attachments_policy" TEXT NOT NULL DEFAULT 'auto',
    "contact_policy" TEXT NOT NULL DEFAULT 'auto',
    "registration_token_hash" TEXT,
    "retired_at" TIMESTAMPTZ(6),
    "deregistered_at" TIMESTAMPTZ(6),

    CONSTRAINT "agents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "messages" (
    "id" SERIAL NOT NULL,
    "project_id" INTEGER NOT NULL,
    "sender_id" INTEGER NOT NULL,
    "thread_id" TEXT,
    "topic" TEXT,
    "subject" TEXT NOT NULL,
    "body_md" TEXT NOT NULL,
    "importance" TEXT NOT NULL DEFAULT 'normal',
    "ack_required" BOOLEAN NOT NULL DEFAULT false,
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attachments" JSONB NOT NULL DEFAULT '[]',
    -- Edited by hand: Prisma cannot express a generated column (see schema.prisma).
    "search" tsvector GENERATED ALWAYS AS ((setweight(to_tsvector('english'::regconfig, subject), 'A'::"char") || setweight(to_tsvector('english'::regconfig, body_md), 'B'::"char")) || (('@s'::text || (sender_id)::text))::tsvector) STORED,

    CONSTRAINT "messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "sender_id" INTEGER NOT NULL,
    "key" TEXT NOT NULL,
    "tool" TEXT NOT NULL,
    "message_ids" INTEGER[],
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("sender_id","key")
);

-- CreateTable
CREATE TABLE "message_recipients" (
    "message_id" INTEGER NOT NULL,
    "agent_id" INTEGER NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'to',
    "read_ts" TIMESTAMPTZ(6),
    "ack_ts" TIMESTAMPTZ(6),
    "search" tsvector,

    CONSTRAINT "message_recipients_pkey" PRIMARY KEY ("message_id","agent_id")
);

-- CreateTable
CREATE TABLE "agent_links" (
    "id" SERIAL NOT NULL,
    "a_project_id" INTEGER NOT NULL,
    "a_agent_id" INTEGER NOT NULL,
    "b_project_id" INTEGER NOT NULL,
    "b_agent_id" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "reason" TEXT NOT NULL DEFAULT '',
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_ts" TIMESTAMPTZ(6),

    CONSTRAINT "agent_links_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "file_reservations" (
    "id" SERIAL NOT NULL,
    "project_id" INTEGER NOT NULL,
    "agent_id" INTEGER NOT NULL,
    "path_pattern" TEXT NOT NULL,
    "exclusive" BOOLEAN NOT NULL DEFAULT true,
    "reason" TEXT NOT NULL DEFAULT '',
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_ts" TIMESTAMPTZ(6) NOT NULL,
    "released_ts" TIMESTAMPTZ(6),

    CONSTRAINT "file_reservations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "build_slots" (
    "id" SERIAL NOT NULL,
    "project_id" INTEGER NOT NULL,
    "agent_id" INTEGER NOT NULL,
    "slot" TEXT NOT NULL,
    "branch" TEXT NOT NULL DEFAULT '',
    "exclusive" BOOLEAN NOT NULL DEFAULT true,
    "acquired_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_ts" TIMESTAMPTZ(6) NOT NULL,
    "released_ts" TIMESTAMPTZ(6),

    CONSTRAINT "build_slots_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "products" (
    "id" SERIAL NOT NULL,
    "product_uid" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "products_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "product_project_links" (
    "id" SERIAL NOT NULL,
    "product_id" INTEGER NOT NULL,
    "project_id" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "product_project_links_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "message_summaries" (
    "id" SERIAL NOT NULL,
    "project_id" INTEGER NOT NULL,
    "agent_id" INTEGER,
    "summary_text" TEXT NOT NULL,
    "start_ts" TIMESTAMPTZ(6) NOT NULL,
    "end_ts" TIMESTAMPTZ(6) NOT NULL,
    "source_message_count" INTEGER NOT NULL DEFAULT 0,
    "source_thread_ids" JSONB NOT NULL DEFAULT '[]',
    "llm_model" TEXT,
    "cost_usd" DOUBLE PRECISION,
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "message_summaries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "window_identities" (
    "id" SERIAL NOT NULL,
    "project_id" INTEGER NOT NULL,
    "window_uuid" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_active_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_ts" TIMESTAMPTZ(6),

    CONSTRAINT "window_identities_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "archive_outbox" (
    "id" BIGSERIAL NOT NULL,
    "project_id" INTEGER,
    "kind" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_ts" TIMESTAMPTZ(6),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,

    CONSTRAINT "archive_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "users" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL DEFAULT '',
    "password_hash" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'reader',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "disabled_at" TIMESTAMPTZ(6),

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "roles" TEXT[],
    "project_scopes" TEXT[],
    "user_id" INTEGER,
    "agent_id" INTEGER,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(6),
    "expires_at" TIMESTAMPTZ(6),
    "revoked_at" TIMESTAMPTZ(6),

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tool_call_metrics" (
    "id" BIGSERIAL NOT NULL,
    "tool" TEXT NOT NULL,
    "surface" TEXT NOT NULL DEFAULT 'mcp',
    "project_id" INTEGER,
    "agent_name" TEXT,
    "duration_ms" DOUBLE PRECISION NOT NULL,
    "ok" BOOLEAN NOT NULL,
    "error_code" TEXT,
    "created_ts" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tool_call_metrics_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "projects_slug_key" ON "projects"("slug");

-- CreateIndex
CREATE INDEX "projects_human_key_idx" ON "projects"("human_key");

-- CreateIndex
CREATE INDEX "agents_project_id_last_active_ts_idx" ON "agents"("project_id", "last_active_ts" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "agents_project_id_name_key_key" ON "agents"("project_id", "name_key");

-- CreateIndex
CREATE INDEX "messages_project_id_created_ts_idx" ON "messages"("project_id", "created_ts" DESC);

-- CreateIndex
CREATE INDEX "messages_project_id_thread_id_idx" ON "messages"("project_id", "thread_id");

-- CreateIndex
CREATE INDEX "messages_project_id_topic_idx" ON "messages"("project_id", "topic");

-- CreateIndex
CREATE INDEX "messages_sender_id_created_ts_idx" ON "messages"("sender_id", "created_ts" DESC);

-- CreateIndex
CREATE INDEX "messages_search_idx" ON "messages" USING GIN ("search");

-- CreateIndex
CREATE INDEX "message_recipients_agent_id_message_id_idx" ON "message_recipients"("agent_id", "message_id" DESC);

-- CreateIndex
CREATE INDEX "message_recipients_search_idx" ON "message_recipients" USING GIN ("search");

-- CreateIndex
CREATE INDEX "agent_links_b_project_id_b_agent_id_idx" ON "agent_links"("b_project_id", "b_agent_id");

-- CreateIndex
CREATE UNIQUE INDEX "agent_links_a_project_id_a_agent_id_b_project_id_b_agent_id_key" ON "agent_links"("a_project_id", "a_agent_id", "b_project_id", "b_agent_id");

-- CreateIndex
CREATE INDEX "file_reservations_project_id_released_ts_expires_ts_idx" ON "file_reservations"("project_id", "released_ts", "expires_ts");

-- CreateIndex
CREATE INDEX "file_reservations_project_id_agent_id_released_ts_idx" ON "file_reservations"("project_id", "agent_id", "released_ts");

-- CreateIndex
CREATE INDEX "build_slots_project_id_slot_released_ts_expires_ts_idx" ON "build_slots"("project_id", "slot", "released_ts", "expires_ts");

-- CreateIndex
CREATE UNIQUE INDEX "build_slots_project_id_slot_agent_id_branch_key" ON "build_slots"("project_id", "slot", "agent_id", "branch");

-- CreateIndex
CREATE UNIQUE INDEX "products_product_uid_key" ON "products"("product_uid");

-- CreateIndex
CREATE UNIQUE INDEX "products_name_key" ON "products"("name");

-- CreateIndex
CREATE INDEX "product_project_links_project_id_idx" ON "product_project_links"("project_id");

-- CreateIndex
CREATE UNIQUE INDEX "product_project_links_product_id_project_id_key" ON "product_project_links"("product_id", "project_id");

-- CreateIndex
CREATE INDEX "message_summaries_project_id_agent_id_end_ts_idx" ON "message_summaries"("project_id", "agent_id", "end_ts" DESC);

-- CreateIndex
CREATE INDEX "window_identities_project_id_expires_ts_idx" ON "window_identities"("project_id", "expires_ts");

-- CreateIndex
CREATE UNIQUE INDEX "window_identities_project_id_window_uuid_key" ON "window_identities"("project_id", "window_uuid");

-- CreateIndex
CREATE INDEX "archive_outbox_processed_ts_id_idx" ON "archive_outbox"("processed_ts", "id");

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "tool_call_metrics_tool_created_ts_idx" ON "tool_call_metrics"("tool", "created_ts");

-- CreateIndex
CREATE INDEX "tool_call_metrics_created_ts_idx" ON "tool_call_metrics"("created_ts");

-- AddForeignKey
ALTER TABLE "agents" ADD CONSTRAINT "agents_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_sender_id_fkey" FOREIGN KEY ("sender_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_sender_id_fkey" FOREIGN KEY ("sender_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "message_recipients" ADD CONSTRAINT "message_recipients_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "message_recipients" ADD CONSTRAINT "message_recipients_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_links" ADD CONSTRAINT "agent_links_a_agent_id_fkey" FOREIGN KEY ("a_agent_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_links" ADD CONSTRAINT "agent_links_b_agent_id_fkey" FOREIGN KEY ("b_agent_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "file_reservations" ADD CONSTRAINT "file_reservations_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "file_reservations" ADD CONSTRAINT "file_reservations_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "build_slots" ADD CONSTRAINT "build_slots_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "build_slots" ADD CONSTRAINT "build_slots_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "product_project_links" ADD CONSTRAINT "product_project_links_product_id_fkey" FOREIGN KEY ("product_id") REFERENCES "products"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "product_project_links" ADD CONSTRAINT "product_project_links_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "message_summaries" ADD CONSTRAINT "message_summaries_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "message_summaries" ADD CONSTRAINT "message_summaries_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "window_identities" ADD CONSTRAINT "window_identities_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;
