import { parseArgs } from "node:util";

// The CLI's building blocks: a command declares its options once (type, placeholder, help text),
// and that declaration drives parsing (node:util parseArgs, strict), the required-option check
// and the --help page. Commands print through `Io`, so they never touch process streams directly.

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Aborted on SIGINT/SIGTERM: long commands stop and clean up. */
  signal: AbortSignal;
}

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  required?: boolean;
  /** The value's placeholder in help (`<dir>`). */
  value?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  /** Full name as typed: `export`, `archive verify`. */
  name: string;
  summary: string;
  /** Paragraphs after the usage line. */
  description?: string;
  options: Record<string, OptionSpec>;
  examples?: string[];
  /**
   * Never fails the caller: usage errors and failures are reported on stderr and it exits 0 (a
   * client's prompt hook, where a non-zero exit would block the prompt).
   */
  neverFails?: boolean;
  /** A leading operand before the options (`run <slot>`), required when declared. */
  operand?: { name: string; description: string };
  /** Everything after `--` is the command's own (`run <slot> -- <command…>`), required when set. */
  passThrough?: { name: string; description: string };
  run(values: OptionValues, io: Io, args: CommandArgs): Promise<number>;
}

export interface CommandArgs {
  operand?: string;
  rest: string[];
}

/** Splits off the declared operand and the words after `--`; the rest are options. */
export function splitArgs(command: Command, argv: readonly string[]): { options: string[]; args: CommandArgs } {
  let options = [...argv];
  let rest: string[] = [];
  if (command.passThrough) {
    const end = options.indexOf("--");
    if (end === -1 || end === options.length - 1) throw new UsageError(`missing -- <${command.passThrough.name}…>`, command.name);
    rest = options.slice(end + 1);
    options = options.slice(0, end);
  }
  let operand: string | undefined;
  if (command.operand) {
    if (options.length === 0 || options[0]!.startsWith("-")) throw new UsageError(`missing <${command.operand.name}>`, command.name);
    operand = options.shift();
  }
  return { options, args: { operand, rest } };
}

export interface CommandGroup {
  name: string;
  summary: string;
  commands: Command[];
}

/** Wrong use of the command line: exit code 2, with a pointer to the help. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure the command explains itself (exit code 1); the message is one line for the operator. */
export class CommandFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandFailure";
  }
}

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

const HELP_FLAGS = new Set(["--help", "-h"]);

/** Whether --help/-h comes before a `--` terminator. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (HELP_FLAGS.has(arg)) return true;
  }
  return false;
}

/** The first sentence of a parseArgs error, in the CLI's voice. */
function parseErrorMessage(error: Error): string {
  const first = error.message.split(/\.\s/)[0] ?? error.message;
  return first.charAt(0).toLowerCase() + first.slice(1);
}

export function parseOptions(command: Command, argv: readonly string[]): OptionValues {
  const options = Object.fromEntries(
    Object.entries(command.options).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
    ]),
  );
  let values: OptionValues;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as OptionValues;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) throw new UsageError(parseErrorMessage(error as Error), command.name);
    throw error;
  }
  for (const [name, spec] of Object.entries(command.options)) {
    if (spec.required && values[name] === undefined) throw new UsageError(`missing --${name}${spec.value ? ` ${spec.value}` : ""}`, command.name);
    const value = values[name];
    if (typeof value === "string" && value.trim() === "") throw new UsageError(`--${name} must not be empty`, command.name);
  }
  return values;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const entries = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}${spec.type === "string" ? ` ${spec.value ?? "<value>"}` : ""}`;
    const notes = [spec.required ? "required" : "", spec.multiple ? "repeatable" : ""].filter(Boolean);
    return [flag, `${spec.description}${notes.length ? ` (${notes.join(", ")})` : ""}`] as const;
  });
  entries.push(["-h, --help", "Show this help"]);
  const width = Math.max(...entries.map(([flag]) => flag.length)) + 2;
  return entries.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`);
}

export function commandHelp(command: Command): string {
  const required = Object.entries(command.options)
    .filter(([, spec]) => spec.required)
    .map(([name, spec]) => `--${name} ${spec.value ?? "<value>"}`);
  const operand = command.operand ? ` <${command.operand.name}>` : "";
  const passThrough = command.passThrough ? ` -- <${command.passThrough.name}…>` : "";
  const lines = [`Usage: mailroom ${command.name}${operand}${required.length ? ` ${required.join(" ")}` : ""} [options]${passThrough}`, "", command.summary];
  for (const arg of [command.operand, command.passThrough]) if (arg) lines.push(`  <${arg.name}>  ${arg.description}`);
  if (command.description) lines.push("", command.description);
  lines.push("", "Options:", ...optionLines(command.options));
  if (command.examples?.length) lines.push("", "Examples:", ...command.examples.map((example) => `  ${example}`));
  return `${lines.join("\n")}\n`;
}

export function groupHelp(group: CommandGroup): string {
  const width = Math.max(...group.commands.map((command) => command.name.length)) + 2;
  return [
    `Usage: mailroom ${group.name} <command> [options]`,
    "",
    group.summary,
    "",
    "Commands:",
    ...group.commands.map((command) => `  ${command.name.padEnd(width)}${command.summary}`),
    "",
    `Run \`mailroom ${group.name} <command> --help\` for a command's options.`,
    "",
  ].join("\n");
}

/** JSON for --json output: two-space indented, one trailing newline. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
