// Prisma's schema engine compiled to WebAssembly, driven directly. The Prisma CLI's migrate
// commands need a native engine downloaded from the internet; this package ships the same engine
// on npm. Used to write new migrations offline and, in tests, to check that Prisma Migrate itself
// sees our runner's migrations as applied.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import * as bg from "@prisma/schema-engine-wasm/schema_engine_bg";

let instantiated: Promise<void> | undefined;

function instantiate(): Promise<void> {
  instantiated ??= (async () => {
    const wasmFile = createRequire(import.meta.url)
      .resolve("@prisma/schema-engine-wasm")
      .replace(/schema_engine\.js$/, "schema_engine_bg.wasm");
    const { instance } = await WebAssembly.instantiate(readFileSync(wasmFile), { "./schema_engine_bg.js": bg });
    (bg as unknown as { __wbg_set_wasm(exports: unknown): void }).__wbg_set_wasm(instance.exports);
    (instance.exports as unknown as { __wbindgen_start(): void }).__wbindgen_start();
  })();
  return instantiated;
}

export const filters = { externalTables: [], externalEnums: [] };

export function projectFiles(root = process.cwd()) {
  const schemaPath = path.join(root, "prisma", "schema.prisma");
  const migrationsDir = path.join(root, "prisma", "migrations");
  const lockPath = path.join(migrationsDir, "migration_lock.toml");
  const schema = { files: [{ path: schemaPath, content: readFileSync(schemaPath, "utf8") }] };
  const dirs = existsSync(migrationsDir)
    ? readdirSync(migrationsDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
    : [];
  const migrationsList = {
    baseDir: migrationsDir,
    lockfile: { path: "migration_lock.toml", content: existsSync(lockPath) ? readFileSync(lockPath, "utf8") : null },
    shadowDbInitScript: "",
    migrationDirectories: dirs.map((dir) => ({
      path: dir,
      migrationFile: {
        path: "migration.sql",
        content: { tag: "ok" as const, value: readFileSync(path.join(migrationsDir, dir, "migration.sql"), "utf8") },
      },
    })),
  };
  return { schemaPath, migrationsDir, lockPath, schema, migrationsList };
}

export async function openSchemaEngine(adapter: SqlMigrationAwareDriverAdapterFactory, root = process.cwd()) {
  await instantiate();
  const { schemaPath, schema } = projectFiles(root);
  return bg.SchemaEngine.new(
    { datamodels: [[schemaPath, schema.files[0]!.content]] },
    () => {},
    bindMigrationAwareSqlAdapterFactory(adapter),
  );
}
