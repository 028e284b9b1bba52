#!/usr/bin/env node
// `npm start`: builds the app the first time (a fresh clone has no .next build), then runs the
// production server (server.mts). The database is opened and migrated by the server as it starts.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nextBin = path.join(root, "node_modules", "next", "dist", "bin", "next");
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };

if (!existsSync(path.join(root, ".next", "BUILD_ID"))) {
  console.log("[mailroom] no production build yet: running `next build` once…");
  const build = spawnSync(process.execPath, [nextBin, "build"], { cwd: root, env, stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

env.NODE_ENV = "production";
const server = spawn(process.execPath, ["--import", "tsx", path.join(root, "server.mts")], { cwd: root, env, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
