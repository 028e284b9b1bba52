import { createHash } from "node:crypto";
import path from "node:path";
import os from "node:os";
import { z } from "zod";
import { Prisma, type Agent, type Project } from "@/generated/prisma/client";
import { canAccessProject } from "@/server/auth/actor";
import { AppError, quote } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import { noInput, projectOutput } from "@/server/schemas/common";
import { ensureProjectInput } from "@/server/schemas/projects";
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

function slugCandidates(humanKey: string): string[] {
  const base = slugify(humanKey);
  const digest = createHash("sha256").update(humanKey).digest("hex");
  return [base, `${base}-${digest.slice(0, 8)}`, `${base}-${digest.slice(0, 16)}`, `${base}-${digest}`];
}

/**
 * ensure_project: the project of an absolute path, created on first use. Distinct human keys are
 * distinct projects: the slug is the key's readable slug, or that slug plus a short hash of the key
 * when another key already has it (`/x/日本` and `/x/中文` both slugify to `x`).
 */
export const ensureProject = defineOperation({
  name: "ensure_project",
  description:
    "Create or fetch the project for a repository's absolute path (idempotent). Returns {id, slug, human_key, created_at}; use slug or human_key as project_key elsewhere.",
  input: ensureProjectInput,
  output: projectOutput,
  permission: "write",
  kind: "mutation",
  scope: "global",
  tool: { profile: "core", title: "Ensure project", idempotent: true },
  async handler(ctx, input): Promise<ProjectView> {
    const raw = input.human_key.trim();
    if (!isAbsoluteKey(raw)) {
      throw new AppError(
        "INVALID_ARGUMENT",
        `human_key must be an absolute directory path (e.g. /data/projects/backend); got '${quote(raw)}'.`,
        { field: "human_key" },
      );
    }
    const humanKey = normalizeHumanKey(raw);
    const existing = await ctx.db.project.findUnique({ where: { humanKey } });
    if (existing) return projectView(checkScope(ctx, existing));
    const candidates = slugCandidates(humanKey);
    if (!canAccessProject(ctx.actor, { slug: candidates[0]!, humanKey })) {
      throw new AppError("FORBIDDEN", `Creating project '${quote(humanKey)}' is outside this credential's project scopes.`, { field: "human_key" });
    }
    for (const slug of candidates) {
      // ON CONFLICT DO NOTHING: concurrent calls for one key meet here, not in a 500; a slug taken
      // by another key moves on to the next candidate.
      await ctx.db.project.createMany({ data: [{ slug, humanKey }], skipDuplicates: true });
      const project = await ctx.db.project.findUnique({ where: { humanKey } });
      if (project) return projectView(project);
    }
    throw new AppError("CONFLICT", `Could not allocate a slug for '${quote(humanKey)}'; try again.`, { field: "human_key" });
  },
});

function canonicalIdentifier(value: string): string {
  const expanded = value.startsWith("~") ? path.join(os.homedir(), value.slice(1)) : value;
  // An absolute key (POSIX or Windows `C:\…`) is only normalised, as ensure_project does; resolving
  // a Windows key against a POSIX cwd would turn `C:\repo\` into `/cwd/C:\repo\`.
  return normalizeHumanKey(isAbsoluteKey(expanded) ? expanded : path.resolve(expanded));
}

function checkScope(ctx: ServiceContext, project: Project): Project {
  if (!canAccessProject(ctx.actor, project)) {
    throw new AppError("FORBIDDEN", `Project '${project.slug}' is outside this credential's project scopes.`, { field: "project_key" });
  }
  return project;
}

interface ScopeRow {
  id: number;
  slug: string;
  human_key: string;
  created_at: Date;
  archived_at: Date | null;
  agent: Agent | null;
}

// The project and, in the same statement, the agent an agent-scoped call names: one round trip
// instead of two on every such call (the agent's columns as Prisma names them, see agentColumns).
const agentColumns = Prisma.sql`json_build_object(
  'id', a.id, 'projectId', a.project_id, 'name', a.name, 'nameKey', a.name_key, 'program', a.program, 'model', a.model,
  'taskDescription', a.task_description, 'inceptionTs', a.inception_ts, 'lastActiveTs', a.last_active_ts,
  'attachmentsPolicy', a.attachments_policy, 'contactPolicy', a.contact_policy,
  'registrationTokenHash', a.registration_token_hash, 'retiredAt', a.retired_at, 'deregisteredAt', a.deregistered_at)`;

function agentFromJson(json: Agent | null): Agent | null {
  if (!json) return null;
  const date = (value: Date | string | null) => (value === null ? null : new Date(value));
  return {
    ...json,
    inceptionTs: date(json.inceptionTs)!,
    lastActiveTs: date(json.lastActiveTs)!,
    retiredAt: date(json.retiredAt),
    deregisteredAt: date(json.deregisteredAt),
  };
}

/**
 * A path names the project of its exact normalised human key (Windows paths ignore case, as
 * Windows does; not Prisma's `mode: "insensitive"`, which compiles to ILIKE, where a Windows
 * path's backslashes are escapes); anything else is a slug or a human key.
 */
async function lookup(ctx: ServiceContext, raw: string, nameKey: string | null): Promise<{ project: Project; agent: Agent | null } | null> {
  let where: Prisma.Sql;
  if (looksLikePath(raw)) {
    const canonical = canonicalIdentifier(raw);
    const windows = path.win32.isAbsolute(canonical) && !path.posix.isAbsolute(canonical);
    where = windows ? Prisma.sql`lower(p.human_key) = lower(${canonical})` : Prisma.sql`p.human_key IN (${canonical}, ${raw})`;
  } else {
    where = Prisma.sql`(p.slug = ${raw} OR p.slug = ${slugify(raw)} OR p.human_key = ${raw})`;
  }
  const [row] = await ctx.db.$queryRaw<ScopeRow[]>`
    SELECT p.id, p.slug, p.human_key, p.created_at, p.archived_at, CASE WHEN a.id IS NULL THEN NULL ELSE ${agentColumns} END AS agent
    FROM projects p LEFT JOIN agents a ON a.project_id = p.id AND a.name_key = ${nameKey}
    WHERE ${where} ORDER BY p.id LIMIT 1`;
  if (!row) return null;
  return {
    project: { id: row.id, slug: row.slug, humanKey: row.human_key, createdAt: row.created_at, archivedAt: row.archived_at },
    agent: agentFromJson(row.agent),
  };
}

/**
 * Finds a project by slug, human key or path-like identifier, within the actor's project scopes;
 * never creates one. A path names a project only by its exact (normalised) human key.
 */
export async function resolveProject(ctx: ServiceContext, identifier: string | null | undefined, field = "project_key"): Promise<Project> {
  return (await resolveScope(ctx, identifier, field, null)).project;
}

/**
 * resolveProject, and the project's agent called `agentName` (any case) read in the same
 * statement: null when there is none, undefined when no name was asked for.
 */
export async function resolveScope(
  ctx: ServiceContext,
  identifier: string | null | undefined,
  field: string,
  agentName: string | null,
): Promise<{ project: Project; agent?: Agent | null }> {
  const raw = (identifier ?? "").trim();
  if (!raw) throw new AppError("INVALID_ARGUMENT", `${field} is required.`, { field });
  if (isPlaceholderKey(raw)) {
    throw new AppError(
      "CONFIGURATION_ERROR",
      `${field} '${quote(raw)}' is a placeholder; use the absolute path of your repository or the slug from ensure_project.`,
      { field },
    );
  }
  const nameKey = agentName?.trim().toLowerCase() || null;
  const found = await lookup(ctx, raw, nameKey);
  if (found) return { project: checkScope(ctx, found.project), ...(nameKey ? { agent: found.agent } : {}) };
  const known = (await ctx.db.project.findMany({ select: { slug: true, humanKey: true }, orderBy: { id: "asc" }, take: 500 })).filter(
    (candidate) => canAccessProject(ctx.actor, candidate),
  );
  const hint = didYouMean(suggest(raw, known.flatMap((p) => [p.slug, p.humanKey])));
  throw new AppError(
    "NOT_FOUND",
    `Project '${quote(raw)}' not found. Create it first with ensure_project(human_key=<absolute path>).${hint}`,
    { field },
  );
}

export const listProjects = defineOperation({
  name: "resource://projects",
  description: "All projects, oldest first.",
  input: noInput,
  output: z.array(projectOutput),
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://projects",
  async handler(ctx): Promise<ProjectView[]> {
    const projects = await ctx.db.project.findMany({ orderBy: { id: "asc" } });
    return projects.filter((project) => canAccessProject(ctx.actor, project)).map(projectView);
  },
});
