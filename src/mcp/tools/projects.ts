import { ensureProjectInput } from "@/server/schemas/projects";
import { ensureProject } from "@/server/services/projects/projects";
import { defineTool } from "../registry";

export const ensureProjectTool = defineTool({
  name: "ensure_project",
  description:
    "Create or fetch the project for a repository's absolute path (idempotent). Returns {id, slug, human_key, created_at}; use slug or human_key as project_key elsewhere.",
  input: ensureProjectInput,
  permission: "write",
  profile: "core",
  annotations: { title: "Ensure project", readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: (ctx, input) => ensureProject(ctx, input),
});
