import path from "node:path";
import os from "node:os";
import { AppError } from "@/server/errors";
import type { Prisma } from "@/server/db/client";
import type { Project } from "@/generated/prisma/client";
import type { EnsureProjectInput } from "@/server/schemas/projects";
import type { ServiceContext } from "../context";
import { isoTs } from "../format";
import { didYouMean, suggest } from "../similarity";
import { isAbsoluteKey, isPlaceholderKey, looksLikePath, normalizeHumanKey, slugify } from "./slug";

export interface ProjectView {
  id: number;
  slug: string;
  human_key: string;
  created_at: string;
  archived_at?: string;
}

export function projectView(project: Project): ProjectView {
  return {
    id: project.id,
    slug: project.slug,
    human_key: project.humanKey,
    created_at: isoTs(project.createdAt),
    ...(project.archivedAt ? { archived_at: isoTs(project.archivedAt) } : {}),
  };
}

/**
 * Creates the project for an absolute path, or returns the one already there. Lookup is by slug
 * only, so two paths with one slug (`/Backend`, `/backend`) share the first project, as upstream.
 */
export async function ensureProject(ctx: ServiceContext, input: EnsureProjectInput): Promise<ProjectView> {
  const raw = input.human_key.trim();
  if (!isAbsoluteKey(raw)) {
    throw new AppError(
      "INVALID_ARGUMENT",
      `human_key must be an absolute directory path (e.g. /data/projects/backend); got '${raw}'.`,
      { field: "human_key" },
    );
  }
  const humanKey = normalizeHumanKey(raw);
  const slug = slugify(humanKey);
  // ON CONFLICT DO NOTHING: concurrent ensure_project calls for one slug meet here, not in a 500.
  await ctx.db.project.createMany({ data: [{ slug, humanKey }], skipDuplicates: true });
  const project = await ctx.db.project.findUniqueOrThrow({ where: { slug } });
  return projectView(project);
}

function canonicalIdentifier(value: string): string {
  const expanded = value.startsWith("~") ? path.join(os.homedir(), value.slice(1)) : value;
  // An absolute key (POSIX or Windows `C:\…`) is only normalised, as ensure_project does; resolving
  // a Windows key against a POSIX cwd would turn `C:\repo\` into `/cwd/C:\repo\`.
  return normalizeHumanKey(isAbsoluteKey(expanded) ? expanded : path.resolve(expanded));
}

/** Finds a project by slug, human key or path-like identifier; never creates one. */
export async function resolveProject(db: Prisma, identifier: string): Promise<Project> {
  const raw = identifier.trim();
  if (!raw) throw new AppError("INVALID_ARGUMENT", "project_key is required.", { field: "project_key" });
  if (isPlaceholderKey(raw)) {
    throw new AppError(
      "CONFIGURATION_ERROR",
      `project_key '${raw}' is a placeholder; use the absolute path of your repository or the slug from ensure_project.`,
      { field: "project_key" },
    );
  }
  const canonical = looksLikePath(raw) ? canonicalIdentifier(raw) : raw;
  const project = await db.project.findFirst({
    where: { OR: [{ slug: slugify(canonical) }, { humanKey: canonical }, { humanKey: raw }] },
    orderBy: { id: "asc" },
  });
  if (project) return project;
  const known = await db.project.findMany({ select: { slug: true, humanKey: true }, take: 500 });
  const hint = didYouMean(suggest(raw, known.flatMap((p) => [p.slug, p.humanKey])));
  throw new AppError(
    "NOT_FOUND",
    `Project '${raw}' not found. Create it first with ensure_project(human_key=<absolute path>).${hint}`,
    { field: "project_key" },
  );
}

export async function listProjects(ctx: ServiceContext): Promise<ProjectView[]> {
  const projects = await ctx.db.project.findMany({ orderBy: { id: "asc" } });
  return projects.map(projectView);
}
