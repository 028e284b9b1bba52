import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailroomClient, type AppRouter, type MailroomClient } from "@/client";
import { printServerLogOnFailure, repoRoot, startApp, type App } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type AgentResult, type ProjectResult } from "./support/mcp";

// The typed tRPC client, used in-process and from a standalone script (examples/list-projects.mts)
// run with tsx as a child process, against the built app.

const run = promisify(execFile);

interface OverviewProject {
  id: number;
  slug: string;
  human_key: string;
  agents: { id: number; name: string; program: string; model: string; unread_count: number }[];
}

let app: App;
let client: MailroomClient;

beforeAll(async () => {
  app = await startApp();
  client = createMailroomClient({ url: app.url });
});

printServerLogOnFailure(() => app);

afterAll(async () => {
  await app?.stop();
});

async function listProjectsScript(baseUrl: string): Promise<OverviewProject[]> {
  const { stdout } = await run("npx", ["tsx", "examples/list-projects.mts", baseUrl], {
    cwd: repoRoot,
    env: { ...process.env, NODE_ENV: "production" },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as OverviewProject[];
}

describe("typed tRPC client", () => {
  it("registers through tRPC and MCP; the example script lists both agents", async () => {
    const project = await client.projects.ensure.mutate({ human_key: uniqueProjectPath("trpc-script") });
    const viaTrpc = await client.agents.register.mutate({ project_key: project.slug, program: "claude-code", model: "opus-4.1", name: "BlueLake" });
    expect(viaTrpc.name).toBe("BlueLake");
    expect(viaTrpc.registration_token).toEqual(expect.any(String));

    const mcp = await connectMcp(app.url);
    let viaMcp: AgentResult;
    try {
      const same = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: project.human_key });
      expect(same.id).toBe(project.id);
      viaMcp = await callOk<AgentResult>(mcp, "register_agent", { project_key: project.slug, program: "codex-cli", model: "gpt-5" });
    } finally {
      await mcp.close();
    }

    const projects = await listProjectsScript(app.url);
    const listed = projects.find((entry) => entry.id === project.id);
    expect(listed).toBeDefined();
    expect(listed!.slug).toBe(project.slug);
    expect(listed!.human_key).toBe(project.human_key);
    const byName = new Map(listed!.agents.map((agent) => [agent.name, agent]));
    expect([...byName.keys()].sort()).toEqual(["BlueLake", viaMcp.name].sort());
    expect(byName.get("BlueLake")).toMatchObject({ id: viaTrpc.id, program: "claude-code", model: "opus-4.1", unread_count: 0 });
    expect(byName.get(viaMcp.name)).toMatchObject({ id: viaMcp.id, program: "codex-cli", model: "gpt-5", unread_count: 0 });
    // The overview never exposes credentials.
    expect(JSON.stringify(listed)).not.toContain(viaTrpc.registration_token!);
  });

  it("the script sees the same projects as the in-process client", async () => {
    const fromScript = await listProjectsScript(app.url);
    const fromClient = await client.projects.overview.query();
    expect(fromScript.length).toBeGreaterThanOrEqual(1);
    // Read second, the client's list holds every project the script saw (a shared E2E_BASE_URL
    // server may have gained more in between), with the same slugs.
    const slugs = new Map(fromClient.map((project) => [project.id, project.slug]));
    for (const project of fromScript) expect(slugs.get(project.id)).toBe(project.slug);
  });

  it("surfaces service errors as TRPCClientError with the app code", async () => {
    const error = await client.projects.ensure.mutate({ human_key: "not/absolute" }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TRPCClientError);
    const trpcError = error as TRPCClientError<AppRouter>;
    expect(trpcError.message).toContain("absolute");
    expect(trpcError.data?.code).toBe("BAD_REQUEST");
    expect(trpcError.data?.appCode).toBe("INVALID_ARGUMENT");
  });
});
