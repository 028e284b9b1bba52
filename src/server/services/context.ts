import path from "node:path";
import { env, redactedDatabaseUrl } from "@/env";
import type { Actor } from "@/server/auth/actor";
import { authConfigFromEnv, type AuthConfig } from "@/server/auth/config";
import type { RateLimitConfig, RateLimits, RateLimitStore } from "@/server/auth/rate-limits";
import type { Agent, Project } from "@/generated/prisma/client";
import type { Db, Prisma } from "@/server/db/client";
import type { EventBus } from "@/server/events/bus";
import type { NameMode } from "./agents/names";

/** Contact-policy settings (CONTACT_ENFORCEMENT_ENABLED, CONTACT_AUTO_TTL_SECONDS, …). */
export interface ContactConfig {
  enforcementEnabled: boolean;
  autoTtlSeconds: number;
  autoHandshakeOnBlock: boolean;
  defaultPolicy: "open" | "auto" | "contacts_only" | "block_all";
}

/** File-reservation settings (FILE_RESERVATION_INACTIVITY_SECONDS, …). */
export interface ReservationConfig {
  inactivitySeconds: number;
  activityGraceSeconds: number;
  /** Archive-surface reservations block message writes (reference §4.5). */
  enforcementEnabled: boolean;
}

/** Periodic jobs (src/server/jobs): each runs once per interval across every instance. */
export interface JobsConfig {
  autoRetire: { enabled: boolean; intervalSeconds: number; thresholdSeconds: number };
  reservationCleanup: { enabled: boolean; intervalSeconds: number };
}

export interface ArchiveConfig {
  enabled: boolean;
  /** Absolute path of the archive repository. */
  dir: string;
  authorName: string;
  authorEmail: string;
  remote?: string;
}

export interface AttachmentConfig {
  maxBytes: number;
  maxTotalBytes: number;
}

/** Settings the services read; built from the environment, overridable per context in tests. */
export interface ServiceConfig {
  environment: string;
  /** Who may call: local mode or bearer tokens (src/server/auth/config.ts). */
  auth: AuthConfig;
  /** Calls per minute per principal and class; failed authentications per client address. */
  rateLimits: RateLimitConfig;
  /** Where the counters live when not in the database: REDIS_URL. */
  rateLimitStore?: RateLimitStore;
  nameMode: NameMode;
  databaseLabel: string;
  httpHost: string;
  httpPort: number;
  mcpPath: string;
  maxBodyBytes: number;
  maxRecipients: number;
  contacts: ContactConfig;
  reservations: ReservationConfig;
  jobs: JobsConfig;
  archive: ArchiveConfig;
  attachments: AttachmentConfig;
  /** OpenAI-compatible chat endpoint for summary refinement; undefined keeps summaries heuristic. */
  llm?: { baseUrl: string; apiKey?: string; model: string };
  /** Days tool-call metrics are kept (default 7). */
  toolMetricsRetentionDays?: number;
}

export function configFromEnv(): ServiceConfig {
  return {
    environment: env.APP_ENVIRONMENT,
    auth: authConfigFromEnv(),
    rateLimits: {
      reads: env.RATE_LIMIT_READS_PER_MINUTE,
      writes: env.RATE_LIMIT_WRITES_PER_MINUTE,
      search: env.RATE_LIMIT_SEARCH_PER_MINUTE,
      auth_failures: env.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE,
    },
    rateLimitStore: { redisUrl: env.REDIS_URL },
    nameMode: env.AGENT_NAME_ENFORCEMENT_MODE,
    databaseLabel: redactedDatabaseUrl(),
    httpHost: env.HOSTNAME,
    httpPort: env.PORT,
    mcpPath: "/api/mcp",
    maxBodyBytes: env.MAX_BODY_BYTES,
    maxRecipients: env.MAX_RECIPIENTS,
    toolMetricsRetentionDays: env.TOOL_METRICS_RETENTION_DAYS,
    contacts: {
      enforcementEnabled: env.CONTACT_ENFORCEMENT_ENABLED,
      autoTtlSeconds: env.CONTACT_AUTO_TTL_SECONDS,
      autoHandshakeOnBlock: env.MESSAGING_AUTO_HANDSHAKE_ON_BLOCK,
      defaultPolicy: env.CONTACT_POLICY_DEFAULT,
    },
    reservations: {
      inactivitySeconds: env.FILE_RESERVATION_INACTIVITY_SECONDS,
      activityGraceSeconds: env.FILE_RESERVATION_ACTIVITY_GRACE_SECONDS,
      enforcementEnabled: env.FILE_RESERVATIONS_ENFORCEMENT_ENABLED,
    },
    jobs: {
      autoRetire: {
        enabled: env.AUTO_RETIRE_STALE_AGENTS_ENABLED,
        intervalSeconds: env.AUTO_RETIRE_STALE_AGENTS_INTERVAL_SECONDS,
        thresholdSeconds: env.AUTO_RETIRE_STALE_AGENTS_THRESHOLD_SECONDS,
      },
      reservationCleanup: { enabled: env.FILE_RESERVATIONS_CLEANUP_ENABLED, intervalSeconds: env.FILE_RESERVATIONS_CLEANUP_INTERVAL_SECONDS },
    },
    archive: {
      enabled: env.ARCHIVE_ENABLED,
      dir: path.resolve(env.ARCHIVE_DIR ?? path.join(env.DATA_DIR, "archive")),
      authorName: env.ARCHIVE_AUTHOR_NAME,
      authorEmail: env.ARCHIVE_AUTHOR_EMAIL,
      remote: env.ARCHIVE_REMOTE,
    },
    attachments: { maxBytes: env.ATTACHMENT_MAX_BYTES, maxTotalBytes: env.ATTACHMENTS_MAX_TOTAL_BYTES },
    llm: env.LLM_BASE_URL ? { baseUrl: env.LLM_BASE_URL, apiKey: env.LLM_API_KEY, model: env.LLM_MODEL } : undefined,
  };
}

/** Everything a service function needs besides its input. */
export interface ServiceContext {
  /** The process's client, or the open transaction's inside `withTransaction`. */
  db: Db;
  /** Set inside `withTransaction`: nested calls join the open transaction. */
  inTransaction?: true;
  actor: Actor;
  config: ServiceConfig;
  /** Wake-ups for wait_for_mail and /api/events; absent in contexts that never wait. */
  events?: EventBus;
  /** Aborted when the caller goes away: long waits stop early. */
  signal?: AbortSignal;
  /** Per-principal rate limits (request surfaces set them; services called directly are not limited). */
  limits?: RateLimits;
}

/** An operation scoped to one project: the project is resolved and within the actor's scopes. */
export interface ProjectContext extends ServiceContext {
  project: Project;
}

/** An operation acting as one agent: the agent is authenticated (token or bound credential). */
export interface AgentContext extends ProjectContext {
  agent: Agent;
}

/**
 * Runs `fn` in one database transaction: everything it writes commits together or not at all.
 * Inside an open transaction it simply joins it, so services compose without knowing who opened it.
 */
export function withTransaction<C extends ServiceContext, T>(ctx: C, fn: (tx: C) => Promise<T>): Promise<T> {
  if (ctx.inTransaction) return fn(ctx);
  return (ctx.db as Prisma).$transaction((db) => fn({ ...ctx, db, inTransaction: true }));
}
