import { existsSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort, makeDataDir, requireBuild, spawnServer, waitUntilReady, type ServerProcess, type SpawnOptions } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type ProjectResult } from "./support/mcp";

// Starting and stopping the production server as a user does: a port already in use stops it
// before it touches the database; SIGTERM or SIGINT, whether sent to `npm start`, to the start
// script or to the server itself, stops it cleanly (the embedded database closed, its lock
// released) even with an event stream open. Always PGlite: its lock is what shows a clean stop.

const started: ServerProcess[] = [];
const dataDirs: string[] = [];

async function start(options: Omit<SpawnOptions, "dataDir"> & { dataDir?: string } = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? makeDataDir();
  if (!options.dataDir) dataDirs.push(dataDir);
  const server = await spawnServer({ ...options, dataDir });
  started.push(server);
  return server;
}

const lockOf = (dataDir: string) => path.join(dataDir, "mailroom.lock");

/** The server's pid, from the lock its database holds (under `npm start` it is not the spawned process). */
function lockOwner(dataDir: string): number {
  return Number.parseInt(readFileSync(lockOf(dataDir), "utf8").split("\n")[0]!, 10);
}

/** Whether `pid` is still running (an exited process not yet reaped by its new parent counts as gone). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

async function gone(pid: number): Promise<void> {
  while (isRunning(pid)) await new Promise((resolve) => setTimeout(resolve, 100));
}

async function createProject(url: string): Promise<ProjectResult> {
  const mcp = await connectMcp(url);
  try {
    return await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("lifecycle") });
  } finally {
    await mcp.close();
  }
}

async function findProject(url: string, project: ProjectResult): Promise<ProjectResult> {
  const mcp = await connectMcp(url);
  try {
    return await callOk<ProjectResult>(mcp, "ensure_project", { human_key: project.human_key });
  } finally {
    await mcp.close();
  }
}

beforeAll(() => {
  requireBuild();
});

afterEach((context) => {
  if (context.task.result?.state === "fail") {
    for (const server of started) console.error(`--- output of the server on ${server.url} ---\n${server.output()}`);
  }
});

afterAll(async () => {
  for (const server of started) await server.kill();
  for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
});

describe("starting", () => {
  let occupied: Server | undefined;

  afterAll(() => {
    occupied?.close();
  });

  it("on a port already in use, exits non-zero with one clear line, without touching the database", async () => {
    const port = await freePort();
    occupied = createServer();
    await new Promise<void>((resolve) => occupied!.listen(port, "127.0.0.1", resolve));
    const parent = makeDataDir();
    dataDirs.push(parent);
    const dataDir = path.join(parent, "data");

    const server = await start({ dataDir, port });
    const { code } = await server.exited;

    expect(code).toBe(1);
    expect(server.output()).toContain(`[mailroom] cannot listen on 127.0.0.1:${port}: the port is already in use`);
    expect(server.output()).toContain("set PORT to another port");
    expect(server.output()).not.toContain("database ready");
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe("stopping", () => {
  it("SIGTERM to `npm start` stops the server, which closes the database and releases its lock", async () => {
    const npm = await start({ launcher: "npm-start" });
    await waitUntilReady(npm);
    const dataDir = dataDirs.at(-1)!;
    const project = await createProject(npm.url);
    const serverPid = lockOwner(dataDir);
    expect(serverPid).not.toBe(npm.child.pid);

    npm.child.kill("SIGTERM");
    await npm.exited;
    await gone(serverPid);

    expect(npm.output()).toContain("[mailroom] SIGTERM: stopping");
    expect(npm.output()).toContain("[mailroom] stopped");
    expect(existsSync(lockOf(dataDir))).toBe(false);

    // The next server on the folder opens it, and finds what the first one wrote.
    const next = await start({ dataDir });
    await waitUntilReady(next);
    expect(await findProject(next.url, project)).toEqual(project);
    await next.kill();
    expect((await next.exited).code).toBe(0);
  });

  it("SIGTERM to `mailroom serve` stops the server it runs, which releases its lock; the command exits 0", async () => {
    const serve = await start({ launcher: "mailroom-serve" });
    await waitUntilReady(serve);
    const dataDir = dataDirs.at(-1)!;
    await createProject(serve.url);
    const serverPid = lockOwner(dataDir);
    expect(serverPid).not.toBe(serve.child.pid);

    serve.child.kill("SIGTERM");
    const { code } = await serve.exited;
    await gone(serverPid);

    expect(code).toBe(0);
    expect(serve.output()).toContain("[mailroom] SIGTERM: stopping");
    expect(serve.output()).toContain("[mailroom] stopped");
    expect(existsSync(lockOf(dataDir))).toBe(false);
  });

  it("SIGINT to the start script stops the server, exiting 0", async () => {
    const server = await start({ launcher: "start-script" });
    await waitUntilReady(server);
    const dataDir = dataDirs.at(-1)!;
    expect(lockOwner(dataDir)).toBe(server.child.pid);

    server.child.kill("SIGINT");
    const { code } = await server.exited;

    expect(code).toBe(0);
    expect(server.output()).toContain("[mailroom] SIGINT: stopping");
    expect(server.output()).toContain("[mailroom] stopped");
    expect(existsSync(lockOf(dataDir))).toBe(false);
  });

  it("SIGTERM to the server ends the event streams and idle connections it holds, and it exits 0", async () => {
    const server = await start();
    await waitUntilReady(server);
    const dataDir = dataDirs.at(-1)!;
    const project = await createProject(server.url);
    const events = await fetch(`${server.url}/api/events?project=${project.slug}`, { headers: { accept: "text/event-stream" } });
    expect(events.status).toBe(200);
    const stream = events.body!.getReader();
    await stream.read(); // the stream is open and has spoken
    const streamEnded = (async () => {
      try {
        while (!(await stream.read()).done);
      } catch {
        // cut off: ended all the same
      }
    })();

    server.child.kill("SIGTERM");
    const { code } = await server.exited;
    await streamEnded;

    expect(code).toBe(0);
    expect(server.output()).toContain("[mailroom] stopped");
    expect(existsSync(lockOf(dataDir))).toBe(false);
  });
});
