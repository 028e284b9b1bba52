import { z } from "zod";
import { outputFormat, projectKey } from "./common";

export const ensureProjectInput = z.strictObject({
  human_key: z
    .string()
    .trim()
    .min(1, "human_key is required")
    .max(1024)
    .describe("Absolute path of the repository (e.g. /data/projects/backend)."),
  identity_mode: z.string().max(64).nullish().describe("Ignored; accepted for compatibility."),
  format: outputFormat,
});

export const projectLookupInput = z.strictObject({ project_key: projectKey });
