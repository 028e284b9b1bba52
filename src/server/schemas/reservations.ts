import { z } from "zod";
import { PATTERN_ANY_DEPTH_MAX, PATTERN_MAX_CHARS, PATTERN_SEGMENTS_MAX, normalizePattern } from "@/server/services/reservations/match";
import { INT32_MAX, agentName, outputFormat, projectKey, queryFlag, registrationToken, rowId, timestamp } from "./common";

/** Path patterns in one call; each is matched against every active reservation of the project. */
export const PATHS_MAX = 256;
const IDS_MAX = 1000;
const REASON_MAX = 512;
/**
 * Longest lease: a grant asks for at most this, and renewing never takes a reservation further
 * than this from now (release.ts clamps, and says so). Beyond it leases outlive any session, and
 * repeated renews once ran expires_ts past year 9999, where ISO timestamps break.
 */
export const RESERVATION_TTL_MAX_SECONDS = 30 * 86_400;

const segmentsOf = (pattern: string) => normalizePattern(pattern).split("/");

/**
 * One pattern. A candidate is also matched as a literal path against stored patterns, so these
 * bounds hold for both sides: with them one match is at most ~2 × 64 × 64 steps (match.ts).
 */
export const pathPattern = z
  .string()
  .max(PATTERN_MAX_CHARS)
  .refine((pattern) => segmentsOf(pattern).length <= PATTERN_SEGMENTS_MAX, `must have at most ${PATTERN_SEGMENTS_MAX} '/'-separated segments`)
  .refine(
    (pattern) => segmentsOf(pattern).filter((segment) => segment === "**").length <= PATTERN_ANY_DEPTH_MAX,
    `must have at most ${PATTERN_ANY_DEPTH_MAX} '**' segments`,
  );

export const pathPatterns = z.array(pathPattern).max(PATHS_MAX);

export const reservationTtl = (fallback: number) =>
  z.number().int().min(1).max(RESERVATION_TTL_MAX_SECONDS, `must be at most ${RESERVATION_TTL_MAX_SECONDS} (30 days)`).default(fallback);

const paths = pathPatterns.describe("Gitignore globs (src/**, *.md, docs/) or tool://, service:// names.");
const pathFilter = z.array(z.string().max(PATTERN_MAX_CHARS)).max(PATHS_MAX).nullish().describe("Only these exact patterns.");
const idFilter = z.array(rowId).max(IDS_MAX).nullish().describe("Only these reservation ids.");
const exclusive = z.boolean().default(true).describe("Exclusive (default) or shared; two shared never conflict.");

export const fileReservationPathsInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  paths,
  ttl_seconds: reservationTtl(3600),
  exclusive,
  reason: z.string().max(REASON_MAX).default(""),
  refuse_conflicts: z.boolean().default(false).describe("Lock mode: grant nothing if any path conflicts."),
  idempotency_key: z.string().trim().min(1).max(200).optional().describe("A retry with this key returns the first result."),
  registration_token: registrationToken,
  format: outputFormat,
});
export type FileReservationPathsInput = z.infer<typeof fileReservationPathsInput>;

export const checkConflictsInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  paths,
  exclusive,
  registration_token: registrationToken,
  format: outputFormat,
});
export type CheckConflictsInput = z.infer<typeof checkConflictsInput>;

export const releaseInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  paths: pathFilter,
  file_reservation_ids: idFilter,
  registration_token: registrationToken,
  format: outputFormat,
});
export type ReleaseInput = z.infer<typeof releaseInput>;

export const renewInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  extend_seconds: z
    .number()
    .int()
    .min(-INT32_MAX)
    .max(RESERVATION_TTL_MAX_SECONDS, `must be at most ${RESERVATION_TTL_MAX_SECONDS} (30 days)`)
    .default(1800)
    .describe("At least 60."),
  paths: pathFilter,
  file_reservation_ids: idFilter,
  registration_token: registrationToken,
  format: outputFormat,
});
export type RenewInput = z.infer<typeof renewInput>;

export const forceReleaseInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName.describe("You (the actor), not the holder."),
  file_reservation_id: rowId,
  notify_previous: z.boolean().default(true).describe("Mail the holder about the release."),
  note: z.string().max(2000).default(""),
  registration_token: registrationToken,
  format: outputFormat,
});
export type ForceReleaseInput = z.infer<typeof forceReleaseInput>;

export const reservationsResourceInput = z.strictObject({
  project_key: projectKey,
  active_only: queryFlag.default(true),
  format: outputFormat,
});
export type ReservationsResourceInput = z.infer<typeof reservationsResourceInput>;

// ----- results -----

const holder = z.strictObject({ agent: z.string(), path_pattern: z.string(), exclusive: z.boolean(), expires_ts: timestamp });
export const conflictOutput = z.strictObject({ path: z.string(), holders: z.array(holder) });
const granted = z.strictObject({ id: z.number().int(), path_pattern: z.string(), exclusive: z.boolean(), reason: z.string(), expires_ts: timestamp });

export const grantOutput = z.strictObject({
  granted: z.array(granted),
  conflicts: z.array(conflictOutput),
  refused: z.boolean().optional(),
  idempotent_replay: z.boolean().optional(),
});

export const checkOutput = z.strictObject({ conflicts: z.array(conflictOutput), would_conflict: z.boolean() });

export const releaseOutput = z.strictObject({ released: z.number().int(), released_at: timestamp });

export const renewOutput = z.strictObject({
  renewed: z.number().int(),
  file_reservations: z.array(
    z.strictObject({
      id: z.number().int(),
      path_pattern: z.string(),
      old_expires_ts: timestamp,
      new_expires_ts: timestamp,
      /** Held at now + RESERVATION_TTL_MAX_SECONDS instead of going further. */
      capped: z.literal(true).optional(),
    }),
  ),
});

export const activityOutput = {
  stale_reasons: z.array(z.string()),
  last_agent_activity_ts: timestamp.nullable(),
  last_mail_activity_ts: timestamp.nullable(),
  last_filesystem_activity_ts: timestamp.nullable(),
  last_git_activity_ts: timestamp.nullable(),
};

const reservationBase = {
  id: z.number().int(),
  agent: z.string(),
  path_pattern: z.string(),
  exclusive: z.boolean(),
  reason: z.string(),
  created_ts: timestamp,
  expires_ts: timestamp,
  released_ts: timestamp.nullable(),
};

export const forceReleaseOutput = z.strictObject({
  released: z.number().int(),
  released_at: timestamp,
  already_released: z.boolean().optional(),
  expired: z.boolean().optional(),
  reservation: z
    .strictObject({ ...reservationBase, ...activityOutput, notified: z.boolean(), notification_error: z.string().optional() })
    .optional(),
});

export const reservationListOutput = z.array(z.strictObject({ ...reservationBase, stale: z.boolean(), ...activityOutput }));
