import type { Server } from "node:http";
import { redactedDatabaseUrl } from "@/env";
import { startArchiveThread } from "./archive/thread";
import { startArchiveWorker, type ArchiveWriterHandle } from "./archive/worker";
import { getDatabase, getEventBus, type Database } from "./db/client";
import { flushAllToolMetrics } from "./services/tooling/metrics-recorder";
import type { EventBus } from "./events/bus";
import { startJobRunner, type JobRunner } from "./jobs/runner";
import { scheduledJobs } from "./jobs/scheduled";
import { configFromEnv } from "./services/context";

// The production server's start and stop (server.mts): bind the port, open the database, and
// close both again when told to stop.

function listenFailure(error: NodeJS.ErrnoException, port: number): string {
  switch (error.code) {
    case "EADDRINUSE":
      return "the port is already in use (EADDRINUSE); set PORT to another port";
    case "EACCES":
      return port < 1024
        ? "permission denied (EACCES): ports below 1024 need privileges; set PORT to 1024 or above"
        : "permission denied (EACCES); set PORT to another port";
    case "EADDRNOTAVAIL":
      return "this machine has no such address (EADDRNOTAVAIL); check HOSTNAME";
    case "ENOTFOUND":
      return "no such host name (ENOTFOUND); check HOSTNAME";
    default:
      return error.message;
  }
}

/**
 * Binds the port: the first thing the server does, so that a port in use stops it at once, with
 * one line saying why and a non-zero exit, before the database is opened or migrated.
 */
export function listenOrExit(server: Server, port: number, hostname: string): Promise<void> {
  const address = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  return new Promise((resolve) => {
    const fail = (error: NodeJS.ErrnoException) => {
      console.error(`[mailroom] cannot listen on ${address}: ${listenFailure(error, port)}`);
      process.exit(1);
    };
    server.once("error", fail);
    server.listen(port, hostname, () => {
      server.off("error", fail);
      resolve();
    });
  });
}

interface Opened {
  database?: Database;
  events?: EventBus;
  error?: unknown;
}

let opening: Promise<Opened> | undefined;
/** Periodic jobs (auto-retire, reservation sweep), started once the database is open. */
let jobRunner: JobRunner | undefined;
/** The Git archive's writer (or standby, while another instance writes), when ARCHIVE_ENABLED. */
let archiveWorker: ArchiveWriterHandle | undefined;

async function open(): Promise<Opened> {
  const opened: Opened = {};
  try {
    opened.database = await getDatabase();
    console.log(`[mailroom] database ready: ${redactedDatabaseUrl()}`);
    opened.events = await getEventBus();
  } catch (error) {
    opened.error = error;
  }
  return opened;
}

/**
 * Opens the database (applying migrations) and its event bus when the server starts, so that a
 * bad DATABASE_URL or an embedded database already held by another process stops the server at
 * once with a clear message, instead of failing its first request. False when that happened.
 */
export async function openAtStartup(): Promise<boolean> {
  opening = open();
  const { database, events, error } = await opening;
  if (error) console.error(`[mailroom] cannot open the database: ${(error as Error).message}`);
  else if (database) {
    const config = configFromEnv();
    jobRunner = startJobRunner(database.prisma, scheduledJobs(config));
    // The archive never stops the server from starting: its failures show in health_check.
    // On Postgres the writer gets a thread of its own (thread.ts); PGlite cannot leave this thread.
    if (config.archive.enabled) {
      archiveWorker =
        database.kind === "postgres" && database.url
          ? startArchiveThread({ url: database.url, config: config.archive }, events)
          : startArchiveWorker({ database, config: config.archive, events });
    }
  }
  return !error;
}

/**
 * Closes what openAtStartup opened, once it is done opening (a migration is not cut short): lets
 * the archive writer finish its batch (commit and marks), writes the buffered tool-call metrics,
 * closes the event bus, then the database; the embedded one writes its files out and releases its folder's lock.
 */
export async function closeAtShutdown(): Promise<void> {
  if (!opening) return;
  const { database, events } = await opening;
  await jobRunner?.stop();
  await archiveWorker?.stop();
  await flushAllToolMetrics();
  await events?.close();
  await database?.close();
}
