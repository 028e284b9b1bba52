import { z } from "zod";
import { outputFormat, projectKey } from "./common";

// The pre-commit / pre-push guard: install_precommit_guard and uninstall_precommit_guard.

export const codeRepoPath = z
  .string({ error: (issue) => (issue.input === undefined ? "is required" : "must be a string") })
  .trim()
  .min(1, "is required")
  .max(1024)
  .refine((value) => value.startsWith("/") || /^[A-Za-z]:[\\/]/.test(value), "must be an absolute path")
  .describe("Absolute path of a git working tree on the server's machine.");

export const installGuardInput = z.strictObject({
  project_key: projectKey,
  code_repo_path: codeRepoPath,
  format: outputFormat,
});
export type InstallGuardInput = z.output<typeof installGuardInput>;

export const installGuardOutput = z.strictObject({
  hook: z.string().describe("Path of the pre-commit chain runner."),
  pre_push_hook: z.string().describe("Path of the pre-push chain runner."),
});

export const uninstallGuardInput = z.strictObject({
  code_repo_path: codeRepoPath,
  format: outputFormat,
});
export type UninstallGuardInput = z.output<typeof uninstallGuardInput>;

export const uninstallGuardOutput = z.strictObject({ removed: z.boolean() });
