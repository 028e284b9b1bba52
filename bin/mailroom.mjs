#!/usr/bin/env node
// The `mailroom` command (package.json "bin"; `npx mailroom …` in a clone). It registers tsx's
// loader in this process and runs src/cli/main.ts: no build step and no second process, so
// signals reach the command itself.
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// tsx looks for tsconfig.json (the `@/` path alias) from the working directory; this command runs
// from anywhere, so it names the project's own.
process.env.TSX_TSCONFIG_PATH = path.join(root, "tsconfig.json");
// The server's default DATA_DIR (./data) is relative to where `npm start` runs, the install
// directory; a command started elsewhere must find the same embedded database.
if (!process.env.DATA_DIR) process.env.DATA_DIR = path.join(root, "data");

await import("tsx");
// tsx loads the project's .ts files as CommonJS (package.json has no "type"), and a dynamic import
// of one from here sees its exports under `default`.
const cli = await import(pathToFileURL(path.join(root, "src", "cli", "main.ts")).href);
const { main } = cli.main ? cli : cli.default;

const controller = new AbortController();
let interrupts = 0;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    // The first signal asks the command to stop and clean up; a second one ends it at once.
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    controller.abort();
  });
}

const code = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  signal: controller.signal,
});
// Exit once both streams are flushed (a pipe may still be taking the output).
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
