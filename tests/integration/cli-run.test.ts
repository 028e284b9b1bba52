import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invoke } from "@/server/operations/invoke";
import { acquireBuildSlot } from "@/server/services/build-slots/slots";
import type { ServiceContext } from "@/server/services/context";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// `mailroom run <slot> -- <command…>` as a shell sees it: the real executable in a child process
// against a server in this process, on a PGlite or Postgres test database. The slot is held exactly
// while the command runs (exclusive, or shared with --shared), released afterwards — on success,
// failure, an unknown program or Ctrl-C — and mailroom exits with the command's own code. Another
// agent's lease refuses the run (unless --force) and is left alone. What a lease is and how leases
// conflict is the service's (tests/integration/build-slots.test.ts).

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "mailroom.mjs");
const KEY = "/cli-run";
const NODE = process.execPath;

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let ctx: ServiceContext;
let agents: Record<string, TestAgent>;
let work: string;
let env: NodeJS.ProcessEnv;
const started = new Set<ChildProcess>();

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  /** Resolves once stdout (the wrapped command's, passed through) contains the text. */
  output(text: string): Promise<void>;
  done: Promise<Finished>;
}

/** `mailroom <args>` in a child process; `detached` makes it a process-group leader, as a shell's job is. */
function start(args: string[], options: { env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Running {
  const child = spawn(NODE, [BIN, ...args], { cwd: work, env: options.env ?? env, stdio: ["ignore", "pipe", "pipe"], detached: options.detached ?? false });
  started.add(child);
  let stdout = "";
  let stderr = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters.filter((entry) => stdout.includes(entry.text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<Finished>((resolve) =>
    child.once("close", (code, signal) => {
      started.delete(child);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const output = (text: string) =>
    stdout.includes(text)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.push({ text, resolve })),
          done.then((finished) => {
            throw new Error(`mailroom ended (${finished.code ?? finished.signal}) before printing '${text}': ${finished.stderr}`);
          }),
        ]);
  return { child, output, done };
}

const run = (args: string[], options?: { env?: NodeJS.ProcessEnv }) => start(args, options).done;

/** A node script as the wrapped command (by absolute path, so PATH does not matter). */
const script = (source: string) => [NODE, "-e", source];
/** Prints `ready`, then waits (for a signal) up to `ms`. */
const waits = (ms = 30_000) => script(`process.stdout.write("ready\\n"); setTimeout(() => {}, ${ms});`);

/** Every lease row of this project's slot, oldest first. */
function leases(slot: string) {
  return db.prisma.buildSlot.findMany({
    where: { project: { humanKey: KEY }, slot },
    include: { agent: { select: { name: true } } },
    orderBy: { id: "asc" },
  });
}

async function activeHolders(slot: string) {
  const now = new Date();
  return (await leases(slot)).filter((row) => row.releasedTs === null && row.expiresTs > now).map((row) => ({ agent: row.agent.name, exclusive: row.exclusive }));
}

/** Nobody holds the slot, and every lease row of it was released (not just left to expire). */
async function expectReleased(slot: string) {
  const rows = await leases(slot);
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(row.releasedTs, `${row.agent.name}'s lease on ${slot}`).not.toBeNull();
  expect(await activeHolders(slot)).toEqual([]);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db);
  ({ ctx, agents } = await projectWithAgents(db, KEY, ["GreenLake", "BlueDog"]));
  work = mkdtempSync(path.join(tmpdir(), "mailroom-cli-run-"));
  const green = agents.GreenLake!;
  env = { ...process.env, MAILROOM_URL: server.url, MAILROOM_PROJECT: KEY, MAILROOM_AGENT: green.name, MAILROOM_AGENT_TOKEN: green.token };
  for (const name of ["MAILROOM_TOKEN", "TEST_DATABASE_URL", "DATABASE_URL", "NODE_OPTIONS"]) delete env[name];
});

afterAll(async () => {
  for (const child of started) {
    try {
      if (child.pid) process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await server?.close();
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("mailroom run: the command's outcome", () => {
  it("exits 0 with the command, its output passed through, and the slot released afterwards", async () => {
    const finished = await run(["run", "ok-slot", "--", ...script('console.log("built fine"); console.error("a warning")')]);
    expect(finished.code).toBe(0);
    expect(finished.stdout).toBe("built fine\n");
    expect(finished.stderr).toBe("a warning\n");
    await expectReleased("ok-slot");
    const [row] = await leases("ok-slot");
    expect(row).toMatchObject({ agent: { name: "GreenLake" }, exclusive: true, branch: "" });
  });

  it("exits with the command's own failing code (3), and still releases the slot", async () => {
    const finished = await run(["run", "fail-slot", "--branch", "main", "--", ...script('console.log("half built"); process.exit(3)')]);
    expect(finished.code).toBe(3);
    expect(finished.stdout).toBe("half built\n");
    expect(finished.stderr).toBe("");
    await expectReleased("fail-slot");
    expect((await leases("fail-slot")).map((row) => row.branch)).toEqual(["main"]);
  });

  it("passes the command's arguments through untouched, options after -- included", async () => {
    // A script file, so that node itself takes none of the arguments as its own options.
    const echo = path.join(work, "echo-args.js");
    writeFileSync(echo, "console.log(JSON.stringify(process.argv.slice(2)));\n");
    const finished = await run(["run", "args-slot", "--", NODE, echo, "--force", "a b", "--", "-x", "--ttl", "10"]);
    expect(finished.stderr).toBe("");
    expect(finished.code).toBe(0);
    expect(JSON.parse(finished.stdout)).toEqual(["--force", "a b", "--", "-x", "--ttl", "10"]);
    await expectReleased("args-slot");
  });
});

describe("mailroom run: the slot while the command runs", () => {
  it("holds the slot exclusively by default while the command runs, and lets it go when it ends", async () => {
    const running = start(["run", "held-slot", "--", ...script("setTimeout(() => {}, 3000)")]);
    const holders = await waitFor("the lease", async () => {
      const active = await activeHolders("held-slot");
      return active.length ? active : undefined;
    });
    expect(holders).toEqual([{ agent: "GreenLake", exclusive: true }]);
    // Still held a moment later: the command has not ended yet.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(running.child.exitCode).toBeNull();
    expect(await activeHolders("held-slot")).toEqual([{ agent: "GreenLake", exclusive: true }]);
    const finished = await running.done;
    expect(finished.code).toBe(0);
    await expectReleased("held-slot");
  });

  it("--shared holds a shared lease, which another agent's shared lease does not refuse", async () => {
    await invoke(acquireBuildSlot, ctx, { project_key: KEY, agent_name: "BlueDog", registration_token: agents.BlueDog!.token, slot: "shared-slot", exclusive: false });
    const running = start(["run", "shared-slot", "--shared", "--", ...waits(5_000)]);
    await running.output("ready");
    expect(await activeHolders("shared-slot")).toEqual([
      { agent: "BlueDog", exclusive: false },
      { agent: "GreenLake", exclusive: false },
    ]);
    running.child.kill("SIGTERM");
    const finished = await running.done;
    expect(finished.code).toBe(143);
    // Only GreenLake's lease was released.
    expect(await activeHolders("shared-slot")).toEqual([{ agent: "BlueDog", exclusive: false }]);
  });
});

describe("mailroom run: interrupted", () => {
  it("Ctrl-C (SIGINT to the whole process group) ends the command (130) and releases the slot", async () => {
    const running = start(["run", "group-int-slot", "--", ...waits()], { detached: true });
    await running.output("ready");
    expect(await activeHolders("group-int-slot")).toEqual([{ agent: "GreenLake", exclusive: true }]);
    process.kill(-running.child.pid!, "SIGINT");
    const finished = await running.done;
    expect(finished.code).toBe(130);
    expect(finished.stderr).not.toMatch(/\n\s+at /);
    await expectReleased("group-int-slot");
  });

  it("SIGINT to mailroom alone is passed on to the command as SIGTERM (143), and the slot is released", async () => {
    const running = start(["run", "int-slot", "--", ...waits()]);
    await running.output("ready");
    expect(await activeHolders("int-slot")).toEqual([{ agent: "GreenLake", exclusive: true }]);
    running.child.kill("SIGINT");
    const finished = await running.done;
    expect(finished.code).toBe(143);
    expect(finished.stderr).not.toMatch(/\n\s+at /);
    await expectReleased("int-slot");
  });

  it("a command that handles the signal and exits with its own code: that code, and the slot released", async () => {
    const running = start(["run", "trap-slot", "--", ...script('process.on("SIGTERM", () => { console.log("cleaning up"); process.exit(7); }); console.log("ready"); setTimeout(() => {}, 30000);')]);
    await running.output("ready");
    running.child.kill("SIGTERM");
    const finished = await running.done;
    expect(finished.code).toBe(7);
    expect(finished.stdout).toBe("ready\ncleaning up\n");
    await expectReleased("trap-slot");
  });
});

describe("mailroom run: someone else holds the slot", () => {
  it("refuses (exit 1) naming the holder in one line, does not run the command, and leaves the other lease alone; --force runs it", async () => {
    const other = await invoke(acquireBuildSlot, ctx, { project_key: KEY, agent_name: "BlueDog", registration_token: agents.BlueDog!.token, slot: "taken-slot", ttl_seconds: 600 });
    const before = (await leases("taken-slot")).find((row) => row.agent.name === "BlueDog")!;
    const marker = path.join(work, "taken-ran");
    const writeMarker = script(`require("fs").writeFileSync(${JSON.stringify(marker)}, "ran")`);

    const refused = await run(["run", "taken-slot", "--", ...writeMarker]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toBe(`mailroom run: build slot 'taken-slot' is held by BlueDog (until ${other.granted.expires_ts}); wait, or pass --force\n`);
    expect(existsSync(marker)).toBe(false);
    // BlueDog's lease is exactly as it was; GreenLake's own (advisory, always granted) lease was given back.
    const after = await leases("taken-slot");
    expect(after.find((row) => row.agent.name === "BlueDog")).toEqual(before);
    expect(after.find((row) => row.agent.name === "GreenLake")?.releasedTs).not.toBeNull();
    expect(await activeHolders("taken-slot")).toEqual([{ agent: "BlueDog", exclusive: true }]);

    // A shared request conflicts with the exclusive holder too.
    const shared = await run(["run", "taken-slot", "--shared", "--", ...writeMarker]);
    expect(shared.code).toBe(1);
    expect(shared.stderr).toContain("is held by BlueDog");
    expect(existsSync(marker)).toBe(false);

    const forced = await run(["run", "taken-slot", "--force", "--", ...writeMarker]);
    expect(forced.stderr).toBe("");
    expect(forced.code).toBe(0);
    expect(existsSync(marker)).toBe(true);
    expect((await leases("taken-slot")).find((row) => row.agent.name === "BlueDog")).toEqual(before);
    expect(await activeHolders("taken-slot")).toEqual([{ agent: "BlueDog", exclusive: true }]);
  });

  it("names every holder when several share the slot", async () => {
    for (const name of ["BlueDog", "GreenLake"]) {
      const agent = agents[name]!;
      await invoke(acquireBuildSlot, ctx, { project_key: KEY, agent_name: name, registration_token: agent.token, slot: "crowded-slot", exclusive: false, branch: "other" });
    }
    // GreenLake's own lease on another branch counts as another holder.
    const refused = await run(["run", "crowded-slot", "--", ...script("process.exit(0)")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^mailroom run: build slot 'crowded-slot' is held by BlueDog \(until [^)]+\), GreenLake \(until [^)]+\); wait, or pass --force\n$/);
  });
});

describe("mailroom run: renewal", () => {
  it("renews the lease while a long command runs (--ttl 60: every 20 s)", { timeout: 45_000 }, async () => {
    const running = start(["run", "renew-slot", "--ttl", "60", "--", ...waits(40_000)]);
    await running.output("ready");
    const [first] = await leases("renew-slot");
    expect(first!.expiresTs.getTime() - first!.acquiredTs.getTime()).toBe(60_000);
    const renewed = await waitFor(
      "a renewal",
      async () => {
        const [row] = await leases("renew-slot");
        return row && row.expiresTs > first!.expiresTs ? row : undefined;
      },
      30_000,
    );
    expect(renewed.releasedTs).toBeNull();
    expect(renewed.expiresTs.getTime()).toBeGreaterThan(Date.now() + 30_000);
    expect(running.child.exitCode).toBeNull();
    running.child.kill("SIGINT");
    const finished = await running.done;
    expect(finished.code).toBe(143);
    expect(finished.stderr).toBe("");
    await expectReleased("renew-slot");
  });
});

describe("mailroom run: usage and failures", () => {
  it("wrong usage exits 2 without running anything or touching a slot", async () => {
    const noSlot = await run(["run", "--", "true"]);
    expect(noSlot.code).toBe(2);
    expect(noSlot.stderr).toContain("missing <slot>");
    const noCommand = await run(["run", "usage-slot"]);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toContain("missing -- <command…>");
    const emptyCommand = await run(["run", "usage-slot", "--"]);
    expect(emptyCommand.code).toBe(2);
    expect(emptyCommand.stderr).toContain("missing -- <command…>");
    for (const ttl of ["10", "60.5", "86401"]) {
      const badTtl = await run(["run", "usage-slot", "--ttl", ttl, "--", "true"]);
      expect(badTtl.code, `--ttl ${ttl}`).toBe(2);
      expect(badTtl.stderr).toContain("--ttl must be a whole number of seconds from 60 to 86400");
    }
    const noAgent = await run(["run", "usage-slot", "--", "true"], { env: { ...env, MAILROOM_AGENT: "" } });
    expect(noAgent.code).toBe(2);
    expect(noAgent.stderr).toContain("missing --agent <name>");
    const unknownOption = await run(["run", "usage-slot", "--exclusive", "--", "true"]);
    expect(unknownOption.code).toBe(2);
    expect(await leases("usage-slot")).toEqual([]);
  });

  it("--project/--agent/--agent-token name the agent instead of the environment", async () => {
    const blue = agents.BlueDog!;
    const bare = { ...env, MAILROOM_PROJECT: "", MAILROOM_AGENT: "", MAILROOM_AGENT_TOKEN: "" };
    const running = start(["run", "flags-slot", "--project", KEY, "--agent", blue.name, "--agent-token", blue.token, "--", ...waits(5_000)], { env: bare });
    await running.output("ready");
    expect(await activeHolders("flags-slot")).toEqual([{ agent: "BlueDog", exclusive: true }]);
    running.child.kill("SIGTERM");
    expect((await running.done).code).toBe(143);
    await expectReleased("flags-slot");
    const wrongToken = await run(["run", "flags-slot", "--", "true"], { env: { ...env, MAILROOM_AGENT_TOKEN: "not-the-token" } });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toMatch(/^mailroom run: .*Invalid registration_token for agent 'GreenLake'/);
    expect(wrongToken.stderr.trim().split("\n")).toHaveLength(1);
    expect(wrongToken.stderr).not.toMatch(/\n\s+at /);
    expect((await leases("flags-slot")).map((row) => row.agent.name)).toEqual(["BlueDog"]);
  });

  it("an unknown program fails (exit 1, 'command not found') and the slot is released", async () => {
    const finished = await run(["run", "missing-slot", "--", "mailroom-no-such-program-xyz", "--flag"]);
    expect(finished.code).toBe(1);
    expect(finished.stderr).toBe("mailroom run: command not found: mailroom-no-such-program-xyz\n");
    await expectReleased("missing-slot");
  });

  it("a server that is not there: exit 1, 'cannot reach Mailroom', no stack, the command not run", async () => {
    const marker = path.join(work, "down-ran");
    const url = `http://127.0.0.1:${await closedPort()}`;
    const finished = await run(["run", "down-slot", "--", ...script(`require("fs").writeFileSync(${JSON.stringify(marker)}, "ran")`)], { env: { ...env, MAILROOM_URL: url } });
    expect(finished.code).toBe(1);
    expect(finished.stderr).toContain(`cannot reach Mailroom at ${url}`);
    expect(finished.stderr.trim().split("\n")).toHaveLength(1);
    expect(finished.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(marker)).toBe(false);
  });
});
