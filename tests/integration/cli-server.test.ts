import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARCHIVE_LOCK_CLASS } from "@/server/archive/lock";
import { openDatabase } from "@/server/db/client";
import { invoke } from "@/server/operations/invoke";
import { sendMessageInput } from "@/server/schemas/messages";
import { sendMessage } from "@/server/services/messages/send";
import { closedPort, inParallel, mailroom, NO_STACK, type Run } from "../helpers/cli";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents } from "../helpers/mail";

// `mailroom migrate` and `mailroom doctor` as an operator runs them: the real executable against an
// embedded database in a folder of its own (and, with TEST_DATABASE_URL, a fresh Postgres
// database). Each doctor check is driven into each of its states: a free or occupied port, a lock
// held, stale or free, migrations pending or applied, an archive empty, agreeing or differing,
// and a database that cannot be reached. `mailroom serve` needs the production build: it is in
// tests/e2e/lifecycle.test.ts.

const MIGRATIONS = readdirSync(path.resolve(import.meta.dirname, "..", "..", "prisma", "migrations"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

interface Check {
  name: string;
  status: "ok" | "warn" | "fail" | "skipped";
  detail: string;
}

interface Doctor {
  ok: boolean;
  checks: Check[];
}

let work: string;
let port: number;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "mailroom-cli-server-"));
  port = await closedPort();
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The environment of an operator's shell on this machine: the embedded database in `dataDir`. */
function machine(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { DATA_DIR: dataDir, PORT: String(port), HOSTNAME: "127.0.0.1", ...extra };
}

function doctorOf(run: Run): Doctor & Record<string, Check> {
  expect(run.stderr).toBe("");
  const report = JSON.parse(run.stdout) as Doctor;
  return Object.assign(report, Object.fromEntries(report.checks.map((check) => [check.name, check])));
}

function statuses(report: Doctor): Record<string, string> {
  return Object.fromEntries(report.checks.map((check) => [check.name, check.status]));
}

describe("migrate and doctor on a fresh embedded database", () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = path.join(work, "fresh");
  });

  it("doctor before migrating: every migration pending (a warning, the server applies them), or a failure when it would not", async () => {
    const noMigrations = path.join(work, "no-migrate-on-start");
    const [pending, refused] = await inParallel([
      () => mailroom(["doctor", "--json"], machine(dataDir)),
      () => mailroom(["doctor"], machine(noMigrations, { MAILROOM_MIGRATE_ON_START: "false" })),
    ]);
    const report = doctorOf(pending);
    expect(pending.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.checks.map((check) => check.name)).toEqual(["lock", "ports", "database", "migrations", "archive", "clock"]);
    expect(statuses(report)).toEqual({ lock: "ok", ports: "ok", database: "ok", migrations: "warn", archive: "skipped", clock: "ok" });
    expect(report.lock!.detail).toBe(`the embedded database in ${dataDir} is not in use`);
    expect(report.ports!.detail).toBe(`127.0.0.1:${port} is free: no server runs, and \`mailroom serve\` can bind it`);
    expect(report.database!.detail).toMatch(new RegExp(`^embedded database in ${dataDir} \\(PGlite, Postgres \\d+\\.\\d+\\)$`));
    expect(report.migrations!.detail).toBe(`0 applied, ${MIGRATIONS.length} pending (${MIGRATIONS.join(", ")}); the server applies them at start, or run \`mailroom migrate\``);
    expect(report.archive!.detail).toBe("the schema is not up to date");

    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe("");
    expect(refused.stdout).toContain("FAIL  migrations  0 applied");
    expect(refused.stdout).toContain("MAILROOM_MIGRATE_ON_START is off: run `mailroom migrate`");
    expect(refused.stdout.endsWith("1 check failed.\n")).toBe(true);
  });

  it("migrate applies them all once; a second run applies none; doctor then finds nothing wrong", async () => {
    const first = await mailroom(["migrate"], machine(dataDir));
    expect(first).toEqual({ code: 0, stderr: "", stdout: `embedded database in ${dataDir}: applied ${MIGRATIONS.join(", ")}; 0 already applied.\n` });
    const [again, text] = await inParallel([() => mailroom(["migrate", "--json"], machine(dataDir)), () => mailroom(["migrate"], machine(dataDir))], 1);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ database: `embedded database in ${dataDir}`, applied: [], already_applied: MIGRATIONS.length });
    expect(text.stdout).toBe(`embedded database in ${dataDir}: up to date (${MIGRATIONS.length} migrations applied).\n`);

    const doctor = await mailroom(["doctor"], machine(dataDir));
    expect(doctor.code).toBe(0);
    const lines = doctor.stdout.trimEnd().split("\n");
    expect(lines[3]).toBe(`ok    migrations  all ${MIGRATIONS.length} applied`);
    expect(lines[4]).toBe(`ok    archive     ${dataDir}/archive: empty, as the database`);
    expect(lines[5]).toMatch(/^ok {4}clock {7}this machine's clock is (in step with|\d+ ms (behind|ahead of)) the database's$/);
    expect(lines.at(-1)).toBe("No problems found.");
  });

  it("a server's lock on the folder: doctor leaves the database alone and says who holds it", async () => {
    const db = await openDatabase({ dataDir, migrate: false });
    const testDb = await openTestDatabase();
    const server: TestServer = await startTestServer(testDb);
    try {
      const serverPort = new URL(server.url).port;
      const [alone, serving] = await inParallel([
        () => mailroom(["doctor", "--json"], machine(dataDir)),
        () => mailroom(["doctor", "--json"], machine(dataDir, { PORT: serverPort })),
      ]);
      const held = doctorOf(alone);
      expect(alone.code).toBe(0);
      expect(statuses(held)).toEqual({ lock: "ok", ports: "ok", database: "warn", migrations: "skipped", archive: "skipped", clock: "skipped" });
      expect(held.lock!.detail).toBe(`the embedded database in ${dataDir} is in use by pid ${process.pid}`);
      expect(held.database!.detail).toBe(`embedded database in ${dataDir}: held by pid ${process.pid}, which does not answer on PORT`);
      expect(held.clock!.detail).toBe(`the embedded database is in use by pid ${process.pid}: stop it to check this, or use Postgres`);

      const answered = doctorOf(serving);
      expect(serving.code).toBe(0);
      expect(answered.ports!.detail).toBe(`Mailroom answers on 127.0.0.1:${serverPort} and reports itself ready`);
      expect(answered.database).toEqual({
        name: "database",
        status: "ok",
        detail: `embedded database in ${dataDir}: open in the running server (pid ${process.pid}), which reports it ready`,
      });
    } finally {
      await server.close();
      await testDb.close();
      await db.close();
    }
  });

  it("the archive: mail not yet written is queued, not missing; after a rebuild they agree; a lost write fails the check", async () => {
    const send = async (subject: string, [from, to]: [string, string]) => {
      const db = await openDatabase({ dataDir, migrate: false });
      try {
        const { ctx, agents, project } = await projectWithAgents(db, "/doctor/archive", [from, to]);
        const sent = await invoke(sendMessage, ctx,
          sendMessageInput.parse({ project_key: project.slug, sender_name: from, sender_token: agents[from]!.token, to: [to], subject, body_md: "b" }),
        );
        return { db, id: sent.deliveries[0]!.payload.id };
      } catch (error) {
        await db.close();
        throw error;
      }
    };
    const queued = await send("Queued", ["GreenLake", "BlueDog"]);
    await queued.db.close();
    const waiting = doctorOf(await mailroom(["doctor", "--json"], machine(dataDir)));
    expect(waiting.archive!.status).toBe("ok");
    expect(waiting.archive!.detail).toMatch(new RegExp(`^${dataDir}/archive agrees with the database \\(1 messages, commit (null|undefined|[0-9a-f]{12})\\); \\d+ events queued \\(oldest [\\d.]+ s\\)$`));

    const rebuilt = await mailroom(["archive", "rebuild"], machine(dataDir));
    expect(rebuilt.code).toBe(0);
    const agreed = doctorOf(await mailroom(["doctor", "--json"], machine(dataDir)));
    expect(agreed.archive!.status).toBe("ok");
    expect(agreed.archive!.detail).toMatch(new RegExp(`^${dataDir}/archive agrees with the database \\(1 messages, commit [0-9a-f]{12}\\)`));

    // A message whose archive event was marked done without its file being written: a lost write.
    const lost = await send("Lost", ["RedFox", "PinkCat"]);
    await lost.db.prisma.$executeRaw`UPDATE archive_outbox SET processed_ts = now() WHERE message_id = ${lost.id}`;
    await lost.db.close();
    const [differs, text] = await inParallel([() => mailroom(["doctor", "--json"], machine(dataDir)), () => mailroom(["doctor"], machine(dataDir))], 1);
    expect(differs.code).toBe(1);
    const report = doctorOf(differs);
    expect(report.ok).toBe(false);
    expect(report.archive!.status).toBe("fail");
    expect(report.archive!.detail).toMatch(new RegExp(`^${dataDir}/archive differs from the database: 1 missing, 0 orphan files; \\d+ events queued \\(oldest [\\d.]+ s\\); \`mailroom archive rebuild\` writes what is missing$`));
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("FAIL  archive     ");
    expect(text.stdout.endsWith("1 check failed.\n")).toBe(true);
  });
});

describe("doctor's other failures", () => {
  let foreign: Server;
  let foreignPort: number;

  beforeAll(async () => {
    foreign = createServer((_, res) => res.writeHead(404, { "content-type": "text/plain" }).end("not here"));
    await new Promise<void>((resolve) => foreign.listen(0, "127.0.0.1", resolve));
    foreignPort = (foreign.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => foreign?.close(resolve));
  });

  it("another program on PORT fails 'ports'; a lock left by a process that is gone is a warning, and taken over", async () => {
    const dataDir = path.join(work, "stale");
    const gone = spawn(process.execPath, ["-e", ""]);
    const pid = gone.pid!;
    await new Promise((resolve) => gone.once("exit", resolve));
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path.join(dataDir, "mailroom.lock"), `${pid}\n`);
    const [occupied, stale] = await inParallel([
      () => mailroom(["doctor", "--json"], machine(path.join(work, "occupied"), { PORT: String(foreignPort) })),
      () => mailroom(["doctor", "--json"], machine(dataDir)),
    ]);

    const blocked = doctorOf(occupied);
    expect(occupied.code).toBe(1);
    expect(blocked.ports).toEqual({ name: "ports", status: "fail", detail: `another program answers on 127.0.0.1:${foreignPort} (HTTP 404 to /api/ready): Mailroom cannot bind it` });

    const report = doctorOf(stale);
    expect(stale.code).toBe(0);
    expect(report.lock).toEqual({ name: "lock", status: "warn", detail: `${dataDir}/mailroom.lock names pid ${pid}, which is gone; the next start takes the lock over` });
    expect(report.database!.status).toBe("ok");
  });

  it("a Postgres server that cannot be reached fails 'database' on one line and skips what needs it; migrate fails without a stack", async () => {
    const url = `postgresql://postgres:secret-pw@127.0.0.1:${await closedPort()}/mailroom`;
    const [doctor, migrate] = await inParallel([
      () => mailroom(["doctor", "--json"], machine(path.join(work, "unused"), { DATABASE_URL: url })),
      () => mailroom(["migrate"], machine(path.join(work, "unused"), { DATABASE_URL: url })),
    ]);
    const report = doctorOf(doctor);
    expect(doctor.code).toBe(1);
    expect(statuses(report)).toEqual({ lock: "ok", ports: "ok", database: "fail", migrations: "skipped", archive: "skipped", clock: "skipped" });
    const label = url.replace("secret-pw", "***");
    expect(report.database!.detail).toBe(`${label}: cannot reach the database (connection refused); check DATABASE_URL and that Postgres is running`);
    expect(report.lock!.detail).toBe("Postgres: no data-directory lock (instances share the database)");
    expect(doctor.stdout).not.toContain("secret-pw");
    expect(migrate).toEqual({ code: 1, stdout: "", stderr: "mailroom migrate: cannot reach the database (connection refused); check DATABASE_URL and that Postgres is running\n" });
    expect(migrate.stderr).not.toMatch(NO_STACK);
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)("doctor on Postgres", () => {
  it("a fresh database: its version, every migration applied, the archive empty with no writer, the clock", async () => {
    const db = await openTestDatabase();
    // Another database's archive writer holds the same advisory key: pg_locks spans the server.
    const elsewhere = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await elsewhere.connect();
    try {
      await elsewhere.query("SELECT pg_advisory_lock($1::int, 0)", [ARCHIVE_LOCK_CLASS]);
      const archiveDir = path.join(work, "pg-archive");
      const run = await mailroom(["doctor", "--json"], machine(path.join(work, "pg-unused"), { DATABASE_URL: db.url!, ARCHIVE_DIR: archiveDir }));
      const report = doctorOf(run);
      expect(run.code).toBe(0);
      expect(statuses(report)).toEqual({ lock: "ok", ports: "ok", database: "ok", migrations: "ok", archive: "ok", clock: "ok" });
      expect(report.database!.detail).toMatch(new RegExp(`^${db.url!.replace(/[.?]/g, "\\$&")} \\(Postgres \\d+(\\.\\d+)?`));
      expect(report.migrations!.detail).toBe(`all ${MIGRATIONS.length} applied`);
      expect(report.archive!.detail).toBe(`${archiveDir}: empty, as the database; no instance holds the writer lock (no server running?)`);
    } finally {
      await elsewhere.end();
      await db.close();
    }
  });
});
