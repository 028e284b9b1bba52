import { z } from "zod";
import { REQUEST_TTL_SECONDS } from "@/server/services/contacts/policy";
import { INT32_MAX, agentName, looseLimit, optionalToken, outputFormat, projectKey, registrationToken } from "./common";
import { pathPatterns, reservationTtl } from "./reservations";

// Contracts of the workflow macros (§2.2 macro_start_session … macro_contact_handshake).

// The reservation tool's own bounds, so a macro refuses a pattern or TTL under its own field name.
const paths = pathPatterns;
const program = z.string().trim().max(128);
const model = z.string().trim().max(128);
const taskDescription = z.string().max(2048).default("");
const optionalName = z.string().trim().max(128).nullish();

export const macroStartSessionInput = z.strictObject({
  human_key: z.string().trim().min(1, "is required").max(1024).describe("Project's absolute path (created if new)."),
  program,
  model,
  task_description: taskDescription,
  agent_name: optionalName.describe("Existing or new name (omit for a generated one)."),
  registration_token: registrationToken,
  file_reservation_paths: paths.nullish().describe("Reserve these patterns (exclusive)."),
  file_reservation_reason: z.string().max(512).default("macro-session"),
  file_reservation_ttl_seconds: reservationTtl(3600),
  inbox_limit: looseLimit(10),
  format: outputFormat,
});
export type MacroStartSessionInput = z.infer<typeof macroStartSessionInput>;

export const macroPrepareThreadInput = z.strictObject({
  project_key: projectKey,
  thread_id: z.string().max(256).describe("The thread to summarise."),
  program,
  model,
  agent_name: optionalName,
  registration_token: registrationToken,
  task_description: taskDescription,
  register_if_missing: z.boolean().default(true).describe("Register agent_name (or a generated name) when it does not exist."),
  include_examples: z.boolean().default(true),
  inbox_limit: looseLimit(10),
  include_inbox_bodies: z.boolean().default(false),
  llm_mode: z.boolean().default(true),
  llm_model: z.string().max(128).nullish(),
  format: outputFormat,
});
export type MacroPrepareThreadInput = z.infer<typeof macroPrepareThreadInput>;

export const macroFileReservationCycleInput = z.strictObject({
  project_key: projectKey,
  agent_name: agentName,
  paths,
  ttl_seconds: reservationTtl(3600),
  exclusive: z.boolean().default(true),
  reason: z.string().max(512).default("macro-file_reservation"),
  auto_release: z.boolean().default(false).describe("Release the same paths straight away."),
  registration_token: registrationToken,
  format: outputFormat,
});
export type MacroFileReservationCycleInput = z.infer<typeof macroFileReservationCycleInput>;

export const macroContactHandshakeInput = z.strictObject({
  project_key: projectKey,
  requester: optionalName.describe("Asking agent (alias agent_name)."),
  target: z.string().trim().max(1200).nullish().describe("Target: Name, project:<slug>#Name or Name@<project> (alias to_agent)."),
  reason: z.string().max(2000).default(""),
  ttl_seconds: z.number().int().min(-INT32_MAX).max(INT32_MAX).default(REQUEST_TTL_SECONDS),
  auto_accept: z.boolean().default(false).describe("Approve at once (needs the target's token)."),
  welcome_subject: z.string().max(10_000).nullish(),
  welcome_body: z.string().max(256 * 1024).nullish(),
  to_project: z.string().trim().max(1024).nullish(),
  requester_registration_token: optionalToken("Requester's registration_token."),
  target_registration_token: optionalToken("Target's registration_token (for auto_accept)."),
  agent_name: optionalName,
  to_agent: z.string().trim().max(1200).nullish(),
  register_if_missing: z.boolean().default(true).describe("Accepted for compatibility; targets must be registered."),
  program: z.string().max(128).nullish(),
  model: z.string().max(128).nullish(),
  task_description: z.string().max(2048).nullish(),
  thread_id: z.string().max(256).nullish().describe("Thread for the welcome message."),
  format: outputFormat,
});
export type MacroContactHandshakeInput = z.infer<typeof macroContactHandshakeInput>;

const grantOutput = z.looseObject({ granted: z.array(z.unknown()), conflicts: z.array(z.unknown()) });

export const macroStartSessionOutput = z.strictObject({
  project: z.looseObject({ id: z.number().int(), slug: z.string(), human_key: z.string() }),
  agent: z.looseObject({ id: z.number().int(), name: z.string() }),
  registration_token: z.string().nullable(),
  file_reservations: grantOutput,
  inbox: z.array(z.unknown()),
});

export const macroPrepareThreadOutput = z.strictObject({
  project: z.looseObject({ id: z.number().int(), slug: z.string(), human_key: z.string() }),
  agent: z.looseObject({ id: z.number().int(), name: z.string() }),
  registration_token: z.string().nullable(),
  thread: z.strictObject({ thread_id: z.string(), summary: z.looseObject({}), examples: z.array(z.unknown()), total_messages: z.number().int() }),
  inbox: z.array(z.unknown()),
});

export const macroFileReservationCycleOutput = z.strictObject({
  file_reservations: grantOutput,
  released: z.looseObject({ released: z.number().int(), released_at: z.string() }).nullable(),
});

const linkState = z.looseObject({ from: z.string(), to: z.string() });
export const macroContactHandshakeOutput = z.strictObject({
  request: linkState,
  response: linkState.nullable(),
  welcome_message: z.looseObject({ deliveries: z.array(z.unknown()), count: z.number().int() }).nullable(),
  response_error: z.strictObject({ type: z.string(), message: z.string() }).optional(),
  welcome_error: z.strictObject({ type: z.string(), message: z.string() }).optional(),
});
