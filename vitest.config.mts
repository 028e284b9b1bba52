import { availableParallelism } from "node:os";
import path from "node:path";
import { defineConfig } from "vitest/config";

const alias = { "@": path.resolve(import.meta.dirname, "src") };

// CI runs every suite twice, on the embedded database and on Postgres (TEST_DATABASE_URL,
// E2E_DATABASE_URL). The files below test what the database does not change: the `mailroom`
// client commands (their server's services are tested on both databases in their own files), the
// archive's git layer (no database at all) and the dashboard in Chromium (its queries likewise).
// They run in the embedded-database pass, which is also what `npm test` / `npm run test:e2e` run
// on a machine without Postgres.
const ONCE_INTEGRATION = ["archive-git", "cli-agent-tools", "cli-client", "cli-coordination", "cli-run"].map((name) => `tests/integration/${name}.test.ts`);
const ONCE_E2E = ["dashboard", "dashboard-console", "dashboard-login", "dashboard-mail", "dashboard-markdown", "dashboard-overseer"].map((name) => `tests/e2e/${name}.test.ts`);

export default defineConfig({
  resolve: { alias },
  test: {
    // Vitest's own default leaves one core idle (2 cores: one file at a time); the integration
    // suite is CPU-bound, and one worker per core ran its PGlite pass in 11.3 min instead of 15.1.
    maxWorkers: availableParallelism(),
    projects: [
      { resolve: { alias }, test: { name: "unit", include: ["tests/unit/**/*.test.ts"], environment: "node" } },
      {
        resolve: { alias },
        test: {
          name: "integration",
          include: ["tests/integration/**/*.test.ts"],
          exclude: process.env.TEST_DATABASE_URL ? ONCE_INTEGRATION : [],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          exclude: process.env.E2E_DATABASE_URL ? ONCE_E2E : [],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Files in parallel too (one per core): each waits mostly on its own servers and browser
          // (ports, folders and databases are each file's own); on 2 cores the PGlite pass took
          // 5.3 min instead of about 7.
        },
      },
    ],
  },
});
