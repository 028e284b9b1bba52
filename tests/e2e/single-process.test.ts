import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeDataDir, requireBuild, spawnServer, waitUntilReady, type ServerProcess } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type ProjectResult } from "./support/mcp";

// The embedded database (PGlite) belongs to one process: a second production server on the same
// DATA_DIR must refuse to start, and must not disturb the first. Always PGlite, whatever
// E2E_DATABASE_URL says: that is the mode this guards.

let dataDir: string;
const started: ServerProcess[] = [];

async function start(): Promise<ServerProcess> {
  const server = await spawnServer({ dataDir });
  started.push(server);
  return server;
}

/** Resolves "exited" when the process ends, or "ready" if it starts serving instead. */
async function exitOrReady(server: ServerProcess): Promise<"exited" | "ready"> {
  let stop = false;
  const ready = (async () => {
    while (!stop) {
      try {
        const response = await fetch(`${server.url}/api/ready`, { signal: AbortSignal.timeout(2_000) });
        if (response.status === 200) return "ready" as const;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return "exited" as const;
  })();
  const outcome = await Promise.race([server.exited.then(() => "exited" as const), ready]);
  stop = true;
  return outcome;
}

beforeAll(() => {
  requireBuild();
  dataDir = makeDataDir();
});

afterEach((context) => {
  if (context.task.result?.state === "fail") {
    for (const server of started) console.error(`--- output of the server on ${server.url} ---\n${server.output()}`);
  }
});

afterAll(async () => {
  for (const server of started) await server.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("one process per embedded database", () => {
  let first: ServerProcess;
  let project: ProjectResult;

  it("a second production server on the same DATA_DIR exits non-zero, naming the owner", async () => {
    first = await start();
    await waitUntilReady(first);
    const mcp = await connectMcp(first.url);
    try {
      project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("single-process") });
    } finally {
      await mcp.close();
    }
    const lockPath = path.join(dataDir, "mailroom.lock");
    expect(existsSync(lockPath)).toBe(true);
    // The lock file's first line is the owner's pid (the second identifies that process).
    const lock = readFileSync(lockPath, "utf8");
    const owner = lock.split("\n")[0];

    const second = await start();
    const outcome = await exitOrReady(second);
    expect(outcome, `the second server started serving:\n${second.output()}`).toBe("exited");
    const { code } = await second.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(second.output()).toContain("already using the embedded database");
    expect(second.output()).toContain(`(pid ${owner})`);
    expect(second.output()).toContain(dataDir);

    // The refused process left the lock and the first server alone.
    expect(readFileSync(lockPath, "utf8")).toBe(lock);
    const ready = await fetch(`${first.url}/api/ready`);
    expect(ready.status).toBe(200);
    // The first server also writes the archive (the second, refused, never got that far).
    await expect(ready.json()).resolves.toMatchObject({ status: "ready", database: "pglite", archive: { enabled: true, role: "writer", last_error: null } });
    const check = await connectMcp(first.url);
    try {
      const again = await callOk<ProjectResult>(check, "ensure_project", { human_key: project.human_key });
      expect(again).toEqual(project);
    } finally {
      await check.close();
    }
  });

  it("once the first server has stopped, a new one opens the DATA_DIR and finds its data", async () => {
    expect(project, "the previous test must have created the project").toBeDefined();
    await first.kill();

    const next = await start();
    await waitUntilReady(next);
    const mcp = await connectMcp(next.url);
    try {
      const again = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: project.human_key });
      expect(again).toEqual(project);
    } finally {
      await mcp.close();
    }
  });
});
