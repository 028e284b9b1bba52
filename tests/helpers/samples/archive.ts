import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { profilePath } from "@/server/archive/layout";
import type { ArchiveConfig } from "@/server/services/context";
import { testConfig } from "../context";
import type { DomainSamples } from ".";

let matrixDir: string | undefined;

function git(dir: string, args: string[]): string {
  return execFileSync("git", ["-C", dir, "-c", "user.name=Mailroom Test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false", ...args], { encoding: "utf8" });
}

/**
 * The archive the permission matrix's server reads (its config.archive): a real repository in the
 * system's temporary directory, created on first use and removed when the test process exits.
 * Reading a particular commit or file needs one, so the matrix server cannot use the disabled
 * archive of testConfig.
 */
export function matrixArchive(): ArchiveConfig {
  if (!matrixDir) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mailroom-archive-matrix-"));
    execFileSync("git", ["init", "-q", "--initial-branch=main", dir]);
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    matrixDir = dir;
  }
  return { ...testConfig.archive, enabled: true, dir: matrixDir };
}

export const archiveSamples: DomainSamples = {
  expected: {
    archive_commits: "admin",
    archive_commit: "admin",
    archive_file: "admin",
    "resource://mailbox-with-commits": "read",
  },
  samples: async ({ db, projectKey, agents }) => {
    // One commit of the matrix project, as the writer would make it for GreenLake's profile.
    const { slug } = await db.prisma.project.findUniqueOrThrow({ where: { humanKey: projectKey } });
    const dir = matrixArchive().dir;
    const file = profilePath(slug, "GreenLake");
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), `${JSON.stringify({ name: "GreenLake", project: projectKey })}\n`);
    git(dir, ["add", "--", file]);
    // Samples built twice in one process find the file already committed.
    if (git(dir, ["status", "--porcelain"]).trim()) git(dir, ["commit", "-q", "-m", "agent: profile GreenLake"]);
    const sha = git(dir, ["log", "-1", "--format=%H", "--", file]).trim();
    return {
      inputs: {
        archive_commits: { project_key: projectKey, limit: 5 },
        archive_commit: { project_key: projectKey, sha },
        archive_file: { project_key: projectKey, path: file, sha },
        "resource://mailbox-with-commits": { agent: "BlueDog", project: projectKey, agent_token: agents.BlueDog.token },
      },
    };
  },
};
