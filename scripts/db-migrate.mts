// `npm run db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded database in
// DATA_DIR when it is unset — the same runner the server uses at start.
import path from "node:path";
import { env, redactedDatabaseUrl } from "../src/env";
import { openDatabase } from "../src/server/db/client";

const database = await openDatabase({ url: env.DATABASE_URL, dataDir: path.resolve(env.DATA_DIR), migrate: false });
try {
  const report = await database.migrate();
  const applied = report.applied.length ? report.applied.join(", ") : "none";
  console.log(`${redactedDatabaseUrl()}: applied ${applied}; ${report.alreadyApplied} already applied.`);
} finally {
  await database.close();
}
