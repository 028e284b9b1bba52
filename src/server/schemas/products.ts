import { z } from "zod";
import { agentName, looseLimit, outputFormat, projectKey, registrationToken, timestamp } from "./common";

// The product bus (reference §2.2, tools 44–48, and resource://product/{key}).

const productKey = z.string().trim().min(1, "is required").max(255).describe("Product uid or name.");
const viewerName = z.string().trim().max(128).nullish().describe("Your agent name in a linked project.");

export const ensureProductInput = z.strictObject({
  product_key: z.string().trim().max(255).nullish().describe("Uid (8-64 hex characters become the uid) or name to find."),
  name: z.string().max(1024).nullish().describe("Name for a new product (whitespace collapsed, at most 255)."),
  format: outputFormat,
});
export type EnsureProductInput = z.infer<typeof ensureProductInput>;

export const productsLinkInput = z.strictObject({ product_key: productKey, project_key: projectKey, format: outputFormat });

export const searchProductInput = z.strictObject({
  product_key: productKey,
  query: z.string().max(1000).describe("As in search_messages."),
  limit: looseLimit(20).describe("Clamped to 1..200."),
  agent_name: viewerName,
  registration_token: registrationToken,
  format: outputFormat,
});

export const fetchInboxProductInput = z.strictObject({
  product_key: productKey,
  agent_name: agentName,
  limit: looseLimit(20).describe("1..1000 (larger is capped)."),
  urgent_only: z.boolean().default(false),
  include_bodies: z.boolean().default(false),
  since_ts: z.string().max(64).nullish().describe("ISO-8601; only messages created strictly after it."),
  registration_token: registrationToken,
  format: outputFormat,
});

export const summarizeThreadProductInput = z.strictObject({
  product_key: productKey,
  thread_id: z.string().max(256).describe("One thread id."),
  include_examples: z.boolean().default(false),
  llm_mode: z.boolean().default(true),
  llm_model: z.string().max(128).nullish(),
  per_thread_limit: z.number().int().min(1).max(1000).nullish().describe("Most messages per project."),
  agent_name: viewerName,
  registration_token: registrationToken,
  format: outputFormat,
});

export const productResourceInput = z.strictObject({ key: productKey, format: outputFormat });

export const productOutput = z.looseObject({ id: z.number().int(), product_uid: z.string(), name: z.string(), created_at: timestamp });

export const productLinkOutput = z.looseObject({
  product: z.looseObject({ id: z.number().int(), product_uid: z.string(), name: z.string() }),
  project: z.looseObject({ id: z.number().int(), slug: z.string(), human_key: z.string() }),
  linked: z.literal(true),
});

export const productWithProjectsOutput = productOutput.extend({
  projects: z.array(z.looseObject({ id: z.number().int(), slug: z.string(), human_key: z.string(), created_at: timestamp })),
});
