import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import path from "node:path";
import { defineOperation } from "@/server/operations/define";
import { identityInput, identityOutput } from "@/server/schemas/tooling";

// resource://identity/{project}: upstream's identity payload for a project. Mailroom identifies a
// project by its human_key alone (identity_mode_used is always "dir"); the git fields are filled
// in only when the human_key is a directory on this server, by reading the repository's files
// (.git, HEAD, commondir, config): no git process runs, every read is size-capped, and the whole
// look stops after DISCOVERY_TIMEOUT_MS.

const DISCOVERY_TIMEOUT_MS = 2000;
const MAX_FILE_BYTES = 64 * 1024;
const MAX_DEPTH = 64;
const MARKER = ".agent-mail-project-id";

interface GitInfo {
  repo_root: string | null;
  git_common_dir: string | null;
  branch: string | null;
  worktree_name: string | null;
  core_ignorecase: boolean | null;
  normalized_remote: string | null;
  marker: string | null;
}

const NO_GIT: GitInfo = {
  repo_root: null,
  git_common_dir: null,
  branch: null,
  worktree_name: null,
  core_ignorecase: null,
  normalized_remote: null,
  marker: null,
};

async function readSmall(file: string): Promise<string | null> {
  try {
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.alloc(MAX_FILE_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, MAX_FILE_BYTES, 0);
      return buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}

async function kind(file: string): Promise<"dir" | "file" | null> {
  try {
    const found = await stat(file);
    return found.isDirectory() ? "dir" : found.isFile() ? "file" : null;
  } catch {
    return null;
  }
}

/** `git@github.com:Owner/Repo.git`, `https://user@github.com/Owner/Repo` → `github.com/Owner/Repo`. */
export function normalizeRemote(url: string): string | null {
  let rest = url.trim();
  if (!rest) return null;
  rest = rest.replace(/^[a-z+]+:\/\//i, "").replace(/^[^@/]+@/, "");
  const scp = /^([^/:]+):(?!\d+\/)(.*)$/.exec(rest);
  if (scp) rest = `${scp[1]}/${scp[2]}`;
  rest = rest.replace(/:\d+\//, "/").replace(/\.git\/?$/, "").replace(/\/+$/, "");
  const [host = "", ...parts] = rest.split("/");
  return parts.length ? [host.toLowerCase(), ...parts].join("/") : null;
}

/** The [core] ignorecase and [remote "origin"] url of a git config file. */
function parseConfig(text: string): { ignorecase: boolean | null; origin: string | null } {
  let section = "";
  let ignorecase: boolean | null = null;
  let origin: string | null = null;
  for (const line of text.split("\n")) {
    const header = /^\s*\[([^\]]+)\]/.exec(line);
    if (header) {
      section = header[1]!.trim().toLowerCase().replace(/\s+/g, " ");
      continue;
    }
    const entry = /^\s*([A-Za-z0-9-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!entry) continue;
    const key = entry[1]!.toLowerCase();
    if (section === "core" && key === "ignorecase") ignorecase = /^(true|yes|on|1)$/i.test(entry[2]!);
    if (section === 'remote "origin"' && key === "url") origin = entry[2]!.replace(/^"(.*)"$/, "$1");
  }
  return { ignorecase, origin };
}

async function discoverGit(directory: string): Promise<GitInfo> {
  let dir = directory;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const dotGit = path.join(dir, ".git");
    const found = await kind(dotGit);
    if (found) {
      let gitDir = dotGit;
      if (found === "file") {
        const pointer = /^gitdir:\s*(.+)$/m.exec((await readSmall(dotGit)) ?? "");
        if (!pointer) return NO_GIT;
        gitDir = path.resolve(dir, pointer[1]!.trim());
      }
      const common = (await readSmall(path.join(gitDir, "commondir")))?.trim();
      const commonDir = common ? path.resolve(gitDir, common) : gitDir;
      const head = (await readSmall(path.join(gitDir, "HEAD"))) ?? "";
      const config = parseConfig((await readSmall(path.join(commonDir, "config"))) ?? "");
      const marker = (await readSmall(path.join(dir, MARKER)))?.split("\n")[0]?.trim();
      return {
        repo_root: dir,
        git_common_dir: commonDir,
        branch: /^ref:\s*refs\/heads\/(.+)$/m.exec(head)?.[1]?.trim() ?? null,
        worktree_name: gitDir !== commonDir ? path.basename(gitDir) : null,
        core_ignorecase: config.ignorecase,
        normalized_remote: config.origin ? normalizeRemote(config.origin) : null,
        marker: marker && /^[A-Za-z0-9._-]{1,128}$/.test(marker) ? marker : null,
      };
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return NO_GIT;
}

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex").slice(0, 20);

export const identityResource = defineOperation({
  name: "resource://identity",
  description: "How a project is identified: slug, human_key and, when it is a git repository on the server, its git facts.",
  input: identityInput,
  output: identityOutput,
  permission: "read",
  kind: "query",
  scope: "project",
  resource: "resource://identity/{project}",
  resourceFields: { project: "project_key" },
  async handler(ctx) {
    const { project } = ctx;
    const humanKey = project.humanKey;
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const isDirectory = path.isAbsolute(humanKey) && (await kind(humanKey)) === "dir";
    const git = isDirectory
      ? await Promise.race([
          discoverGit(humanKey),
          new Promise<GitInfo>((resolve) => {
            timer = setTimeout(() => {
              timedOut = true;
              resolve(NO_GIT);
            }, DISCOVERY_TIMEOUT_MS);
          }),
        ]).finally(() => clearTimeout(timer))
      : NO_GIT;
    const source = git.marker ? "marker" : git.normalized_remote ? "remote" : git.git_common_dir ? "git_common_dir" : "path";
    const uid =
      git.marker ?? sha1(git.normalized_remote ? `remote:${git.normalized_remote}` : git.git_common_dir ? `common:${git.git_common_dir}` : `path:${humanKey}`);
    const { marker, ...facts } = git;
    return {
      slug: project.slug,
      identity_mode_used: "dir",
      canonical_path: humanKey,
      human_key: humanKey,
      ...facts,
      project_uid: uid,
      discovery: { directory: isDirectory, git: git.repo_root !== null, marker_present: marker !== null, uid_source: source, ...(timedOut ? { timed_out: true } : {}) },
    };
  },
});
