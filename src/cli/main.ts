import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { archiveCommands } from "./commands/archive";
import { mcpStdioCommand } from "./commands/bridge";
import { configCommands } from "./commands/config";
import { acksCommands, releaseCommand, reservationsCommand, reserveCommand, waitCommand } from "./commands/coordination";
import { doctorCommand } from "./commands/doctor";
import { exportCommand } from "./commands/export";
import { guardCommands } from "./commands/guard";
import { ackCommand, hookCommand, inboxCommand, readCommand, sendCommand } from "./commands/mail";
import { onboardCommand } from "./commands/onboard";
import { runCommand } from "./commands/run";
import { watchCommand } from "./commands/watch";
import { migrateCommand, serveCommand } from "./commands/server";
import { tokenCommands, userCommands } from "./commands/accounts";
import { CommandFailure, commandHelp, EXIT, groupHelp, parseOptions, splitArgs, UsageError, wantsHelp, type Command, type CommandGroup, type Io } from "./command";
import { describeFailure } from "./failure";

// `mailroom <command> [options]`: finds the command, answers --help, parses the options and runs
// it. Exit codes: 0 done, 1 the command failed (message on stderr), 2 the command line was wrong,
// 130 interrupted. Command modules load their heavy dependencies (database, services) only when
// they run, so --help and usage errors answer at once.

const HELP_ONLY = new Set(["--help", "-h"]);
const ENTRIES: ReadonlyArray<Command | CommandGroup> = [
  sendCommand,
  inboxCommand,
  readCommand,
  ackCommand,
  hookCommand,
  waitCommand,
  watchCommand,
  reserveCommand,
  releaseCommand,
  reservationsCommand,
  acksCommands,
  runCommand,
  mcpStdioCommand,
  configCommands,
  onboardCommand,
  guardCommands,
  serveCommand,
  migrateCommand,
  doctorCommand,
  exportCommand,
  archiveCommands,
  userCommands,
  tokenCommands,
];

function isGroup(entry: Command | CommandGroup): entry is CommandGroup {
  return "commands" in entry;
}

function version(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  return (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;
}

function topHelp(): string {
  const rows = ENTRIES.flatMap((entry) => (isGroup(entry) ? entry.commands : [entry]).map((command) => [command.name, command.summary] as const));
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return [
    "Usage: mailroom <command> [options]",
    "",
    "Mailroom's command line. Agents' commands (send, inbox, read, ack, hook, wait, watch, reserve,",
    "release, reservations, acks, run, mcp-stdio, config, guard) talk to a running server:",
    "MAILROOM_URL (default http://127.0.0.1:$PORT) with MAILROOM_TOKEN. Operator commands (serve,",
    "migrate, doctor, export, archive, user, token) work on the database directly (DATABASE_URL, or",
    "the embedded database in DATA_DIR, default <install dir>/data).",
    "",
    "Commands:",
    ...rows.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`),
    "",
    "Options:",
    "  -h, --help     Show help (also after any command)",
    "  --version      Print the version",
    "",
    "Exit codes: 0 done, 1 failed, 2 wrong usage, 130 interrupted.",
    "",
  ].join("\n");
}

interface Resolved {
  command?: Command;
  group?: CommandGroup;
  rest: string[];
}

function resolve(argv: readonly string[]): Resolved {
  const [first, ...rest] = argv;
  const entry = ENTRIES.find((candidate) => candidate.name === first);
  if (!entry) throw new UsageError(`unknown command '${first}'; run \`mailroom --help\` for the list`);
  if (!isGroup(entry)) return { command: entry, rest };
  const [second, ...tail] = rest;
  if (second === undefined || second.startsWith("-")) return { group: entry, rest };
  const command = entry.commands.find((candidate) => candidate.name === `${entry.name} ${second}`);
  if (!command) throw new UsageError(`unknown command '${entry.name} ${second}'; run \`mailroom ${entry.name} --help\` for the list`);
  return { command, rest: tail };
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let commandName: string | undefined;
  let neverFails = false;
  try {
    if (argv.length === 0) {
      io.err(topHelp());
      return EXIT.usage;
    }
    if (HELP_ONLY.has(argv[0]!)) {
      io.out(topHelp());
      return EXIT.ok;
    }
    if (argv[0] === "--version") {
      io.out(`${version()}\n`);
      return EXIT.ok;
    }
    if (argv[0] === "help") {
      if (argv.length === 1) {
        io.out(topHelp());
        return EXIT.ok;
      }
      const target = resolve(argv.slice(1));
      io.out(target.command ? commandHelp(target.command) : groupHelp(target.group!));
      return EXIT.ok;
    }
    const { command, group, rest } = resolve(argv);
    if (group) {
      if (wantsHelp(rest)) {
        io.out(groupHelp(group));
        return EXIT.ok;
      }
      throw new UsageError(`'${group.name}' needs a command: ${group.commands.map((entry) => entry.name.split(" ")[1]).join(", ")}`, group.name);
    }
    commandName = command!.name;
    neverFails = command!.neverFails === true;
    if (wantsHelp(rest)) {
      io.out(commandHelp(command!));
      return EXIT.ok;
    }
    const { options, args } = splitArgs(command!, rest);
    const values = parseOptions(command!, options);
    return await command!.run(values, io, args);
  } catch (error) {
    const prefix = `mailroom${commandName ? ` ${commandName}` : ""}: `;
    if (neverFails && !io.signal.aborted) {
      io.err(`${prefix}${error instanceof UsageError || error instanceof CommandFailure ? error.message : describeFailure(error)}\n`);
      return EXIT.ok;
    }
    if (error instanceof UsageError) {
      const helpOf = error.command ?? commandName;
      io.err(`${prefix}${error.message}${helpOf ? ` (see \`mailroom ${helpOf} --help\`)` : ""}\n`);
      return EXIT.usage;
    }
    if (io.signal.aborted) {
      io.err(`${prefix}interrupted\n`);
      return EXIT.interrupted;
    }
    io.err(`${prefix}${error instanceof CommandFailure ? error.message : describeFailure(error)}\n`);
    return EXIT.failure;
  }
}
