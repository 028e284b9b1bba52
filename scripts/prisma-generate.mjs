#!/usr/bin/env node
// Runs `prisma generate` on machines that cannot download Prisma's native schema engine.
// `generate` itself is pure WASM, but the CLI insists on locating a schema-engine binary first;
// pointing PRISMA_SCHEMA_ENGINE_BINARY at a placeholder skips that download. A user who has set
// the variable (or has internet and a real engine) keeps full control of it.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
if (!existsSync(path.join(root, "prisma", "schema.prisma"))) process.exit(0);

const placeholder = path.join(root, "scripts", "no-schema-engine.sh");
chmodSync(placeholder, 0o755);
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= placeholder;

const prismaBin = path.join(root, "node_modules", "prisma", "build", "index.js");
const result = spawnSync(process.execPath, [prismaBin, "generate"], { cwd: root, env, stdio: "inherit" });
process.exit(result.status ?? 1);
