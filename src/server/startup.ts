import { redactedDatabaseUrl } from "@/env";
import { getDatabase } from "./db/client";

/**
 * Opens the database (applying migrations) when the server starts, so that a bad DATABASE_URL or
 * an embedded database already held by another process stops the server at once with a clear
 * message, instead of failing its first request.
 */
export async function openAtStartup(): Promise<void> {
  try {
    await getDatabase();
    console.log(`[mailroom] database ready: ${redactedDatabaseUrl()}`);
  } catch (error) {
    console.error(`[mailroom] cannot open the database: ${(error as Error).message}`);
    process.exit(1);
  }
}
