import { defineConfig } from "prisma/config";

// Prisma 7 does not read .env and `env()` throws when a variable is unset, so the URL is read
// directly: commands that need a database (`prisma migrate deploy`) need DATABASE_URL set.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "" },
});
