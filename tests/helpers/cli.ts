import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "vitest";

// The real `mailroom` executable in a child process, for the CLI tests: its output, exit code, and
// an environment that points it only where the test says.

export const BIN = path.resolve(import.meta.dirname, "..", "..", "bin", "mailroom.mjs");
/** A stack trace line: never in a command's output. */
export const NO_STACK = /\n\s+at /;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The parent's environment without anything that would point the command elsewhere. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(base)) {
    if (key.startsWith("MAILROOM_") || key.startsWith("JWT_") || key === "TEST_DATABASE_URL" || key === "DATABASE_URL") delete base[key];
  }
  return { ...base, ...extra };
}

/** A failure as every command reports one: nothing on stdout, one line on stderr without a stack, the exit code. */
export function expectOneLineFailure(run: Run, code: number, line: string): void {
  expect(run.stdout).toBe("");
  expect(run.stderr).toBe(`${line}\n`);
  expect(run.stderr).not.toMatch(NO_STACK);
  expect(run.code).toBe(code);
}

/** Exactly this on stdout, nothing on stderr, and the exit code. */
export function expectOk(run: Run, stdout: string, code = 0): void {
  expect(run.stderr).toBe("");
  expect(run.stdout).toBe(stdout);
  expect(run.code).toBe(code);
}

/** Runs `mailroom <args>` to the end, from a neutral working directory, with `stdin` as its input. */
export function mailroom(args: string[], env: Record<string, string> = {}, stdin = ""): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: tmpdir(), env: childEnv(env) }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
    child.stdin!.end(stdin);
  });
}

/** Runs independent commands a few at a time (each child costs about a second of CPU). */
export async function inParallel<T extends (() => Promise<unknown>)[]>(tasks: [...T], width = 2): Promise<{ [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const results: unknown[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, worker));
  return results as { [K in keyof T]: Awaited<ReturnType<T[K]>> };
}

/** A port nothing listens on: bound and released at once. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
