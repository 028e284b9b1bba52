#!/usr/bin/env node
// `npm start`: builds the app the first time (a fresh clone has no .next build), then runs the
// production server (server.mts) in this very process, so that a signal sent to it reaches the
// server itself. The database is opened and migrated by the server as it starts.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nextBin = path.join(root, "node_modules", "next", "dist", "bin", "next");
const STOP_SIGNALS = ["SIGINT", "SIGTERM"];

// npm runs this script through `sh -c`, and when npm is told to stop it passes the signal to that
// shell only; dash (/bin/sh on Debian and Ubuntu) dies of it without passing it on, and npm exits,
// leaving this process running. So under npm, the shell going away (this process being handed to
// another parent) means npm was stopped, and the server stops too.
const launcher = process.ppid;
if (process.env.npm_lifecycle_event) {
  const watch = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(watch);
    process.kill(process.pid, "SIGTERM");
  }, 500).unref();
}

process.env.NEXT_TELEMETRY_DISABLED = "1";

if (!existsSync(path.join(root, ".next", "BUILD_ID"))) {
  console.log("[mailroom] no production build yet: running `next build` once…");
  const build = spawn(process.execPath, [nextBin, "build"], { cwd: root, stdio: "inherit" });
  const forward = (signal) => build.kill(signal);
  for (const signal of STOP_SIGNALS) process.on(signal, forward);
  const code = await new Promise((resolve) => build.once("exit", resolve));
  if (code !== 0) process.exit(code ?? 1);
  for (const signal of STOP_SIGNALS) process.off(signal, forward);
}

process.env.NODE_ENV = "production";
// What `node --import tsx server.mts` does (the Dockerfile and the e2e tests run it so): tsx's
// loader, registered on import, lets Node load the TypeScript server.
await import("tsx");
await import("../server.mts");
