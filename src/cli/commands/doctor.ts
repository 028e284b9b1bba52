import { createServer } from "node:net";
import path from "node:path";
import type { Env } from "@/env";
import type { Database } from "@/server/db/client";
import { json, type Command } from "../command";
import { describeFailure } from "../failure";
import { clientEnv } from "../remote";

// `mailroom doctor`: what an operator checks when Mailroom will not start or misbehaves, in one
// command that changes nothing. Each check says ok, warn (works, but look), fail (broken) or
// skipped (could not be looked at, and why); the exit code is 1 when any check fails.

type Status = "ok" | "warn" | "fail" | "skipped";

export interface Check {
  name: "lock" | "ports" | "database" | "migrations" | "archive" | "clock";
  status: Status;
  detail: string;
}

/** Longer than this, a database that does not answer counts as unreachable. */
const DATABASE_TIMEOUT_MS = 10_000;
const HTTP_TIMEOUT_MS = 3_000;
/** Clock skew against the database that leases and expiries tolerate without notice, and that breaks them. */
const SKEW_WARN_MS = 1_000;
const SKEW_FAIL_MS = 30_000;

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  return error instanceof Error && / did not answer within /.test(error.message) ? error.message : describeFailure(error);
}

interface ServerProbe {
  check: Check;
  /** What a Mailroom server on the port said about itself (/api/ready), if one answered. */
  ready?: { status: string; database?: string };
}

function canBind(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.name));
    server.listen(port, host, () => server.close(() => resolve(undefined)));
  });
}

/** Whether PORT on HOSTNAME is Mailroom's, someone else's, or free to bind. */
async function probePort(env: Env): Promise<ServerProbe> {
  const anyAddress = ["0.0.0.0", "::"].includes(env.HOSTNAME);
  const host = anyAddress ? "127.0.0.1" : env.HOSTNAME;
  const where = `${host.includes(":") ? `[${host}]` : host}:${env.PORT}`;
  let response: Response;
  try {
    response = await fetch(`http://${where}/api/ready`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS), redirect: "manual" });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if (code !== "ECONNREFUSED") {
      return { check: { name: "ports", status: "fail", detail: `something at ${where} does not answer HTTP (${code ?? (error as Error).name}); PORT/HOSTNAME may point at another program` } };
    }
    const refusal = await canBind(env.PORT, env.HOSTNAME);
    if (refusal) return { check: { name: "ports", status: "fail", detail: `nothing listens on ${where}, and this machine cannot bind ${env.HOSTNAME}:${env.PORT} (${refusal})` } };
    return { check: { name: "ports", status: "ok", detail: `${env.HOSTNAME}:${env.PORT} is free: no server runs, and \`mailroom serve\` can bind it` } };
  }
  const body = (await response.json().catch(() => undefined)) as { status?: unknown; database?: unknown } | undefined;
  const isMailroom = (response.status === 200 && body?.status === "ready") || (response.status === 503 && body?.status === "unavailable");
  if (!isMailroom) return { check: { name: "ports", status: "fail", detail: `another program answers on ${where} (HTTP ${response.status} to /api/ready): Mailroom cannot bind it` } };
  const ready = { status: String(body!.status), database: typeof body!.database === "string" ? body!.database : undefined };
  return {
    ready,
    check: ready.status === "ready"
      ? { name: "ports", status: "ok", detail: `Mailroom answers on ${where} and reports itself ready` }
      : { name: "ports", status: "fail", detail: `Mailroom answers on ${where} but reports its database unreachable` },
  };
}

async function lockCheck(env: Env): Promise<{ check: Check; heldBy?: number }> {
  if (env.DATABASE_URL) return { check: { name: "lock", status: "ok", detail: "Postgres: no data-directory lock (instances share the database)" } };
  const { dataDirLockState } = await import("@/server/db/data-dir-lock");
  const dir = path.resolve(env.DATA_DIR);
  const lock = dataDirLockState(dir);
  if (lock.state === "free") return { check: { name: "lock", status: "ok", detail: `the embedded database in ${dir} is not in use` } };
  if (lock.state === "stale") return { check: { name: "lock", status: "warn", detail: `${dir}/mailroom.lock names pid ${lock.pid}, which is gone; the next start takes the lock over` } };
  return { heldBy: lock.pid, check: { name: "lock", status: "ok", detail: `the embedded database in ${dir} is in use by pid ${lock.pid}` } };
}

function migrationsCheck(status: Awaited<ReturnType<Database["migrationStatus"]>>, migrateOnStart: boolean): Check {
  const problems: string[] = [];
  if (status.failed.length) problems.push(`failed earlier and not resolved: ${status.failed.join(", ")} (fix the database, then \`prisma migrate resolve\`)`);
  if (status.unknown.length) problems.push(`applied by a newer Mailroom than this install: ${status.unknown.join(", ")}`);
  if (status.failed.length || status.unknown.length) return { name: "migrations", status: "fail", detail: problems.join("; ") };
  if (status.changed.length) return { name: "migrations", status: "warn", detail: `${status.applied} applied; changed since they were applied: ${status.changed.join(", ")}` };
  if (status.pending.length) {
    const fix = migrateOnStart ? "the server applies them at start, or run `mailroom migrate`" : "MAILROOM_MIGRATE_ON_START is off: run `mailroom migrate`";
    return { name: "migrations", status: migrateOnStart ? "warn" : "fail", detail: `${status.applied} applied, ${status.pending.length} pending (${status.pending.join(", ")}); ${fix}` };
  }
  return { name: "migrations", status: "ok", detail: `all ${status.applied} applied` };
}

async function archiveCheck(database: Database): Promise<Check> {
  const { configFromEnv } = await import("@/server/services/context");
  const config = configFromEnv().archive;
  if (!config.enabled) return { name: "archive", status: "ok", detail: "disabled (ARCHIVE_ENABLED=false)" };
  const [{ verifyArchive }, { pendingEvents }] = await Promise.all([import("@/server/archive/verify"), import("@/server/archive/status")]);
  const [report, backlog] = await Promise.all([verifyArchive(database.prisma, config), pendingEvents(database.prisma)]);
  const queued = backlog.pending ? `; ${backlog.pending} events queued (oldest ${backlog.oldestAgeSeconds} s)` : "";
  const writer = database.kind === "postgres" ? await archiveWriter(database) : "";
  if (!report.commit && report.projects.every((project) => project.messages === 0)) return { name: "archive", status: "ok", detail: `${path.resolve(config.dir)}: empty, as the database${queued}${writer}` };
  const missing = report.projects.reduce((sum, project) => sum + project.missing_count, 0);
  const orphans = report.projects.reduce((sum, project) => sum + project.orphan_count, 0);
  const messages = report.projects.reduce((sum, project) => sum + project.messages, 0);
  if (!report.ok) {
    return { name: "archive", status: "fail", detail: `${path.resolve(config.dir)} differs from the database: ${missing} missing, ${orphans} orphan files${queued}; \`mailroom archive rebuild\` writes what is missing${writer}` };
  }
  return { name: "archive", status: "ok", detail: `${path.resolve(config.dir)} agrees with the database (${messages} messages, commit ${report.commit?.slice(0, 12)})${queued}${writer}` };
}

/** Postgres: which connection, if any, holds the archive's writer lock. */
async function archiveWriter(database: Database): Promise<string> {
  const { ARCHIVE_LOCK_CLASS } = await import("@/server/archive/lock");
  const rows = await database.prisma.$queryRaw<{ pid: number; address: string | null }[]>`
    SELECT l.pid, host(a.client_addr) AS address FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.classid = ${ARCHIVE_LOCK_CLASS}::int::oid AND l.objid = 0 AND l.objsubid = 2 AND l.granted
      -- pg_locks spans the whole server: other databases' archive writers hold the same key.
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  const holder = rows[0];
  return holder ? `; the writer lock is held (backend ${holder.pid}${holder.address ? ` from ${holder.address}` : ""})` : "; no instance holds the writer lock (no server running?)";
}

async function clockCheck(database: Database): Promise<Check> {
  const before = Date.now();
  const [row] = await database.prisma.$queryRaw<{ now: Date }[]>`SELECT clock_timestamp() AS now`;
  const after = Date.now();
  // Within half the round trip, the two clocks cannot be told apart.
  const raw = row!.now.getTime() - (before + after) / 2;
  const skew = Math.abs(raw) <= (after - before) / 2 + 5 ? 0 : raw;
  const said = `this machine's clock is ${skew === 0 ? "in step with" : `${Math.abs(Math.round(skew))} ms ${skew > 0 ? "behind" : "ahead of"}`} the database's`;
  if (Math.abs(skew) > SKEW_FAIL_MS) return { name: "clock", status: "fail", detail: `${said}: reservations and leases expire at the wrong time; sync the clocks (NTP)` };
  if (Math.abs(skew) > SKEW_WARN_MS) return { name: "clock", status: "warn", detail: `${said}; sync the clocks (NTP)` };
  return { name: "clock", status: "ok", detail: said };
}

export async function runChecks(env: Env): Promise<Check[]> {
  const [lock, port] = await Promise.all([lockCheck(env), probePort(env)]);
  const checks: Check[] = [lock.check, port.check];
  const skip = (reason: string) => {
    for (const name of ["migrations", "archive", "clock"] as const) checks.push({ name, status: "skipped", detail: reason });
  };
  const { databaseLabel, installMigrations, openCommandDatabase } = await import("../database");
  const label = databaseLabel();
  if (lock.heldBy !== undefined) {
    // The embedded database admits one process: the running server speaks for it.
    const serving = port.ready?.status === "ready";
    checks.push({
      name: "database",
      status: serving ? "ok" : "warn",
      detail: serving ? `${label}: open in the running server (pid ${lock.heldBy}), which reports it ready` : `${label}: held by pid ${lock.heldBy}, which does not answer on PORT`,
    });
    skip(`the embedded database is in use by pid ${lock.heldBy}: stop it to check this, or use Postgres`);
    return checks;
  }
  let database: Database;
  try {
    database = await within(openCommandDatabase(), DATABASE_TIMEOUT_MS, "the database");
    await within(database.ping(), DATABASE_TIMEOUT_MS, "the database");
  } catch (error) {
    checks.push({ name: "database", status: "fail", detail: `${label}: ${messageOf(error)}` });
    skip("the database could not be opened");
    return checks;
  }
  try {
    const [{ version }] = (await database.prisma.$queryRaw<{ version: string }[]>`SELECT current_setting('server_version') AS version`) as [{ version: string }];
    checks.push({ name: "database", status: "ok", detail: `${label} (${database.kind === "pglite" ? "PGlite, " : ""}Postgres ${version})` });
    const migrations = migrationsCheck(await database.migrationStatus(installMigrations()), env.MAILROOM_MIGRATE_ON_START);
    checks.push(migrations);
    if (migrations.status === "ok") {
      checks.push(await archiveCheck(database).catch((error: unknown) => ({ name: "archive", status: "fail", detail: messageOf(error) }) satisfies Check));
    } else {
      checks.push({ name: "archive", status: "skipped", detail: "the schema is not up to date" });
    }
    checks.push(await clockCheck(database));
  } finally {
    await database.close();
  }
  return checks;
}

const MARK: Record<Status, string> = { ok: "ok", warn: "WARN", fail: "FAIL", skipped: "skip" };

export const doctorCommand: Command = {
  name: "doctor",
  summary: "Check the database, migrations, archive, lock, port and clock (changes nothing)",
  description: [
    "Checks, on this machine's settings: the embedded database's lock, whether PORT is free or",
    "Mailroom's, the database, its migrations against this install, the Git archive against the",
    "database, and this clock against the database's. Exit 1 when a check fails; warnings do not.",
  ].join("\n"),
  options: { json: { type: "boolean", description: "Print the checks as JSON" } },
  examples: ["mailroom doctor", "mailroom doctor --json | jq '.checks[] | select(.status == \"fail\")'"],
  async run(values, io) {
    const checks = await runChecks(await clientEnv());
    const ok = checks.every((check) => check.status !== "fail");
    if (values.json) {
      io.out(json({ ok, checks }));
    } else {
      for (const check of checks) io.out(`${MARK[check.status].padEnd(5)} ${check.name.padEnd(11)} ${check.detail}\n`);
      const failed = checks.filter((check) => check.status === "fail").length;
      const warned = checks.filter((check) => check.status === "warn").length;
      io.out(ok ? `No problems found${warned ? ` (${warned} warning${warned === 1 ? "" : "s"})` : ""}.\n` : `${failed} check${failed === 1 ? "" : "s"} failed.\n`);
    }
    return ok ? 0 : 1;
  },
};
