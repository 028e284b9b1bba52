#!/usr/bin/env node
// Adds lockfile entries for platform-specific optional packages (darwin, win32, … builds of
// next/swc, tailwind's oxide, …) that the npm registry mirror of our build machines does not
// carry. `npm install` silently leaves them out there, and `npm ci` then refuses the lockfile as
// "out of sync". The entries carry only version and platform, so npm skips them on other
// platforms and fetches them (from a registry that has them) on their own.
//
// Run after changing dependencies:  npm install <pkg> && node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const lockPath = path.join(root, "package-lock.json");
const lock = JSON.parse(readFileSync(lockPath, "utf8"));
const packages = lock.packages;

const OS = ["darwin", "win32", "linux", "freebsd", "android", "openbsd", "netbsd", "sunos", "aix"];
const CPU = [
  ["arm64", /(?:^|-)arm64(?:-|$)/],
  ["x64", /(?:^|-)x64(?:-|$)/],
  ["ia32", /(?:^|-)ia32(?:-|$)/],
  ["arm", /(?:^|-)arm(?:-|$)|armv7|gnueabihf|(?:^|-)arm-eabi/],
  ["riscv64", /riscv64/],
  ["ppc64", /ppc64/],
  ["s390x", /s390x/],
  ["loong64", /loong64/],
  ["wasm32", /wasm32/],
];

function platformOf(name) {
  const base = name.split("/").pop();
  const fields = {};
  const os = OS.find((candidate) => base.split("-").includes(candidate));
  if (os) fields.os = [os];
  const cpu = CPU.find(([, pattern]) => pattern.test(base));
  if (cpu) fields.cpu = [cpu[0]];
  if (os === "linux" && /musl/.test(base)) fields.libc = ["musl"];
  else if (os === "linux" && /gnu/.test(base)) fields.libc = ["glibc"];
  return fields;
}

let added = 0;
for (const [location, entry] of Object.entries(packages)) {
  if (!entry.optionalDependencies) continue;
  const parentDir = location === "" ? "" : `${location}/`;
  for (const [name, spec] of Object.entries(entry.optionalDependencies)) {
    const nested = `${parentDir}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) continue; // only exact pins, as platform packages are
    packages[hoisted] = {
      version: spec,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platformOf(name),
    };
    added += 1;
  }
}

if (added > 0) writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform-specific optional entries added`);
