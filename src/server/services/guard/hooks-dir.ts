import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import path from "node:path";
import { AppError, quote } from "@/server/errors";

const GIT_TIMEOUT_MS = 10_000;

/** git with the server's own GIT_* variables removed, so only `cwd` decides which repository it sees. */
function git(cwd: string, args: string[]): Promise<string> {
  // eslint-disable-next-line no-restricted-properties -- the child's environment, not configuration
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("GIT_")) delete env[key];
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd, env, timeout: GIT_TIMEOUT_MS, maxBuffer: 64 * 1024 }, (error, stdout: string) => (error ? reject(error) : resolve(stdout)));
  });
}

const notARepository = (repoPath: string) =>
  new AppError("INVALID_ARGUMENT", `code_repo_path ${quote(repoPath)} is not a git working tree on the server's machine.`, { field: "code_repo_path" });

/**
 * The hooks directory of the working tree at `repoPath`: core.hooksPath when set, else the
 * repository's hooks directory (`git rev-parse --git-path hooks` answers both). Anything that is
 * not a git working tree is refused.
 */
export async function hooksDirectory(repoPath: string): Promise<string> {
  const directory = await stat(repoPath).catch(() => undefined);
  if (!directory?.isDirectory()) throw notARepository(repoPath);
  let output: string;
  try {
    output = await git(repoPath, ["rev-parse", "--is-inside-work-tree", "--git-path", "hooks"]);
  } catch {
    throw notARepository(repoPath);
  }
  const [insideWorkTree, hooks] = output.split("\n");
  if (insideWorkTree !== "true" || !hooks) throw notARepository(repoPath);
  return path.resolve(repoPath, hooks);
}
