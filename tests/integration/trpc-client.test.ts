import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailroomClient, type AppRouter, type MailroomClient } from "@/client";
import { ADJECTIVES, NOUNS } from "@/server/services/agents/names";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let client: MailroomClient;

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db, { nameMode: "coerce" });
  client = createMailroomClient({ url: server.url });
});
afterAll(async () => {
  await server?.close();
  await db?.close();
});

const GENERATED_NAMES = new Set(ADJECTIVES.flatMap((adjective) => NOUNS.map((noun) => `${adjective}${noun}`)));

/** The TRPCClientError a call rejects with (fails the test if it resolves). */
async function trpcError(promise: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCClientError);
    return error as TRPCClientError<AppRouter>;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

describe("typed tRPC client", () => {
  it("system.health echoes the configuration", async () => {
    expect(await client.system.health.query()).toEqual({
      status: "ok",
      environment: "test",
      http_host: "127.0.0.1",
      http_port: 0,
      database_url: "test-database",
      archive: expect.objectContaining({ enabled: false, role: "disabled", pending_events: expect.any(Number) }),
    });
  });

  it("projects.ensure creates a project, idempotently", async () => {
    const project = await client.projects.ensure.mutate({ human_key: "/srv/trpc/backend" });
    expect(project).toMatchObject({ slug: "srv-trpc-backend", human_key: "/srv/trpc/backend" });
    const again = await client.projects.ensure.mutate({ human_key: "/srv/trpc//backend/" });
    expect(again).toEqual(project);
    expect(await db.prisma.project.count({ where: { slug: "srv-trpc-backend" } })).toBe(1);
  });

  it("agents.register creates an agent, and projects.overview / list / get show it", async () => {
    const agent = await client.agents.register.mutate({
      project_key: "srv-trpc-backend",
      program: "claude-code",
      model: "opus-4.1",
      task_description: "tRPC tests",
    });
    expect(GENERATED_NAMES.has(agent.name)).toBe(true);
    expect(agent.registration_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(agent.task_description).toBe("tRPC tests");

    const overview = await client.projects.overview.query();
    const entry = overview.find((project) => project.slug === "srv-trpc-backend");
    expect(entry).toBeDefined();
    expect(entry!.agents).toHaveLength(1);
    expect(entry!.agents[0]).toMatchObject({ id: agent.id, name: agent.name, program: "claude-code", unread_count: 0 });
    expect(entry!.agents[0]).not.toHaveProperty("registration_token");

    const projects = await client.projects.list.query();
    expect(projects.map((project) => project.slug)).toContain("srv-trpc-backend");

    const detail = await client.projects.get.query({ project_key: "/srv/trpc/backend" });
    expect(detail.agents.map((a) => a.name)).toEqual([agent.name]);

    const listed = await client.agents.list.query({ project_key: "srv-trpc-backend" });
    expect(listed.agents.map((a) => [a.name, a.unread_count])).toEqual([[agent.name, 0]]);
    expect(listed.retired_agents).toEqual([]);

    const me = await client.agents.whois.query({
      project_key: "srv-trpc-backend",
      agent_name: agent.name,
      registration_token: agent.registration_token!,
    });
    expect(me).toMatchObject({ id: agent.id, name: agent.name, recent_commits: [] });
  });

  it("agents.createIdentity creates a new agent with the free hint", async () => {
    const created = await client.agents.createIdentity.mutate({
      project_key: "srv-trpc-backend",
      program: "codex-cli",
      model: "gpt-5",
      name_hint: "worker_42",
    });
    expect(created.name).toBe("worker_42");
    expect(created.registration_token).toBeTruthy();
  });

  it("a bad input is BAD_REQUEST with a message naming the field", async () => {
    const empty = await trpcError(client.projects.ensure.mutate({ human_key: "" }));
    expect(empty.data?.code).toBe("BAD_REQUEST");
    expect(empty.message).toContain("human_key");

    const missing = await trpcError(
      // @ts-expect-error: program is missing on purpose
      client.agents.register.mutate({ project_key: "srv-trpc-backend", model: "m" }),
    );
    expect(missing.data?.code).toBe("BAD_REQUEST");
    expect(missing.message).toContain("program");

    const extra = await trpcError(
      // @ts-expect-error: an unknown key on purpose
      client.projects.ensure.mutate({ human_key: "/srv/trpc/extra", colour: "blue" }),
    );
    expect(extra.data?.code).toBe("BAD_REQUEST");
    expect(extra.message).toContain("colour");
    expect(await db.prisma.project.count({ where: { slug: "srv-trpc-extra" } })).toBe(0);
  });

  it("a relative path is BAD_REQUEST saying absolute, with the service's error code", async () => {
    const error = await trpcError(client.projects.ensure.mutate({ human_key: "relative/path" }));
    expect(error.data?.code).toBe("BAD_REQUEST");
    expect(error.data?.appCode).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain("absolute");
  });

  it("an unknown project is NOT_FOUND", async () => {
    const lookup = await trpcError(client.projects.get.query({ project_key: "no-such-project" }));
    expect(lookup.data?.code).toBe("NOT_FOUND");
    expect(lookup.data?.httpStatus).toBe(404);
    expect(lookup.data?.appCode).toBe("NOT_FOUND");
    expect(lookup.message).toContain("not found");

    const register = await trpcError(client.agents.register.mutate({ project_key: "NonExistentProject", program: "p", model: "m" }));
    expect(register.data?.code).toBe("NOT_FOUND");
  });

  it("re-registering a taken name without its token is UNAUTHORIZED naming registration_token", async () => {
    const owner = await client.agents.register.mutate({ project_key: "srv-trpc-backend", program: "p", model: "m", name: "AmberLake" });
    const error = await trpcError(client.agents.register.mutate({ project_key: "srv-trpc-backend", program: "p", model: "m", name: "AmberLake" }));
    expect(error.data?.code).toBe("UNAUTHORIZED");
    expect(error.data?.appCode).toBe("AUTHENTICATION_REQUIRED");
    expect(error.message).toContain("registration_token");
    expect(await db.prisma.agent.count({ where: { projectId: owner.project_id, nameKey: "amberlake" } })).toBe(1);
  });

  it("service error codes survive: an empty program is BAD_REQUEST / EMPTY_PROGRAM", async () => {
    const error = await trpcError(client.agents.register.mutate({ project_key: "srv-trpc-backend", program: " ", model: "m" }));
    expect(error.data?.code).toBe("BAD_REQUEST");
    expect(error.data?.appCode).toBe("EMPTY_PROGRAM");
  });

  it("never leaks a stack trace", async () => {
    const error = await trpcError(client.projects.get.query({ project_key: "no-such-project" }));
    expect(error.data?.stack).toBeUndefined();
  });

  it("a client that sends a Bearer token is refused (local mode)", async () => {
    const withToken = createMailroomClient({ url: server.url, token: "secret" });
    const error = await trpcError(withToken.projects.list.query());
    expect(error.data?.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("Bearer");
  });
});
