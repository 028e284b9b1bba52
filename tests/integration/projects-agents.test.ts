import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_OPERATOR } from "@/server/auth/actor";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import {
  createAgentIdentityInput,
  registerAgentInput,
  whoisInput,
  type CreateAgentIdentityInput,
  type RegisterAgentInput,
} from "@/server/schemas/agents";
import { ensureProjectInput } from "@/server/schemas/projects";
import type { ServiceContext } from "@/server/services/context";
import { ADJECTIVES, NOUNS } from "@/server/services/agents/names";
import { getProject, listAgents, whois } from "@/server/services/agents/queries";
import { createAgentIdentity, registerAgent } from "@/server/services/agents/register";
import { projectsOverview } from "@/server/services/projects/overview";
import { ensureProject, listProjects, resolveProject, resolveScope } from "@/server/services/projects/projects";
import { serviceContext } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let coerce: ServiceContext;
let strict: ServiceContext;
let auto: ServiceContext;

beforeAll(async () => {
  db = await openTestDatabase();
  coerce = serviceContext(db, { nameMode: "coerce" });
  strict = serviceContext(db, { nameMode: "strict" });
  auto = serviceContext(db, { nameMode: "always_auto" });
});
afterAll(async () => {
  await db.close();
});

const GENERATED_NAMES = new Set(ADJECTIVES.flatMap((adjective) => NOUNS.map((noun) => `${adjective}${noun}`)));
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;

// Inputs go through the same zod contracts as the MCP and tRPC surfaces, so defaults apply.
function ensure(ctx: ServiceContext, humanKey: string) {
  return invoke(ensureProject, ctx, ensureProjectInput.parse({ human_key: humanKey }));
}
function register(ctx: ServiceContext, input: Partial<RegisterAgentInput> & { project_key: string }) {
  return invoke(registerAgent, ctx, registerAgentInput.parse({ program: "claude-code", model: "opus-4.1", ...input }));
}
function createIdentity(ctx: ServiceContext, input: Partial<CreateAgentIdentityInput> & { project_key: string }) {
  return invoke(createAgentIdentity, ctx, createAgentIdentityInput.parse({ program: "codex-cli", model: "gpt-5", ...input }));
}

/** The AppError a promise rejects with (fails the test if it resolves or throws something else). */
async function appError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected the call to fail with an AppError, but it succeeded");
}

async function agentRows(projectId: number) {
  return db.prisma.agent.findMany({ where: { projectId }, orderBy: { id: "asc" } });
}

describe("ensure_project", () => {
  it("creates a project from an absolute path and returns the project dict", async () => {
    const project = await ensure(coerce, "/srv/ensure/backend");
    expect(project).toEqual({
      id: expect.any(Number),
      slug: "srv-ensure-backend",
      human_key: "/srv/ensure/backend",
      created_at: expect.stringMatching(ISO_UTC),
    });
    const row = await db.prisma.project.findUniqueOrThrow({ where: { id: project.id } });
    expect(row.humanKey).toBe("/srv/ensure/backend");
  });

  it("refuses a relative path with an error that says 'absolute' and names human_key", async () => {
    for (const key of ["relative/path", "./repo", "backend", "~/repo"]) {
      const error = await appError(ensure(coerce, key));
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.message).toContain("absolute");
      expect(error.data).toEqual({ field: "human_key" });
    }
    expect(await db.prisma.project.count({ where: { slug: { in: ["relative-path", "repo", "backend"] } } })).toBe(0);
  });

  it("is idempotent: the same path gives the same id, and normalised spellings of it too", async () => {
    const first = await ensure(coerce, "/srv/idem/app");
    const again = await ensure(coerce, "/srv/idem/app");
    const spelled = await ensure(coerce, "  /srv//idem/./tmp/../app/  ");
    expect(again).toEqual(first);
    expect(spelled.id).toBe(first.id);
    expect(await db.prisma.project.count({ where: { slug: "srv-idem-app" } })).toBe(1);
  });

  it("keeps /Backend and /backend apart: the second key's slug gets a short hash of the key", async () => {
    const first = await ensure(coerce, "/Backend");
    const second = await ensure(coerce, "/backend");
    expect(first.slug).toBe("backend");
    expect(second.id).not.toBe(first.id);
    expect(second.human_key).toBe("/backend");
    expect(second.slug).toMatch(/^backend-[0-9a-f]{8}$/);
    expect((await ensure(coerce, "/backend")).id).toBe(second.id);
    expect((await ensure(coerce, "/Backend/")).id).toBe(first.id);
  });

  it("keeps keys that slugify alike apart (/x/日本, /x/中文, /x/🚀), each found again by its key", async () => {
    const keys = ["/x/日本", "/x/中文", "/x/🚀"];
    const projects = [];
    for (const key of keys) projects.push(await ensure(coerce, key));
    expect(new Set(projects.map((project) => project.id)).size).toBe(3);
    expect(new Set(projects.map((project) => project.slug)).size).toBe(3);
    expect(projects[0]!.slug).toBe("x");
    for (const [index, key] of keys.entries()) {
      expect(projects[index]!.human_key).toBe(key);
      expect((await resolveProject(coerce, key)).id).toBe(projects[index]!.id);
      expect((await resolveProject(coerce, projects[index]!.slug)).id).toBe(projects[index]!.id);
    }
  });

  it("accepts a Windows drive path", async () => {
    const project = await ensure(coerce, "C:\\Users\\Me\\Repo\\");
    expect(project.slug).toBe("c-users-me-repo");
    expect(project.human_key).toBe("C:\\Users\\Me\\Repo");
  });

  it("keeps a Windows drive root absolute", async () => {
    const project = await ensure(coerce, "D:\\");
    expect(project.human_key).toBe("D:\\");
    expect(project.slug).toBe("d");
  });

  it("absorbs concurrent calls for one new path into one project", async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => ensure(coerce, "/srv/race/project")));
    expect(new Set(results.map((project) => project.id)).size).toBe(1);
    expect(await db.prisma.project.count({ where: { slug: "srv-race-project" } })).toBe(1);
  });

  it("lists projects oldest first", async () => {
    const projects = await invoke(listProjects, coerce);
    const ids = projects.map((project) => project.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(projects.map((project) => project.slug)).toEqual(expect.arrayContaining(["srv-ensure-backend", "backend"]));
  });
});

describe("project lookup", () => {
  let backend: Awaited<ReturnType<typeof ensure>>;
  beforeAll(async () => {
    backend = await ensure(coerce, "/data/lookup/backend");
  });

  it("finds a project by slug, by human key, by a case variant of the slug, and by an unnormalised path", async () => {
    for (const key of ["data-lookup-backend", "/data/lookup/backend", "DATA-LOOKUP-BACKEND", "/data//lookup/backend/", "  data-lookup-backend "]) {
      const project = await resolveProject(coerce, key);
      expect(project.id).toBe(backend.id);
    }
  });

  it("finds a Windows project by its key in any spelling (not resolved against the server's POSIX cwd)", async () => {
    const windows = await ensure(coerce, "E:\\Work\\Lookup\\Repo");
    for (const key of ["E:\\Work\\Lookup\\Repo", "E:\\Work\\Lookup\\Repo\\", "E:/Work/Lookup/Repo", "e:\\work\\lookup\\repo", "E:\\Work\\Other\\..\\Lookup\\Repo"]) {
      const project = await resolveProject(coerce, key);
      expect(project.id).toBe(windows.id);
    }
  });

  it("resolves 'Backend' to the project created from /Backend", async () => {
    const project = await resolveProject(coerce, "Backend");
    expect(project.slug).toBe("backend");
    expect(project.humanKey).toBe("/Backend");
  });

  it("answers an unknown project with NOT_FOUND, 'not found', and a suggestion when one is close", async () => {
    const close = await appError(resolveProject(coerce, "data-lookup-backnd"));
    expect(close.code).toBe("NOT_FOUND");
    expect(close.message).toContain("not found");
    expect(close.message).toContain("Did you mean");
    expect(close.message).toContain("data-lookup-backend");
    expect(close.data).toEqual({ field: "project_key" });

    const far = await appError(resolveProject(coerce, "NonExistentProjectZzzzzzzzzzzzzzzzzzzzzz"));
    expect(far.code).toBe("NOT_FOUND");
    expect(far.message).toContain("not found");
    expect(far.message).not.toContain("Did you mean");
  });

  it("answers a placeholder key with CONFIGURATION_ERROR", async () => {
    for (const key of ["YOUR_PROJECT", "/path/to/YOUR_PROJECT", "<PROJECT>", "$PROJECT"]) {
      const error = await appError(resolveProject(coerce, key));
      expect(error.code).toBe("CONFIGURATION_ERROR");
      expect(error.message).toContain("placeholder");
    }
  });

  it("answers an empty key with INVALID_ARGUMENT", async () => {
    const error = await appError(resolveProject(coerce, "   "));
    expect(error.code).toBe("INVALID_ARGUMENT");
  });

  it("never creates a project while looking one up", async () => {
    const before = await db.prisma.project.count();
    await appError(register(coerce, { project_key: "/srv/never/created" }));
    expect(await db.prisma.project.count()).toBe(before);
  });
});

describe("register_agent", () => {
  let project: Awaited<ReturnType<typeof ensure>>;
  beforeAll(async () => {
    project = await ensure(coerce, "/srv/register/main");
  });

  it("generates a memorable name and a token, and returns the whole agent dict", async () => {
    const agent = await register(coerce, { project_key: project.slug, task_description: "write tests" });
    expect(GENERATED_NAMES.has(agent.name)).toBe(true);
    expect(agent.registration_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(agent).toEqual({
      id: expect.any(Number),
      name: agent.name,
      program: "claude-code",
      model: "opus-4.1",
      task_description: "write tests",
      inception_ts: expect.stringMatching(ISO_UTC),
      last_active_ts: expect.stringMatching(ISO_UTC),
      project_id: project.id,
      attachments_policy: "auto",
      registration_token: agent.registration_token,
    });
  });

  it("stores only the sha256 of the token", async () => {
    const agent = await register(coerce, { project_key: project.slug });
    const row = await db.prisma.agent.findUniqueOrThrow({ where: { id: agent.id } });
    expect(row.registrationTokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.registrationTokenHash).not.toBe(agent.registration_token);
    expect(JSON.stringify(row)).not.toContain(agent.registration_token!);
  });

  it("queues the profile for the archive without the token", async () => {
    const agent = await register(coerce, { project_key: project.slug });
    const outbox = await db.prisma.archiveOutbox.findMany({ where: { projectId: project.id, kind: "agent_profile" } });
    const mine = outbox.filter((row) => (row.payload as { agent: { id: number } }).agent.id === agent.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.payload).toMatchObject({ project: project.slug, agent: { id: agent.id, name: agent.name } });
    expect(JSON.stringify(mine[0]!.payload)).not.toContain(agent.registration_token!);
    expect(JSON.stringify(mine[0]!.payload)).not.toContain("registration_token");
  });

  it("resolves the project by slug, human key and 'Backend'", async () => {
    const bySlug = await register(coerce, { project_key: "srv-register-main" });
    const byKey = await register(coerce, { project_key: "/srv/register/main" });
    const byName = await register(coerce, { project_key: "Backend" });
    expect(bySlug.project_id).toBe(project.id);
    expect(byKey.project_id).toBe(project.id);
    const backend = await resolveProject(coerce, "/Backend");
    expect(byName.project_id).toBe(backend.id);
  });

  it("fails on an unknown project with 'not found'", async () => {
    const error = await appError(register(coerce, { project_key: "NonExistentProject" }));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("not found");
  });

  it("fails on a placeholder project key with CONFIGURATION_ERROR", async () => {
    const error = await appError(register(coerce, { project_key: "YOUR_PROJECT" }));
    expect(error.code).toBe("CONFIGURATION_ERROR");
  });

  it("re-registers case-insensitively with the token: same id, fields updated, stored spelling kept", async () => {
    const own = await ensure(coerce, "/srv/register/case");
    const first = await register(coerce, { project_key: own.slug, name: "GreenLake", program: "claude-code", task_description: "one" });
    expect(first.name).toBe("GreenLake");
    const firstRow = await db.prisma.agent.findUniqueOrThrow({ where: { id: first.id } });

    const again = await register(coerce, {
      project_key: own.slug,
      name: "greenlake",
      program: "codex-cli",
      model: "gpt-5",
      task_description: "two",
      registration_token: first.registration_token!,
    });
    expect(again.id).toBe(first.id);
    expect(again.name).toBe("GreenLake");
    expect(again.program).toBe("codex-cli");
    expect(again.model).toBe("gpt-5");
    expect(again.task_description).toBe("two");
    expect(again.registration_token).toBe(first.registration_token);
    expect(again.inception_ts).toBe(first.inception_ts);
    expect(new Date(again.last_active_ts).getTime()).toBeGreaterThanOrEqual(new Date(first.last_active_ts).getTime());

    const rows = await agentRows(own.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.name).toBe("GreenLake");
    expect(rows[0]!.program).toBe("codex-cli");
    // The token is stable: re-registering does not rotate it.
    expect(rows[0]!.registrationTokenHash).toBe(firstRow.registrationTokenHash);
  });

  it("keeps the stored spelling of an explicit id on a re-registration in another case", async () => {
    const own = await ensure(coerce, "/srv/register/explicit-case");
    const first = await register(coerce, { project_key: own.slug, name: "Alpha-One" });
    const again = await register(coerce, { project_key: own.slug, name: "ALPHA-ONE", registration_token: first.registration_token! });
    expect(again.id).toBe(first.id);
    expect(again.name).toBe("Alpha-One");
    expect((await agentRows(own.id)).map((row) => row.name)).toEqual(["Alpha-One"]);
  });

  it("stores a memorable name in its CamelCase spelling whatever the case supplied", async () => {
    const own = await ensure(coerce, "/srv/register/camel");
    const agent = await register(coerce, { project_key: own.slug, name: "bluelake" });
    expect(agent.name).toBe("BlueLake");
    const spaced = await register(coerce, { project_key: own.slug, name: "Red Fox" });
    expect(spaced.name).toBe("RedFox");
  });

  it("refuses to take over an existing name without its token, and leaves one agent", async () => {
    const own = await ensure(coerce, "/srv/register/takeover");
    const owner = await register(coerce, { project_key: own.slug, name: "BlueLake", task_description: "original" });

    const missing = await appError(register(coerce, { project_key: own.slug, name: "BlueLake", task_description: "hijack" }));
    expect(missing.code).toBe("AUTHENTICATION_REQUIRED");
    expect(missing.message).toContain("registration_token");
    expect(missing.data).toEqual({ field: "registration_token" });

    const wrong = await appError(
      register(coerce, { project_key: own.slug, name: "bluelake", task_description: "hijack", registration_token: "not-the-token" }),
    );
    expect(wrong.code).toBe("AUTHENTICATION_REQUIRED");
    expect(wrong.message).toContain("Invalid registration_token");

    const other = await register(coerce, { project_key: own.slug, name: "RedFox" });
    const foreign = await appError(register(coerce, { project_key: own.slug, name: "BlueLake", registration_token: other.registration_token! }));
    expect(foreign.message).toContain("Invalid registration_token");
    // A credential bound to another agent of the project proves nothing about this one.
    const boundToOther: ServiceContext = { ...coerce, actor: { ...LOCAL_OPERATOR, agent: { id: other.id, projectId: own.id, name: other.name } } };
    const impostor = await appError(register(boundToOther, { project_key: own.slug, name: "BlueLake", task_description: "hijack" }));
    expect(impostor.code).toBe("AUTHENTICATION_REQUIRED");

    const rows = await agentRows(own.id);
    expect(rows.filter((row) => row.nameKey === "bluelake")).toHaveLength(1);
    expect(rows.find((row) => row.nameKey === "bluelake")!.taskDescription).toBe("original");

    const updated = await register(coerce, {
      project_key: own.slug,
      name: "BlueLake",
      task_description: "updated by owner",
      registration_token: owner.registration_token!,
    });
    expect(updated.id).toBe(owner.id);
    expect(updated.task_description).toBe("updated by owner");
  });

  it("mints a token for a legacy agent that has none, once the caller re-registers it", async () => {
    const own = await ensure(coerce, "/srv/register/legacy");
    const legacy = await db.prisma.agent.create({
      data: { projectId: own.id, name: "RusticOwl", nameKey: "rusticowl", program: "aider", model: "gpt-4", registrationTokenHash: null },
    });
    const error = await appError(register(coerce, { project_key: own.slug, name: "RusticOwl" }));
    expect(error.code).toBe("AUTHENTICATION_REQUIRED");
    expect(error.message).toContain("does not have a registration token");
    // An agent credential bound to the legacy agent proves its identity; then a token is minted.
    const bound: ServiceContext = { ...coerce, actor: { ...LOCAL_OPERATOR, agent: { id: legacy.id, projectId: own.id, name: "RusticOwl" } } };
    const reRegistered = await register(bound, { project_key: own.slug, name: "RusticOwl" });
    expect(reRegistered.id).toBe(legacy.id);
    expect(reRegistered.registration_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const row = await db.prisma.agent.findUniqueOrThrow({ where: { id: legacy.id } });
    expect(row.registrationTokenHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("coerce mode replaces invalid names with a different valid generated name", async () => {
    const own = await ensure(coerce, "/srv/register/coerce");
    for (const name of ["BackendHarmonizer", "claude-code", "gpt-4", "bob@x.com", "all", "bob", "LakeBlue"]) {
      const agent = await register(coerce, { project_key: own.slug, name });
      expect(agent.name).not.toBe(name);
      expect(GENERATED_NAMES.has(agent.name)).toBe(true);
      expect(agent.registration_token).toBeTruthy();
    }
    expect(await agentRows(own.id)).toHaveLength(7);
  });

  it("strict mode refuses invalid names with the mistake type", async () => {
    const own = await ensure(strict, "/srv/register/strict");
    const cases: [string, string, string][] = [
      ["BackendHarmonizer", "DESCRIPTIVE_NAME", "descriptive"],
      ["claude-code", "PROGRAM_NAME_AS_AGENT", "program"],
      ["gpt-4", "MODEL_NAME_AS_AGENT", "model"],
      ["bob@x.com", "EMAIL_AS_AGENT", "email"],
      ["all", "BROADCAST_ATTEMPT", "broadcast"],
      ["bob", "UNIX_USERNAME_AS_AGENT", "username"],
      ["LakeBlue", "INVALID_AGENT_NAME", "Invalid agent name format"],
    ];
    for (const [name, code, phrase] of cases) {
      const error = await appError(register(strict, { project_key: own.slug, name }));
      expect(error.code).toBe(code);
      expect(error.message).toContain(phrase);
      expect(error.data).toEqual({ field: "name" });
    }
    expect(await agentRows(own.id)).toHaveLength(0);
  });

  it("accepts the explicit id alpha-one verbatim in coerce and strict modes", async () => {
    const inCoerce = await ensure(coerce, "/srv/register/explicit-coerce");
    const inStrict = await ensure(coerce, "/srv/register/explicit-strict");
    expect((await register(coerce, { project_key: inCoerce.slug, name: "alpha-one" })).name).toBe("alpha-one");
    expect((await register(strict, { project_key: inStrict.slug, name: "alpha-one" })).name).toBe("alpha-one");
    expect((await register(strict, { project_key: inStrict.slug, name: "worker_42" })).name).toBe("worker_42");
  });

  it("always_auto mode ignores the supplied name", async () => {
    const own = await ensure(coerce, "/srv/register/auto");
    const agent = await register(auto, { project_key: own.slug, name: "alpha-one" });
    expect(agent.name).not.toBe("alpha-one");
    expect(GENERATED_NAMES.has(agent.name)).toBe(true);
  });

  it("treats an empty or blank name as no name", async () => {
    const own = await ensure(coerce, "/srv/register/blank");
    const blank = await register(strict, { project_key: own.slug, name: "   " });
    expect(GENERATED_NAMES.has(blank.name)).toBe(true);
    const nulled = await register(strict, { project_key: own.slug, name: null });
    expect(GENERATED_NAMES.has(nulled.name)).toBe(true);
  });

  it("refuses an empty program or model", async () => {
    const noProgram = await appError(register(coerce, { project_key: project.slug, program: "  " }));
    expect(noProgram.code).toBe("EMPTY_PROGRAM");
    expect(noProgram.data).toEqual({ field: "program" });
    const noModel = await appError(register(coerce, { project_key: project.slug, model: "" }));
    expect(noModel.code).toBe("EMPTY_MODEL");
    expect(noModel.data).toEqual({ field: "model" });
  });

  it("normalises attachments_policy: known values in any case, anything else becomes auto", async () => {
    expect((await register(coerce, { project_key: project.slug, attachments_policy: "INLINE" })).attachments_policy).toBe("inline");
    expect((await register(coerce, { project_key: project.slug, attachments_policy: "file" })).attachments_policy).toBe("file");
    expect((await register(coerce, { project_key: project.slug, attachments_policy: "sometimes" })).attachments_policy).toBe("auto");
  });

  it("allows the same name in two projects", async () => {
    const one = await ensure(coerce, "/srv/register/same-one");
    const two = await ensure(coerce, "/srv/register/same-two");
    const a = await register(coerce, { project_key: one.slug, name: "SilverHawk" });
    const b = await register(coerce, { project_key: two.slug, name: "SilverHawk" });
    expect(a.name).toBe("SilverHawk");
    expect(b.name).toBe("SilverHawk");
    expect(a.id).not.toBe(b.id);
  });

  it("lets exactly one of 10 concurrent registrations of one new name win; the rest must authenticate", async () => {
    const own = await ensure(coerce, "/srv/register/race");
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) => register(coerce, { project_key: own.slug, name: "BlueLake", task_description: `racer ${index}` })),
    );
    const fulfilled = results.filter((result) => result.status === "fulfilled");
    const rejected = results.filter((result) => result.status === "rejected");
    expect(fulfilled).toHaveLength(1);
    expect(fulfilled[0]!.value.name).toBe("BlueLake");
    expect(fulfilled[0]!.value.registration_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rejected).toHaveLength(9);
    for (const result of rejected) {
      expect(result.reason).toBeInstanceOf(AppError);
      expect((result.reason as AppError).code).toBe("AUTHENTICATION_REQUIRED");
      expect((result.reason as AppError).message).toContain("registration_token");
    }
    const rows = await agentRows(own.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe(fulfilled[0]!.value.id);
    expect(rows[0]!.taskDescription).toBe(fulfilled[0]!.value.task_description);
  });

  it("picks the last free generated name, and says so when none is left", async () => {
    const own = await ensure(coerce, "/srv/register/full");
    const all = [...GENERATED_NAMES];
    const last = all[all.length - 1]!;
    await db.prisma.agent.createMany({
      data: all.slice(0, -1).map((name) => ({ projectId: own.id, name, nameKey: name.toLowerCase(), program: "p", model: "m" })),
    });
    const lastOne = await register(coerce, { project_key: own.slug });
    expect(lastOne.name).toBe(last);

    const error = await appError(register(coerce, { project_key: own.slug }));
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toContain("alpha-one");
    const coercedError = await appError(createIdentity(coerce, { project_key: own.slug, name_hint: "claude-code" }));
    expect(coercedError.code).toBe("CONFLICT");
    // Explicit ids are still available.
    expect((await register(coerce, { project_key: own.slug, name: "overflow-1" })).name).toBe("overflow-1");
    expect(await db.prisma.agent.count({ where: { projectId: own.id } })).toBe(4279);
  });

  it("gives 10 concurrent registrations without a name 10 distinct agents", async () => {
    const own = await ensure(coerce, "/srv/register/race-generated");
    const agents = await Promise.all(Array.from({ length: 10 }, () => register(coerce, { project_key: own.slug })));
    expect(new Set(agents.map((agent) => agent.name)).size).toBe(10);
    for (const agent of agents) expect(GENERATED_NAMES.has(agent.name)).toBe(true);
    expect(await agentRows(own.id)).toHaveLength(10);
  });
});

describe("create_agent_identity", () => {
  it("creates 5 distinct agents with valid generated names", async () => {
    const own = await ensure(coerce, "/srv/identity/five");
    const agents = [];
    for (let i = 0; i < 5; i += 1) agents.push(await createIdentity(coerce, { project_key: own.slug }));
    expect(new Set(agents.map((agent) => agent.name)).size).toBe(5);
    expect(new Set(agents.map((agent) => agent.id)).size).toBe(5);
    expect(new Set(agents.map((agent) => agent.registration_token)).size).toBe(5);
    for (const agent of agents) {
      expect(GENERATED_NAMES.has(agent.name)).toBe(true);
      expect(agent.program).toBe("codex-cli");
      expect(agent.model).toBe("gpt-5");
      expect(agent.project_id).toBe(own.id);
    }
    expect(await agentRows(own.id)).toHaveLength(5);
  });

  it("honours a free name_hint, and coerces a taken one to a new generated name", async () => {
    const own = await ensure(coerce, "/srv/identity/hint");
    const first = await createIdentity(coerce, { project_key: own.slug, name_hint: "CalmRiver" });
    expect(first.name).toBe("CalmRiver");
    const explicit = await createIdentity(coerce, { project_key: own.slug, name_hint: "cc-0" });
    expect(explicit.name).toBe("cc-0");
    const taken = await createIdentity(coerce, { project_key: own.slug, name_hint: "calmriver" });
    expect(taken.id).not.toBe(first.id);
    expect(taken.name).not.toBe("CalmRiver");
    expect(GENERATED_NAMES.has(taken.name)).toBe(true);
    const invalid = await createIdentity(coerce, { project_key: own.slug, name_hint: "BackendHarmonizer" });
    expect(GENERATED_NAMES.has(invalid.name)).toBe(true);
    expect(await agentRows(own.id)).toHaveLength(4);
  });

  it("strict mode: a taken hint is NAME_TAKEN, an invalid one names the name_hint field", async () => {
    const own = await ensure(coerce, "/srv/identity/strict");
    await createIdentity(strict, { project_key: own.slug, name_hint: "CalmRiver" });
    const taken = await appError(createIdentity(strict, { project_key: own.slug, name_hint: "CALMRIVER" }));
    expect(taken.code).toBe("NAME_TAKEN");
    expect(taken.message).toContain("already in use");
    expect(taken.data).toEqual({ field: "name_hint" });
    const invalid = await appError(createIdentity(strict, { project_key: own.slug, name_hint: "BackendHarmonizer" }));
    expect(invalid.code).toBe("DESCRIPTIVE_NAME");
    expect(invalid.data).toEqual({ field: "name_hint" });
    expect(await agentRows(own.id)).toHaveLength(1);
  });

  it("always_auto mode ignores the hint", async () => {
    const own = await ensure(coerce, "/srv/identity/auto");
    const agent = await createIdentity(auto, { project_key: own.slug, name_hint: "cc-1" });
    expect(GENERATED_NAMES.has(agent.name)).toBe(true);
  });

  it("gives one of 6 concurrent calls with one free hint the hint, the rest generated names (coerce) or NAME_TAKEN (strict)", async () => {
    const own = await ensure(coerce, "/srv/identity/race");
    const coerced = await Promise.all(Array.from({ length: 6 }, () => createIdentity(coerce, { project_key: own.slug, name_hint: "JadeGlen" })));
    expect(coerced.filter((agent) => agent.name === "JadeGlen")).toHaveLength(1);
    expect(new Set(coerced.map((agent) => agent.name)).size).toBe(6);

    const results = await Promise.allSettled(Array.from({ length: 6 }, () => createIdentity(strict, { project_key: own.slug, name_hint: "jade-glen" })));
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    for (const result of results.filter((r) => r.status === "rejected")) {
      expect((result.reason as AppError).code).toBe("NAME_TAKEN");
    }
    expect(await agentRows(own.id)).toHaveLength(7);
  });

  it("refuses an empty program or model and an unknown project", async () => {
    const own = await ensure(coerce, "/srv/identity/errors");
    expect((await appError(createIdentity(coerce, { project_key: own.slug, program: "" }))).code).toBe("EMPTY_PROGRAM");
    expect((await appError(createIdentity(coerce, { project_key: own.slug, model: " " }))).code).toBe("EMPTY_MODEL");
    const missing = await appError(createIdentity(coerce, { project_key: "no-such-project-here" }));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toContain("not found");
    expect(await agentRows(own.id)).toHaveLength(0);
  });
});

describe("whois", () => {
  let slug: string;
  let agent: Awaited<ReturnType<typeof register>>;
  beforeAll(async () => {
    slug = (await ensure(coerce, "/srv/whois/main")).slug;
    agent = await register(coerce, { project_key: slug, name: "QuietMountain", task_description: "watching" });
  });

  it("requires the agent's token", async () => {
    const missing = await appError(invoke(whois, coerce, whoisInput.parse({ project_key: slug, agent_name: "QuietMountain" })));
    expect(missing.code).toBe("AUTHENTICATION_REQUIRED");
    expect(missing.message).toContain("registration_token");
    expect(missing.message).toContain("whois");
    const wrong = await appError(
      invoke(whois, coerce, whoisInput.parse({ project_key: slug, agent_name: "QuietMountain", registration_token: "nope" })),
    );
    expect(wrong.message).toContain("Invalid registration_token");
  });

  it("returns the agent dict and recent_commits with the token, whatever the case of the name", async () => {
    const result = await invoke(whois, coerce,
      whoisInput.parse({ project_key: slug, agent_name: "quietmountain", registration_token: agent.registration_token }),
    );
    const { registration_token: _token, ...view } = agent;
    expect(result).toEqual({ ...view, recent_commits: [] });
    expect(result).not.toHaveProperty("registration_token");
  });

  it("leaves out recent_commits when include_recent_commits is false", async () => {
    const result = await invoke(whois, coerce,
      whoisInput.parse({ project_key: slug, agent_name: "QuietMountain", registration_token: agent.registration_token, include_recent_commits: false }),
    );
    expect(result.name).toBe("QuietMountain");
    expect(result).not.toHaveProperty("recent_commits");
  });

  it("accepts an agent-bound credential instead of the token", async () => {
    const bound: ServiceContext = { ...coerce, actor: { ...LOCAL_OPERATOR, agent: { id: agent.id, projectId: agent.project_id, name: agent.name } } };
    const result = await invoke(whois, bound, whoisInput.parse({ project_key: slug, agent_name: "QuietMountain" }));
    expect(result.id).toBe(agent.id);
  });

  it("answers an unknown agent with NOT_FOUND and a suggestion", async () => {
    const error = await appError(
      invoke(whois, coerce, whoisInput.parse({ project_key: slug, agent_name: "QuietMountan", registration_token: agent.registration_token })),
    );
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("not found");
    expect(error.message).toContain("Did you mean: QuietMountain");
  });
});

describe("listAgents, getProject and the overview", () => {
  let projectId: number;
  let slug: string;
  let reader: Awaited<ReturnType<typeof register>>;
  let sender: Awaited<ReturnType<typeof register>>;
  let retired: Awaited<ReturnType<typeof register>>;

  beforeAll(async () => {
    const project = await ensure(coerce, "/srv/list/main");
    projectId = project.id;
    slug = project.slug;
    reader = await register(coerce, { project_key: slug, name: "GoldFinch" });
    sender = await register(coerce, { project_key: slug, name: "TealHeron" });
    retired = await register(coerce, { project_key: slug, name: "GrayWolf" });
    await db.prisma.agent.update({ where: { id: retired.id }, data: { retiredAt: new Date() } });
    // Three messages to GoldFinch (one read), one to GrayWolf (unread), none to TealHeron.
    for (const [subject, recipientId, read] of [
      ["one", reader.id, false],
      ["two", reader.id, false],
      ["three", reader.id, true],
      ["four", retired.id, false],
    ] as const) {
      await db.prisma.message.create({
        data: {
          projectId,
          senderId: sender.id,
          subject,
          bodyMd: "body",
          recipients: { create: [{ agentId: recipientId, readTs: read ? new Date() : null }] },
        },
      });
    }
    // An unread message in another project must not leak into this one's counts.
    const other = await ensure(coerce, "/srv/list/other");
    const stranger = await register(coerce, { project_key: other.slug, name: "GoldFinch" });
    await db.prisma.message.create({
      data: { projectId: other.id, senderId: stranger.id, subject: "x", bodyMd: "y", recipients: { create: [{ agentId: stranger.id }] } },
    });
  });

  it("splits active and retired agents and counts unread mail per agent", async () => {
    const listed = await invoke(listAgents, coerce, { project_key: slug });
    expect(listed.project).toEqual({ slug, human_key: "/srv/list/main" });
    const unread = Object.fromEntries(listed.agents.map((agent) => [agent.name, agent.unread_count]));
    expect(unread).toEqual({ GoldFinch: 2, TealHeron: 0 });
    expect(listed.retired_agents).toHaveLength(1);
    expect(listed.retired_agents[0]).toMatchObject({ name: "GrayWolf", unread_count: 1, retired_at: expect.stringMatching(ISO_UTC) });
    for (const agent of listed.agents) expect(agent).not.toHaveProperty("retired_at");
    for (const agent of [...listed.agents, ...listed.retired_agents]) {
      expect(agent).not.toHaveProperty("registration_token");
      expect(agent).not.toHaveProperty("contact_policy");
    }
  });

  it("orders agents most recently active first", async () => {
    await db.prisma.agent.update({ where: { id: reader.id }, data: { lastActiveTs: new Date(Date.now() + 60_000) } });
    await db.prisma.agent.update({ where: { id: sender.id }, data: { lastActiveTs: new Date(Date.now() - 60_000) } });
    const listed = await invoke(listAgents, coerce, { project_key: slug });
    expect(listed.agents.map((agent) => agent.name)).toEqual(["GoldFinch", "TealHeron"]);
  });

  it("getProject returns the project with every agent, retired ones included, in id order", async () => {
    const detail = await invoke(getProject, coerce, { project_key: "/srv/list/main" });
    expect(detail).toMatchObject({ id: projectId, slug, human_key: "/srv/list/main" });
    expect(detail.agents.map((agent) => agent.name)).toEqual(["GoldFinch", "TealHeron", "GrayWolf"]);
  });

  it("the overview shows each project's agents with unread counts", async () => {
    const overview = await invoke(projectsOverview, coerce);
    const mine = overview.find((project) => project.id === projectId)!;
    expect(Object.fromEntries(mine.agents.map((agent) => [agent.name, agent.unread_count]))).toEqual({
      GoldFinch: 2,
      TealHeron: 0,
      GrayWolf: 1,
    });
    const other = overview.find((project) => project.slug === "srv-list-other")!;
    expect(other.agents.map((agent) => [agent.name, agent.unread_count])).toEqual([["GoldFinch", 1]]);
  });

  it("listAgents fails on an unknown project", async () => {
    const error = await appError(invoke(listAgents, coerce, { project_key: "srv-list-mian" }));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("Did you mean");
  });
});

describe("resolveScope (the project and the named agent in one statement)", () => {
  it("returns exactly the rows Prisma reads, for a slug, a path and any case of the name", async () => {
    const ctx = serviceContext(db);
    const project = await invoke(ensureProject, ctx, { human_key: "/scope/lookup" });
    const registered = await invoke(registerAgent, ctx, { project_key: "/scope/lookup", program: "p", model: "m", name: "GreenLake", task_description: "t" });
    await db.prisma.agent.update({ where: { id: registered.id }, data: { retiredAt: new Date("2026-01-02T03:04:05.678Z") } });
    const expectedProject = await db.prisma.project.findUniqueOrThrow({ where: { id: project.id } });
    const expectedAgent = await db.prisma.agent.findUniqueOrThrow({ where: { id: registered.id } });

    for (const identifier of [project.slug, "/scope/lookup", "/scope/lookup/"]) {
      const scope = await resolveScope(ctx, identifier, "project_key", "greenlake");
      expect(scope).toEqual({ project: expectedProject, agent: expectedAgent });
    }
    expect(await resolveScope(ctx, project.slug, "project_key", "NoSuchAgent")).toEqual({ project: expectedProject, agent: null });
    expect(await resolveScope(ctx, project.slug, "project_key", null)).toEqual({ project: expectedProject });
  });
});
