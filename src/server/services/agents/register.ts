import { z } from "zod";
import type { Agent, Project } from "@/generated/prisma/client";
import { AppError, quote } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import { mintToken as mintBearer } from "@/server/auth/tokens";
import { createAgentIdentityInput, registerAgentInput, type RegisterAgentInput } from "@/server/schemas/agents";
import { agentOutput } from "@/server/schemas/common";
import { withTransaction, type ProjectContext, type ServiceContext } from "../context";
import { authenticateAgent, findAgent, requireAgent } from "./authenticate";
import {
  ADJECTIVES,
  NOUNS,
  canonicalMemorableName,
  detectNameMistake,
  validNameForm,
  type NameMode,
} from "./names";
import { hashToken, mintToken } from "./tokens";
import { agentView, type AgentView } from "./views";

export type RegisteredAgent = AgentView & { registration_token: string | null; bearer_token?: string };

interface AgentFields {
  program: string;
  model: string;
  taskDescription: string;
  attachmentsPolicy: string;
}

const ATTACHMENT_POLICIES = new Set(["auto", "inline", "file"]);

function fieldsFrom(input: { program: string; model: string; task_description: string; attachments_policy: string }): AgentFields {
  const program = input.program.trim();
  const model = input.model.trim();
  if (!program) throw new AppError("EMPTY_PROGRAM", "program must not be empty (e.g. claude-code).", { field: "program" });
  if (!model) throw new AppError("EMPTY_MODEL", "model must not be empty (e.g. opus-4.1).", { field: "model" });
  const policy = input.attachments_policy.trim().toLowerCase();
  return {
    program,
    model,
    taskDescription: input.task_description,
    attachmentsPolicy: ATTACHMENT_POLICIES.has(policy) ? policy : "auto",
  };
}

function invalidNameError(supplied: string, field: string): AppError {
  const mistake = detectNameMistake(supplied);
  if (mistake) return new AppError(mistake.type, mistake.message, { field });
  return new AppError(
    "INVALID_AGENT_NAME",
    `Invalid agent name format: '${quote(supplied.trim())}'. Use an adjective+noun name such as GreenLake, or an explicit id containing '-', '_' or '.' such as alpha-one.`,
    { field },
  );
}

/**
 * The name to use for a supplied name under the enforcement mode; undefined means generate one.
 * `field` is the argument the name came in (name on register_agent, name_hint on create_agent_identity).
 */
function requestedName(supplied: string | null | undefined, mode: NameMode, field: string): string | undefined {
  if (mode === "always_auto" || !supplied?.trim()) return undefined;
  const valid = validNameForm(supplied);
  if (valid) return canonicalMemorableName(valid) ?? valid;
  if (mode === "strict") throw invalidNameError(supplied, field);
  return undefined;
}

/** Inserts the agent unless the name is taken; returns null when it was (ON CONFLICT DO NOTHING). */
async function insertAgent(
  ctx: ServiceContext,
  project: Project,
  name: string,
  fields: AgentFields,
  tokenHash: string,
): Promise<Agent | null> {
  return withTransaction(ctx, async ({ db: tx }) => {
    const [created] = await tx.agent.createManyAndReturn({
      data: [{ projectId: project.id, name, nameKey: name.toLowerCase(), registrationTokenHash: tokenHash, contactPolicy: ctx.config.contacts.defaultPolicy, ...fields }],
      skipDuplicates: true,
    });
    if (!created) return null;
    await tx.archiveOutbox.create({
      data: { projectId: project.id, kind: "agent_profile", payload: { project: project.slug, agent: { ...agentView(created) } } },
    });
    return created;
  });
}

async function insertWithGeneratedName(ctx: ServiceContext, project: Project, fields: AgentFields, token: string): Promise<Agent> {
  for (let attempt = 0; attempt < 8; attempt += 1) {
    const taken = new Set(
      (await ctx.db.agent.findMany({ where: { projectId: project.id }, select: { nameKey: true } })).map((a) => a.nameKey),
    );
    const free = ADJECTIVES.flatMap((adjective) => NOUNS.map((noun) => `${adjective}${noun}`)).filter(
      (name) => !taken.has(name.toLowerCase()),
    );
    if (free.length === 0) {
      throw new AppError("CONFLICT", `Every generated agent name is in use in project '${project.slug}'; pass an explicit id such as alpha-one.`);
    }
    const candidate = free[Math.floor(Math.random() * free.length)]!;
    const created = await insertAgent(ctx, project, candidate, fields, hashToken(token));
    if (created) return created;
  }
  throw new AppError("CONFLICT", "Could not allocate a free agent name; try again.");
}

async function updateExisting(
  ctx: ServiceContext,
  project: Project,
  existing: Agent,
  fields: AgentFields,
  token: string | null | undefined,
): Promise<RegisteredAgent> {
  authenticateAgent(ctx, existing, token, {
    action: `Re-registering existing agent '${existing.name}'`,
    tokenParam: "registration_token",
  });
  const minted = existing.registrationTokenHash ? undefined : mintToken();
  const updated = await withTransaction(ctx, async ({ db: tx }) => {
    const agent = await tx.agent.update({
      where: { id: existing.id },
      // A token-proven re-registration is the agent coming back: it undoes an (auto-)retirement.
      data: { ...fields, lastActiveTs: new Date(), retiredAt: null, ...(minted ? { registrationTokenHash: hashToken(minted) } : {}) },
    });
    await tx.archiveOutbox.create({
      data: { projectId: project.id, kind: "agent_profile", payload: { project: project.slug, agent: { ...agentView(agent) } } },
    });
    return agent;
  });
  return { ...agentView(updated), registration_token: minted ?? token ?? null };
}

const registeredOutput = agentOutput.extend({ registration_token: z.string().nullable(), bearer_token: z.string().optional() });

/** A registered agent's own bearer token lasts at most this long. */
const AGENT_TOKEN_LIFETIME_S = 30 * 86_400;
/** A caller whose own token has less left than this gets no new one. */
const AGENT_TOKEN_MIN_S = 60;

/**
 * With JWT_SECRET set, a registration also returns a bearer token bound to the agent (writer, its
 * project only), so the agent can send one Authorization header instead of its token per call.
 * It never outlives the caller's own token (no renewing a short credential into a long one, or a
 * bound token into itself forever), and it replaces the agent's earlier ones, which are revoked.
 */
async function withBearerToken(ctx: ServiceContext, project: Project, registered: RegisteredAgent): Promise<RegisteredAgent> {
  if (!ctx.config.auth.secret) return registered;
  const callerLeft = ctx.actor.expiresAt === undefined ? Infinity : ctx.actor.expiresAt - Math.floor(Date.now() / 1000);
  const lifetime = Math.min(AGENT_TOKEN_LIFETIME_S, callerLeft);
  if (lifetime < AGENT_TOKEN_MIN_S) return registered;
  const name = `agent:${project.slug}/${registered.name}`;
  await ctx.db.apiToken.updateMany({ where: { agentId: registered.id, name, revokedAt: null }, data: { revokedAt: new Date() } });
  const minted = await mintBearer(ctx.db, ctx.config.auth, {
    name,
    roles: ["writer"],
    projects: [project.slug],
    agent: { project: project.slug, name: registered.name, id: registered.id },
    expiresInSeconds: lifetime,
  });
  return { ...registered, bearer_token: minted.token };
}

/** The registration itself: a new agent, or an update for a caller that proves it owns the name. */
async function register(ctx: ProjectContext, input: RegisterAgentInput): Promise<RegisteredAgent> {
  const fields = fieldsFrom(input);
  const { project } = ctx;
  const name = requestedName(input.name, ctx.config.nameMode, "name");
  if (name) {
    const existing = await findAgent(ctx.db, project, name);
    if (existing) return updateExisting(ctx, project, existing, fields, input.registration_token);
    const token = mintToken();
    const created = await insertAgent(ctx, project, name, fields, hashToken(token));
    if (created) return { ...agentView(created), registration_token: token };
    const winner = await requireAgent(ctx.db, project, name, "name");
    return updateExisting(ctx, project, winner, fields, input.registration_token);
  }
  const token = mintToken();
  const created = await insertWithGeneratedName(ctx, project, fields, token);
  return { ...agentView(created), registration_token: token };
}

/**
 * register_agent: creates the agent, or updates an existing one (same name, any case) for a
 * caller that proves it owns it. Two concurrent registrations of one new name produce one agent;
 * the slower caller is asked for the winner's registration_token.
 */
export const registerAgent = defineOperation({
  name: "register_agent",
  description:
    "Register your agent identity in a project (or update it). Returns the agent and registration_token: keep the token, every agent-scoped call needs it.",
  input: registerAgentInput,
  output: registeredOutput,
  permission: "write",
  kind: "mutation",
  scope: "project",
  tool: { profile: "core", title: "Register agent" },
  async handler(ctx, input): Promise<RegisteredAgent> {
    return withBearerToken(ctx, ctx.project, await register(ctx, input));
  },
});


/** create_agent_identity: always a new agent; the hint is used when it is valid and free. */
export const createAgentIdentity = defineOperation({
  name: "create_agent_identity",
  description: "Always create a new agent identity (name_hint used if valid and free). Returns the agent and its registration_token.",
  input: createAgentIdentityInput,
  output: registeredOutput,
  permission: "write",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Create agent identity" },
  async handler(ctx, input): Promise<RegisteredAgent> {
    const fields = fieldsFrom(input);
    const { project } = ctx;
    const token = mintToken();
    const hint = requestedName(input.name_hint, ctx.config.nameMode, "name_hint");
    if (hint) {
      const created = await insertAgent(ctx, project, hint, fields, hashToken(token));
      if (created) return { ...agentView(created), registration_token: token };
      if (ctx.config.nameMode === "strict") {
        throw new AppError("NAME_TAKEN", `Agent name '${hint}' is already in use in project '${project.slug}'.`, { field: "name_hint" });
      }
    }
    const created = await insertWithGeneratedName(ctx, project, fields, token);
    return { ...agentView(created), registration_token: token };
  },
});
