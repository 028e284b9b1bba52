import { z } from "zod";

// Pieces shared by several domain contracts.

/** Missing → "is required", so `field: is required` reads right for every field name. */
const text = () => z.string({ error: (issue) => (issue.input === undefined ? "is required" : "must be a string") });

export const projectKey = text()
  .trim()
  .min(1, "is required")
  .max(1024)
  .describe("Project human_key (absolute path) or slug.");

export const agentName = text()
  .trim()
  .min(1, "is required")
  .max(128)
  .describe("Agent name (case-insensitive).");

/** An empty string means "no token", as clients that always send the field expect. */
export const optionalToken = (description: string) =>
  z
    .string()
    .max(256)
    .nullish()
    .transform((value) => value || undefined)
    .optional()
    .describe(description);

export const registrationToken = optionalToken("Token from register_agent: proves you are the agent.");

/**
 * `format` is accepted on every tool for compatibility with mcp_agent_mail clients. Results are
 * always JSON: upstream itself falls back to JSON when its TOON encoder is unavailable.
 */
export const outputFormat = z
  .enum(["json", "application/json", "text/json", "toon", "application/toon", "text/toon", "", "auto", "default", "none", "null"])
  .nullish()
  .describe("Output format; results are JSON.");

/** Postgres `integer`: ids, cursors and counts above it could never match and used to fail inside the database. */
export const INT32_MAX = 2_147_483_647;

/** A row id (message_id, …). */
export const rowId = z.number().int().min(1).max(INT32_MAX);

/** A since_id cursor: 0 means "from the start". */
export const cursorId = z.number().int().min(0).max(INT32_MAX);

/** A limit the service clamps into its own range (below 1 is refused as INVALID_LIMIT). */
export const looseLimit = (fallback: number) => z.number().int().min(-INT32_MAX).max(INT32_MAX).default(fallback);

/** Operations that take no arguments still accept the compatibility `format`. */
export const noInput = z.strictObject({ format: outputFormat });

// Resource URIs carry their arguments as text (`resource://inbox/BlueLake?limit=5&include_bodies=yes`).
// These accept the text forms and the JSON ones (tRPC sends those), with one rule for everything.

export const TRUE_WORDS = ["true", "1", "yes", "on", "t", "y"] as const;
export const FALSE_WORDS = ["false", "0", "no", "off", "f", "n"] as const;

/** The one boolean rule for text: true/1/yes/on/t/y and false/0/no/off/f/n, any case; anything else is an error. */
export function parseFlag(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if ((TRUE_WORDS as readonly string[]).includes(word)) return true;
  if ((FALSE_WORDS as readonly string[]).includes(word)) return false;
  return undefined;
}

export const queryFlag = z.union([z.boolean(), z.string().max(8)]).transform((value, ctx) => {
  if (typeof value === "boolean") return value;
  const flag = parseFlag(value);
  if (flag === undefined) ctx.addIssue({ code: "custom", message: "must be true or false (1/0, yes/no and on/off also work)" });
  return flag ?? false;
});

/** A whole number given as a number or as decimal text. */
export const queryInt = (min: number, max: number) =>
  z
    .union([z.number().int().min(min).max(max), z.string().max(11).regex(/^-?\d+$/, "must be a whole number").transform(Number)])
    .pipe(z.number().int().min(min).max(max));

// ----- result contracts (checked against real results by tests/integration/operation-contracts) -----

/** Timestamps on the wire: ISO-8601 UTC with an explicit +00:00 offset. */
export const timestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/);

export const projectOutput = z.looseObject({
  id: z.number().int(),
  slug: z.string(),
  human_key: z.string(),
  created_at: timestamp,
  archived_at: timestamp.optional(),
});

export const agentOutput = z.looseObject({
  id: z.number().int(),
  name: z.string(),
  program: z.string(),
  model: z.string(),
  task_description: z.string(),
  inception_ts: timestamp,
  last_active_ts: timestamp,
  project_id: z.number().int(),
  attachments_policy: z.string(),
  retired_at: timestamp.optional(),
});

/** One attachment as message payloads list it; `uri` reads it (resource://attachment/{message_id}/{sha256}). */
export const attachmentOutput = z.strictObject({
  name: z.string(),
  media_type: z.string(),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  uri: z.string(),
});

export const messageOutput = z.looseObject({
  id: z.number().int(),
  project_id: z.number().int(),
  sender_id: z.number().int(),
  thread_id: z.string().nullable(),
  topic: z.string().nullable(),
  subject: z.string(),
  importance: z.string(),
  ack_required: z.boolean(),
  created_ts: timestamp,
  attachments: z.array(attachmentOutput),
  from: z.string(),
  body_md: z.string().optional(),
});

export const recipientListsOutput = { to: z.array(z.string()), cc: z.array(z.string()), bcc: z.array(z.string()) };
export const inboxItemOutput = messageOutput.extend({ kind: z.enum(["to", "cc", "bcc"]) });
export const stateItemOutput = inboxItemOutput.extend({ read_at: timestamp.nullable(), ack_at: timestamp.nullable() });
export const messageWithRecipientsOutput = messageOutput.extend(recipientListsOutput);
