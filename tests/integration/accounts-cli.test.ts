import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "@/server/db/client";
import { authenticateUser } from "@/server/services/users/accounts";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// `mailroom user …` and `mailroom token …` as an operator's script sees them: the real command in
// a child process on a PGlite data directory or a Postgres database — output, --json shapes, exit
// codes (0 done, 1 refused, 2 wrong usage), and what they leave in the database.

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "mailroom.mjs");
const SECRET = "accounts-cli-secret-0123456789abcdef0123";
const KEY = "/accounts-cli";

let work: string;
let env: NodeJS.ProcessEnv;
let postgres: Database | undefined;
let dataDir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mailroom(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: tmpdir(), env: options.env ?? env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
    child.stdin!.end(options.stdin ?? "");
  });
}

/** The database, opened after the command finished (the embedded one admits one process at a time). */
async function withDb<T>(fn: (database: Database) => Promise<T>): Promise<T> {
  if (postgres) return fn(postgres);
  const database = await openDatabase({ dataDir, migrate: true });
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "mailroom-accounts-cli-"));
  dataDir = path.join(work, "data");
  const base: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: "", JWT_SECRET: SECRET, MAILROOM_MIGRATE_ON_START: "true" };
  delete base.TEST_DATABASE_URL;
  if (process.env.TEST_DATABASE_URL) {
    postgres = await openTestDatabase();
    env = { ...base, DATABASE_URL: (postgres as Database & { url?: string }).url };
  } else {
    env = { ...base, DATA_DIR: dataDir };
  }
  await withDb((database) => projectWithAgents(database, KEY, ["GreenLake"]));
});

afterAll(async () => {
  await postgres?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("mailroom user", () => {
  it("create prints a generated password once, and the user can sign in with it", async () => {
    const run = await mailroom(["user", "create", "--email", "Ada@Example.test", "--name", "Ada", "--role", "admin", "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const created = JSON.parse(run.stdout) as { email: string; role: string; projects: null; password: string };
    expect(created).toMatchObject({ email: "ada@example.test", role: "admin", projects: null });
    expect(created.password).toMatch(/^[\w-]{20}$/);
    await withDb(async (database) => {
      expect(await authenticateUser(database.prisma, "ada@example.test", created.password)).toMatchObject({ role: "admin" });
      expect((await database.prisma.user.findUniqueOrThrow({ where: { email: "ada@example.test" } })).passwordHash).toMatch(/^scrypt\$/);
    });
  });

  it("create --password-stdin takes the password from standard input; a short one is refused naming the rule", async () => {
    const password = "a long enough password";
    const run = await mailroom(["user", "create", "--email", "rex@example.test", "--project", KEY, "--password-stdin"], { stdin: `${password}\n` });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Created reader rex@example.test (projects: ${KEY}).\n`);
    await withDb(async (database) => expect(await authenticateUser(database.prisma, "rex@example.test", password)).not.toBeNull());
    const short = await mailroom(["user", "create", "--email", "short@example.test", "--password-stdin"], { stdin: "short\n" });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("password");
    expect(short.stderr).toContain("at least 12 characters");
    expect(short.stderr).not.toMatch(/\n\s+at /);
  });

  it("create refuses a taken email (exit 1) and a missing --email (exit 2)", async () => {
    const taken = await mailroom(["user", "create", "--email", "ada@example.test"]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain("A user with email 'ada@example.test' already exists.");
    const usage = await mailroom(["user", "create"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--email");
  });

  it("list and disable", async () => {
    const disabled = await mailroom(["user", "disable", "--email", "rex@example.test"]);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toBe("rex@example.test is disabled.\n");
    const active = JSON.parse((await mailroom(["user", "list", "--json"])).stdout) as { users: { email: string }[] };
    expect(active.users.map((user) => user.email)).toEqual(["ada@example.test"]);
    const all = JSON.parse((await mailroom(["user", "list", "--all", "--json"])).stdout) as { users: { email: string; disabled_at: string | null }[] };
    expect(all.users.map((user) => [user.email, user.disabled_at !== null])).toEqual([
      ["ada@example.test", false],
      ["rex@example.test", true],
    ]);
    await withDb(async (database) => expect(await authenticateUser(database.prisma, "rex@example.test", "a long enough password")).toBeNull());
  });
});

describe("mailroom token", () => {
  it("create mints a token bound to an agent that verifies with JWT_SECRET; list shows it; revoke revokes it", async () => {
    const run = await mailroom(["token", "create", "--name", "green", "--role", "writer", "--project", KEY, "--agent", `${KEY}:GreenLake`, "--expires-in-days", "7", "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const minted = JSON.parse(run.stdout) as { id: number; jti: string; token: string; expires_at: string };
    const { payload } = await jwtVerify(minted.token, new TextEncoder().encode(SECRET));
    expect(payload).toMatchObject({ sub: "green", roles: ["writer"], projects: [KEY], agent: { project: "accounts-cli", name: "GreenLake" }, jti: minted.jti });
    expect(payload.exp! - payload.iat!).toBe(7 * 86_400);

    const listed = JSON.parse((await mailroom(["token", "list", "--json"])).stdout) as { tokens: { jti: string; agent: unknown }[] };
    expect(listed.tokens).toEqual([expect.objectContaining({ jti: minted.jti, agent: { project: "accounts-cli", name: "GreenLake" } })]);
    expect(JSON.stringify(listed)).not.toContain(minted.token);

    const revoked = await mailroom(["token", "revoke", "--jti", minted.jti]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked ${minted.jti} at \\d{4}-`));
    expect(JSON.parse((await mailroom(["token", "list", "--json"])).stdout)).toEqual({ tokens: [] });
  });

  it("create without JWT_SECRET says what is missing (exit 1); a bad --agent is a usage error (exit 2)", async () => {
    const noSecret = await mailroom(["token", "create", "--name", "x", "--role", "reader"], { env: { ...env, JWT_SECRET: "" } });
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain("Minting tokens needs JWT_SECRET");
    const badAgent = await mailroom(["token", "create", "--name", "x", "--role", "reader", "--agent", "GreenLake"]);
    expect(badAgent.code).toBe(2);
    expect(badAgent.stderr).toContain("--agent must be <project>:<agent name>");
  });
});
