import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { DomainSamples } from ".";

/** An empty git working tree in the system's temporary directory. */
export function tempGitRepo(label: string): string {
  const repo = mkdtempSync(path.join(os.tmpdir(), `mailroom-${label}-`));
  execFileSync("git", ["init", "-q", repo]);
  return repo;
}

export const guardSamples: DomainSamples = {
  expected: {
    install_precommit_guard: "admin",
    uninstall_precommit_guard: "admin",
  },
  samples: async (base) => {
    // Both calls are idempotent: repeated installs rewrite the same files, repeated uninstalls remove nothing.
    const repo = tempGitRepo("guard-matrix");
    process.once("exit", () => rmSync(repo, { recursive: true, force: true }));
    return {
      inputs: {
        install_precommit_guard: { project_key: base.projectKey, code_repo_path: repo },
        uninstall_precommit_guard: { code_repo_path: repo },
      },
    };
  },
};
