import { z } from "zod";
import { parseFlag } from "@/server/schemas/common";

// The one reader of process.env. Every setting is validated here, once, with its default, so a
// typo in a deployment fails at start with the variable's name rather than deep inside a request.

// The same words as every other text flag (resource query parameters): one boolean rule everywhere.
const bool = z.string().transform((value, context) => {
  const flag = parseFlag(value);
  if (flag === undefined) context.addIssue({ code: "custom", message: "must be true or false (1/0, yes/no and on/off also work)" });
  return flag ?? false;
});

// An ALLOWED_HOSTS entry: a host name or IP address (IPv6 in brackets) with an optional :port, or
// `.domain` for the domain and all its subdomains.
const HOST_ENTRY = /^\.?(\[[0-9a-f:.]+\]|[a-z0-9_-]+(\.[a-z0-9_-]+)*)(:\d{1,5})?$/i;

const KIB = 1024;
/** JSON escaping can make a string up to six times longer (a control character becomes \u00XX). */
const JSON_ESCAPE_FACTOR = 6;

const fields = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  APP_ENVIRONMENT: z.string().min(1).default("development"),
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined)
    .pipe(z.url({ protocol: /^postgres(ql)?$/, error: "DATABASE_URL must be a postgres:// or postgresql:// URL" }).optional()),
  DATA_DIR: z.string().min(1).default("./data"),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOSTNAME: z.string().min(1).default("127.0.0.1"),
  /** How clients reach the server (e.g. behind a reverse proxy); its host passes the Host/Origin guard. */
  PUBLIC_URL: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined)
    .pipe(z.url({ protocol: /^https?$/, error: "PUBLIC_URL must be an http:// or https:// URL" }).optional()),
  /** Further names the Host/Origin guard lets through, comma-separated. */
  ALLOWED_HOSTS: z
    .string()
    .default("")
    .transform((value) => value.split(",").map((entry) => entry.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(HOST_ENTRY, "ALLOWED_HOSTS entries must be host names (optionally :port, or .domain for subdomains), comma-separated"))),
  /**
   * Reverse proxies in front of the server that append the client's address to X-Forwarded-For:
   * with 1 (one proxy), failed authentications count against the address that proxy saw instead of
   * the proxy's own. 0: the socket's address (a client-sent X-Forwarded-For is never trusted).
   */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  /** Largest HTTP request body the server reads (MCP and tRPC posts); larger ones get 413 unread. */
  MAX_REQUEST_BYTES: z.coerce.number().int().min(64 * KIB).optional(),
  AGENT_NAME_ENFORCEMENT_MODE: z.enum(["coerce", "strict", "always_auto"]).default("coerce"),
  MAILROOM_MIGRATE_ON_START: bool.default(true),
  /** full, core, lazy, or a comma list of tools and clusters; the names are checked when the MCP catalog loads. */
  MCP_TOOLS_PROFILE: z
    .string()
    .trim()
    .min(1)
    .max(2000)
    .regex(/^[a-z0-9_,\s]+$/i, "must be full, core, lazy or a comma list of tool and cluster names")
    .default("full"),
  /** Days tool_call_metrics rows are kept (tooling/metrics and tooling/recent read them). */
  TOOL_METRICS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(256 * 1024),
  MAX_RECIPIENTS: z.coerce.number().int().min(1).max(10_000).default(100),
  /** OpenAI-compatible endpoint for refining thread summaries; unset = heuristic summaries only. */
  LLM_BASE_URL: z.url().optional(),
  LLM_API_KEY: z.string().optional(),
  LLM_MODEL: z.string().default("gpt-4o-mini"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  /** Contact policies are enforced on send_message and reply_message (false lets every send through). */
  CONTACT_ENFORCEMENT_ENABLED: bool.default(true),
  /** Under the `auto` policy, a message either way within this many seconds counts as contact. */
  CONTACT_AUTO_TTL_SECONDS: z.coerce.number().int().min(0).max(365 * 86_400).default(86_400),
  /** A send refused for want of contact files a pending contact request for each refused recipient. */
  MESSAGING_AUTO_HANDSHAKE_ON_BLOCK: bool.default(true),
  /** The contact policy a newly registered agent starts with. */
  CONTACT_POLICY_DEFAULT: z.enum(["open", "auto", "contacts_only", "block_all"]).default("auto"),
  /** A reservation whose holder has been inactive this long (and shows no recent activity) is stale. */
  FILE_RESERVATION_INACTIVITY_SECONDS: z.coerce.number().int().min(1).max(365 * 86_400).default(1800),
  /** Mail, file or git activity within this many seconds keeps a reservation from being stale. */
  FILE_RESERVATION_ACTIVITY_GRACE_SECONDS: z.coerce.number().int().min(1).max(365 * 86_400).default(900),
  /** Reservations on archive surfaces (agents/…, messages/…) block the message writes they cover. */
  FILE_RESERVATIONS_ENFORCEMENT_ENABLED: bool.default(true),
  /** Periodic release of expired and stale reservations (once per interval across all instances). */
  FILE_RESERVATIONS_CLEANUP_ENABLED: bool.default(true),
  FILE_RESERVATIONS_CLEANUP_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Agents silent for AUTO_RETIRE_STALE_AGENTS_THRESHOLD_SECONDS (at least 60) are retired, checked every interval. */
  AUTO_RETIRE_STALE_AGENTS_ENABLED: bool.default(true),
  AUTO_RETIRE_STALE_AGENTS_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(7 * 86_400).default(3600),
  AUTO_RETIRE_STALE_AGENTS_THRESHOLD_SECONDS: z.coerce.number().int().min(60).max(365 * 86_400).default(86_400),
  /** The Git audit archive: a worker turns archive_outbox rows into commits (one writer across instances). */
  ARCHIVE_ENABLED: bool.default(true),
  /** The archive repository's directory; default `<DATA_DIR>/archive`. */
  ARCHIVE_DIR: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined),
  ARCHIVE_AUTHOR_NAME: z.string().trim().min(1).max(200).default("Mailroom"),
  ARCHIVE_AUTHOR_EMAIL: z.string().trim().min(3).max(200).regex(/^[^\s<>@]+@[^\s<>@]+$/, "must be an email address").default("mailroom@localhost"),
  /** A Git remote (URL or path) the writer pushes to after each batch and fetches from when it takes over. */
  ARCHIVE_REMOTE: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined),
  /** HS256 secret for agents' and tools' bearer tokens (at least 32 characters); setting it ends local mode. */
  JWT_SECRET: z
    .string()
    .optional()
    .transform((value) => value || undefined)
    .pipe(z.string().min(32, "JWT_SECRET must be at least 32 characters (openssl rand -hex 32)").max(4096).optional()),
  /** A JWKS URL whose keys sign bearer tokens (cached and refreshed on rotation); needs JWT_ISSUER and JWT_AUDIENCE. */
  JWT_JWKS_URL: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined)
    .pipe(z.url({ protocol: /^https?$/, error: "JWT_JWKS_URL must be an http:// or https:// URL" }).optional())
    // Keys fetched in clear could be swapped on the way: http only to this machine.
    .refine((value) => !value || value.startsWith("https://") || /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//.test(value), "JWT_JWKS_URL must use https:// (http:// only for localhost)"),
  /** The `iss` every bearer token must carry (checked when set; required with JWT_JWKS_URL). */
  JWT_ISSUER: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined),
  /** The `aud` every bearer token must carry (checked when set; required with JWT_JWKS_URL). */
  JWT_AUDIENCE: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined),
  /** Signs and encrypts dashboard sessions (next-auth); derived from JWT_SECRET when unset. Needed with JWT_JWKS_URL alone. */
  NEXTAUTH_SECRET: z
    .string()
    .optional()
    .transform((value) => value || undefined)
    .pipe(z.string().min(32, "NEXTAUTH_SECRET must be at least 32 characters (openssl rand -hex 32)").max(4096).optional()),
  /** How long a dashboard sign-in lasts. */
  SESSION_MAX_AGE_HOURS: z.coerce.number().int().min(1).max(24 * 90).default(12),
  /** An OpenID Connect issuer for dashboard sign-in (its /.well-known/openid-configuration is read); needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET. */
  OIDC_ISSUER: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined)
    .pipe(z.url({ protocol: /^https?$/, error: "OIDC_ISSUER must be an http:// or https:// URL" }).optional()),
  OIDC_CLIENT_ID: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined),
  OIDC_CLIENT_SECRET: z
    .string()
    .optional()
    .transform((value) => value || undefined),
  /** The sign-in button's label. */
  OIDC_NAME: z.string().trim().min(1).max(60).default("Single sign-on"),
  /** Role given to an OIDC user who has no account yet; unset: only users an admin created may sign in. */
  OIDC_DEFAULT_ROLE: z.enum(["reader", "writer", "admin"]).optional(),
  /** Redis for rate-limit counters shared by every instance (else they live in Postgres, or in memory on the embedded database). */
  REDIS_URL: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined)
    .pipe(z.url({ protocol: /^rediss?$/, error: "REDIS_URL must be a redis:// or rediss:// URL" }).optional()),
  // ----- the `mailroom` command as a client of a running server -----
  /** Where the server is (e.g. https://mail.example.com); default http://127.0.0.1:<PORT>. */
  MAILROOM_URL: z
    .string()
    .trim()
    .optional()
    .transform((value) => value || undefined)
    .pipe(z.url({ protocol: /^https?$/, error: "MAILROOM_URL must be an http:// or https:// URL" }).optional()),
  /** The bearer token the command sends (Authorization: Bearer …); unset in local mode. */
  MAILROOM_TOKEN: z
    .string()
    .trim()
    .max(8192)
    .optional()
    .transform((value) => value || undefined),
  /** Defaults for agents' shell commands (--project, --agent, --agent-token). */
  MAILROOM_PROJECT: z.string().trim().max(1024).optional().transform((value) => value || undefined),
  MAILROOM_AGENT: z.string().trim().max(128).optional().transform((value) => value || undefined),
  MAILROOM_AGENT_TOKEN: z.string().trim().max(512).optional().transform((value) => value || undefined),
  /** Calls per minute per token (principal) for read operations; 0 turns the limit off. Not applied in local mode. */
  RATE_LIMIT_READS_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(1200),
  /** Calls per minute per token for operations that write. */
  RATE_LIMIT_WRITES_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(600),
  /** search_messages calls per minute per token. */
  RATE_LIMIT_SEARCH_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(120),
  /** Failed authentications per minute per client address; past it, 429 instead of 401. */
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(30),
  /** Largest single attachment, decoded bytes. */
  ATTACHMENT_MAX_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * KIB).default(1024 * KIB),
  /** Largest total of one message's attachments, decoded bytes. */
  ATTACHMENTS_MAX_TOTAL_BYTES: z.coerce.number().int().min(1024).max(256 * 1024 * KIB).default(4096 * KIB),
});

const schema = fields.transform((value, context) => {
  if (value.JWT_JWKS_URL) {
    for (const name of ["JWT_ISSUER", "JWT_AUDIENCE"] as const) {
      if (!value[name]) context.addIssue({ code: "custom", path: [name], message: `${name} must be set with JWT_JWKS_URL: tokens from an outside issuer are checked for issuer and audience` });
    }
  }
  if (value.JWT_JWKS_URL && !value.JWT_SECRET && !value.NEXTAUTH_SECRET) {
    context.addIssue({ code: "custom", path: ["NEXTAUTH_SECRET"], message: "must be set with JWT_JWKS_URL when JWT_SECRET is not: it signs dashboard sessions" });
  }
  if (value.OIDC_ISSUER) {
    for (const name of ["OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"] as const) {
      if (!value[name]) context.addIssue({ code: "custom", path: [name], message: `${name} must be set with OIDC_ISSUER` });
    }
    if (!value.JWT_SECRET && !value.JWT_JWKS_URL) context.addIssue({ code: "custom", path: ["OIDC_ISSUER"], message: "needs JWT_SECRET (or JWT_JWKS_URL): in local mode nobody signs in" });
  }
  // A send_message call carrying the largest allowed body must fit in one request, escaped, with
  // room for its other arguments and the JSON-RPC envelope.
  // Attachments travel as base64 (4 bytes per 3).
  const needed = value.MAX_BODY_BYTES * JSON_ESCAPE_FACTOR + Math.ceil((value.ATTACHMENTS_MAX_TOTAL_BYTES * 4) / 3) + 64 * KIB;
  if (value.MAX_REQUEST_BYTES === undefined) return { ...value, MAX_REQUEST_BYTES: Math.max(4096 * KIB, needed) };
  if (value.MAX_REQUEST_BYTES < needed) {
    context.addIssue({
      code: "custom",
      path: ["MAX_REQUEST_BYTES"],
      message: `must be at least ${needed} (${JSON_ESCAPE_FACTOR} × MAX_BODY_BYTES + 4/3 × ATTACHMENTS_MAX_TOTAL_BYTES + 64 KiB) so that the largest message fits in a request once JSON-escaped and base64-encoded`,
    });
  }
  return { ...value, MAX_REQUEST_BYTES: value.MAX_REQUEST_BYTES };
});

export type Env = z.infer<typeof schema>;

function parseEnv(source: NodeJS.ProcessEnv): Env {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`Invalid environment:\n${problems.join("\n")}`);
  }
  return parsed.data;
}

export const env: Env = parseEnv(process.env);

// next-auth reads its origin (for redirects and the secure-cookie choice) from the environment
// only. PUBLIC_URL is that origin when set; otherwise the request's Host is, which is safe here
// because the edge's Host guard already refused every Host this server does not answer to.
if (!process.env.NEXTAUTH_URL) {
  if (env.PUBLIC_URL) process.env.NEXTAUTH_URL = env.PUBLIC_URL;
  else process.env.AUTH_TRUST_HOST ??= "true";
}

/** Secrets that must never be printed: the database password is redacted from its URL. */
export function redactedDatabaseUrl(url: string | undefined = env.DATABASE_URL): string {
  if (!url) return "pglite (embedded)";
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
