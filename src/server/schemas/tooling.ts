import { z } from "zod";
import { agentName, outputFormat, projectKey, timestamp } from "./common";

// The tooling and identity resources (reference §5): their inputs come from resource URIs.

export const capabilitiesInput = z.strictObject({
  agent: agentName,
  project: projectKey.optional().describe("When given, the agent must exist in this project."),
  format: outputFormat,
});

export const recentInput = z.strictObject({
  // Text from the URI (a bad value means the default, as upstream) or a number from tRPC.
  window_seconds: z.union([z.number().int().min(-2_147_483_647).max(2_147_483_647), z.string().max(16)]),
  agent: z.string().trim().max(128).optional(),
  project: z.string().trim().max(1024).optional(),
  format: outputFormat,
});

export const identityInput = z.strictObject({ project_key: projectKey, format: outputFormat });

const generated = { generated_at: timestamp };

export const directoryOutput = z.looseObject({
  ...generated,
  metrics_uri: z.string(),
  output_formats: z.array(z.string()),
  clusters: z.array(z.looseObject({ name: z.string(), purpose: z.string(), tools: z.array(z.looseObject({ name: z.string(), summary: z.string() })) })),
  playbooks: z.array(z.looseObject({ workflow: z.string(), sequence: z.array(z.string()) })),
});

export const schemasOutput = z.looseObject({
  ...generated,
  global_optional: z.array(z.string()),
  output_formats: z.array(z.string()),
  tools: z.record(z.string(), z.looseObject({ required: z.array(z.string()), optional: z.array(z.string()) })),
});

export const metricsOutput = z.looseObject({
  ...generated,
  tools: z.array(z.looseObject({ name: z.string(), calls: z.number().int(), errors: z.number().int(), cluster: z.string() })),
});

export const locksOutput = z.looseObject({
  locks: z.array(z.looseObject({ path: z.string(), status: z.string(), category: z.string() })),
  summary: z.looseObject({ total: z.number().int(), active: z.number().int(), stale: z.number().int(), metadata_missing: z.number().int() }),
});

export const capabilitiesOutput = z.looseObject({
  ...generated,
  agent: z.string(),
  project: z.string().nullable(),
  capabilities: z.array(z.string()),
});

export const recentOutput = z.looseObject({
  ...generated,
  window_seconds: z.number().int(),
  count: z.number().int(),
  entries: z.array(z.looseObject({ timestamp, tool: z.string(), project: z.string().nullable(), agent: z.string().nullable(), cluster: z.string() })),
});

export const identityOutput = z.looseObject({
  slug: z.string(),
  identity_mode_used: z.string(),
  canonical_path: z.string(),
  human_key: z.string(),
  repo_root: z.string().nullable(),
  git_common_dir: z.string().nullable(),
  branch: z.string().nullable(),
  worktree_name: z.string().nullable(),
  core_ignorecase: z.boolean().nullable(),
  normalized_remote: z.string().nullable(),
  project_uid: z.string(),
  discovery: z.looseObject({}),
});
