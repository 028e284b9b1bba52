import { spawn } from "node:child_process";
import path from "node:path";
import { json, UsageError, type Command } from "../command";
import { clientEnv } from "../remote";

// `mailroom serve` and `mailroom migrate`: the server and its schema, as `npm start` and
// `npm run db:migrate` run them. `mailroom doctor` is in ./doctor.ts.

/**
 * `serve` runs scripts/start.mjs (what `npm start` runs: a first build when there is none, then the
 * server) in a child process from the install directory, whose migrations and build it needs, and
 * returns its exit code. A stop signal is passed on; the server stops gracefully.
 */
export const serveCommand: Command = {
  name: "serve",
  summary: "Run the server (what `npm start` runs): dashboard, MCP, tRPC and the event stream",
  description: [
    "Builds the app the first time, opens and migrates the database (DATABASE_URL, else the embedded",
    "one in DATA_DIR) and serves on HOSTNAME:PORT until stopped (Ctrl-C or SIGTERM: a graceful stop).",
  ].join("\n"),
  options: {
    port: { type: "string", value: "<port>", description: "Port (default $PORT, else 3000)" },
    host: { type: "string", value: "<address>", description: "Address to bind (default $HOSTNAME, else 127.0.0.1)" },
  },
  examples: ["mailroom serve", "mailroom serve --port 8765", "DATABASE_URL=postgresql://… mailroom serve --host 0.0.0.0"],
  async run(values, io) {
    const port = values.port as string | undefined;
    if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) throw new UsageError("--port must be a port number from 1 to 65535", "serve");
    const env = await clientEnv();
    const { ROOT } = await import("../database");
    const overrides: Record<string, string> = {
      // The child runs from the install directory: relative folders keep meaning what they meant here.
      DATA_DIR: path.resolve(env.DATA_DIR),
      ...(env.ARCHIVE_DIR ? { ARCHIVE_DIR: path.resolve(env.ARCHIVE_DIR) } : {}),
      ...(port ? { PORT: port } : {}),
      ...(values.host ? { HOSTNAME: values.host as string } : {}),
    };
    // eslint-disable-next-line no-restricted-properties -- the server's environment is this one, with the options applied
    const child = spawn(process.execPath, [path.join(ROOT, "scripts", "start.mjs")], { cwd: ROOT, stdio: "inherit", env: { ...process.env, ...overrides } });
    const onAbort = () => child.kill("SIGTERM");
    io.signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await new Promise<number>((resolve, reject) => {
        child.once("error", reject);
        child.once("exit", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : 1)));
      });
    } finally {
      io.signal.removeEventListener("abort", onAbort);
    }
  },
};

export const migrateCommand: Command = {
  name: "migrate",
  summary: "Apply pending database migrations (the server also applies them at start)",
  description: [
    "Applies this install's migrations (prisma/migrations) to DATABASE_URL, or to the embedded",
    "database in DATA_DIR, under the same lock as `prisma migrate deploy`, recording them as it does.",
  ].join("\n"),
  options: { json: { type: "boolean", description: "Print the result as JSON" } },
  examples: ["mailroom migrate", "DATABASE_URL=postgresql://… mailroom migrate --json"],
  async run(values, io) {
    await clientEnv();
    const { databaseLabel, openCommandDatabase, installMigrations } = await import("../database");
    const migrations = installMigrations();
    const database = await openCommandDatabase();
    let report;
    try {
      report = await database.migrate(migrations);
    } finally {
      await database.close();
    }
    const target = databaseLabel();
    if (values.json) io.out(json({ database: target, applied: report.applied, already_applied: report.alreadyApplied }));
    else if (report.applied.length) io.out(`${target}: applied ${report.applied.join(", ")}; ${report.alreadyApplied} already applied.\n`);
    else io.out(`${target}: up to date (${report.alreadyApplied} migrations applied).\n`);
    return 0;
  },
};
