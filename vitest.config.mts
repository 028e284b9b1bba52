import path from "node:path";
import { defineConfig } from "vitest/config";

const alias = { "@": path.resolve(import.meta.dirname, "src") };

// CI runs every suite twice, on the embedded database and on Postgres (TEST_DATABASE_URL,
// E2E_DATABASE_URL). The files below test what the database does not change: the `mailroom`
// client commands (their server's services are tested on both databases in their own files) and
// the dashboard in Chromium (its queries likewise). They run in the embedded-database pass, which
// is also what `npm test` / `npm run test:e2e` run on a machine without Postgres.
const ONCE_INTEGRATION = ["cli-agent-tools", "cli-client", "cli-coordination", "cli-run"].map((name) => `tests/integration/${name}.test.ts`);
const ONCE_E2E = ["dashboard", "dashboard-console", "dashboard-login", "dashboard-mail", "dashboard-markdown", "dashboard-overseer"].map((name) => `tests/e2e/${name}.test.ts`);

export default defineConfig({
  resolve: { alias },
  test: {
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
          fileParallelism: false,
        },
      },
    ],
  },
});
