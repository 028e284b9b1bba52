// The files install_precommit_guard writes into a repository's hooks directory. They are kept as
// text here (not read from disk at install time) so the server finds them however it is bundled.
// They need POSIX sh, git and node (the server's own node is baked in, with `node` on PATH as the
// fallback) and nothing from this repository.

export type HookName = "pre-commit" | "pre-push";

export const HOOK_NAMES: readonly HookName[] = ["pre-commit", "pre-push"];

/** First-lines markers that tell Mailroom's files apart from anyone else's. */
export const chainRunnerSentinel = (hook: HookName) => `mailroom chain-runner (${hook})`;
export const PLUGIN_SENTINEL = "mailroom guard plugin";

/** Where the pieces live, relative to the hooks directory. */
export const PLUGIN_NAME = "50-mailroom";
export const CHECK_SCRIPT_NAME = "mailroom-guard.cjs";

/** A value inside single quotes in sh: ' becomes '\''. */
function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * `hooks/<hook>`: runs every executable in hooks.d/<hook>/ in lexical order, then the hook that was
 * there before Mailroom's (<hook>.orig), stopping at the first failure. Pre-push input (the refs
 * being pushed) is read once and given to each of them.
 */
export function chainRunner(hook: HookName): string {
  const readsInput = hook === "pre-push";
  return `#!/bin/sh
# ${chainRunnerSentinel(hook)}
# Installed by Mailroom's install_precommit_guard; uninstall_precommit_guard puts back what was here.
# Runs every executable in hooks.d/${hook}/ in lexical order, then ${hook}.orig; stops at the first failure.
hooks_dir=$(cd "$(dirname "$0")" && pwd) || exit 1
${
  readsInput
    ? `input=$(mktemp) || exit 1
trap 'rm -f "$input"' EXIT
cat > "$input"`
    : "input=/dev/null"
}
for plugin in "$hooks_dir/hooks.d/${hook}"/*; do
  [ -f "$plugin" ] && [ -x "$plugin" ] || continue
  "$plugin" "$@" < "$input" || exit $?
done
if [ -x "$hooks_dir/${hook}.orig" ]; then
  "$hooks_dir/${hook}.orig" "$@" < "$input" || exit $?
fi
exit 0
`;
}

export interface PluginSettings {
  /** The project's human key: which project's reservations the check reads. */
  projectKey: string;
  /** The server to ask when AGENT_MAIL_URL is not set in the committing environment. */
  serverUrl: string;
  /** The node binary that runs the check (falls back to `node` on PATH). */
  node: string;
}

/** `hooks/hooks.d/<hook>/50-mailroom`: the guard's settings, then the check script. */
export function plugin(hook: HookName, settings: PluginSettings): string {
  return `#!/bin/sh
# ${PLUGIN_SENTINEL} (${hook}): asks the Mailroom server whether the paths being committed or pushed
# collide with another agent's exclusive file reservation. Installed by install_precommit_guard.
# In the committing environment: AGENT_NAME (required), AGENT_MAIL_TOKEN (the agent's
# registration_token), AGENT_MAIL_URL (overrides the server below), AGENT_MAIL_GUARD_MODE=warn,
# AGENT_MAIL_BYPASS=1.
MAILROOM_GUARD_PROJECT=${shQuote(settings.projectKey)}
MAILROOM_GUARD_URL=${shQuote(settings.serverUrl)}
export MAILROOM_GUARD_PROJECT MAILROOM_GUARD_URL
node=${shQuote(settings.node)}
[ -x "$node" ] || node=node
if ! command -v "$node" >/dev/null 2>&1; then
  echo "mailroom guard: node was not found, so this ${hook} was not checked against file reservations." >&2
  exit 0
fi
exec "$node" "$(dirname "$0")/../${CHECK_SCRIPT_NAME}" ${hook} "$@"
`;
}

/**
 * `hooks/hooks.d/mailroom-guard.cjs`: collects the paths (staged changes for pre-commit, the
 * changes of the commits being pushed for pre-push; both names of a rename) and asks the server,
 * with one JSON-RPC tools/call of check_file_reservation_conflicts per batch of paths, POSTed to
 * the stateless MCP endpoint (no session needed).
 */
export const CHECK_SCRIPT = String.raw`"use strict";
// Mailroom guard check, installed by install_precommit_guard. Exit 1 blocks the commit or push.
const { execFileSync } = require("node:child_process");
const { readFileSync } = require("node:fs");

const hook = process.argv[2];
const remote = process.argv[3] || "";
const BATCH = 100;
const MAX_COMMITS = 1000;
const TIMEOUT_MS = 10000;
const SHOWN = 10;

const say = (line) => process.stderr.write("mailroom guard: " + line + "\n");
const truthy = (value) => ["1", "true", "t", "yes", "y", "on"].includes(String(value || "").trim().toLowerCase());
const git = (args) => execFileSync("git", args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });

/** Paths of -z --name-status output: STATUS NUL path NUL, and a second path for renames and copies. */
function nameStatusPaths(output) {
  const parts = output.split("\0");
  const paths = [];
  for (let i = 0; i < parts.length; ) {
    const status = parts[i++];
    if (!status) continue;
    const count = /^[RC]/.test(status) ? 2 : 1;
    for (let k = 0; k < count; k++) {
      const path = parts[i++];
      if (path) paths.push(path);
    }
  }
  return paths;
}

function isCommit(sha) {
  try {
    git(["cat-file", "-e", sha + "^{commit}"]);
    return true;
  } catch {
    return false;
  }
}

/** Pre-push: the files changed by every commit being pushed that the remote does not have yet. */
function pushedPaths() {
  const paths = [];
  for (const line of readFileSync(0, "utf8").split("\n")) {
    const [, localSha, , remoteSha] = line.trim().split(" ");
    if (!localSha || /^0+$/.test(localSha)) continue;
    const known = remoteSha && !/^0+$/.test(remoteSha) && isCommit(remoteSha) ? [remoteSha] : [];
    const commits = git(["rev-list", "--max-count=" + MAX_COMMITS, localSha, "--not", ...known, "--remotes=" + remote]).split("\n").filter(Boolean);
    if (commits.length === MAX_COMMITS) say("only the newest " + MAX_COMMITS + " commits being pushed were checked.");
    for (const commit of commits) {
      paths.push(...nameStatusPaths(git(["diff-tree", "-r", "--root", "--no-commit-id", "--name-status", "-M", "-z", commit])));
    }
  }
  return paths;
}

function stagedPaths() {
  return nameStatusPaths(git(["diff", "--cached", "--name-status", "-M", "-z"]));
}

class Unreachable extends Error {}

async function check(url, args) {
  const endpoint = /\/api\/mcp\/?$/.test(url) ? url : url.replace(/\/+$/, "") + "/api/mcp";
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "check_file_reservation_conflicts", arguments: args } }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new Unreachable((error && error.cause && error.cause.code) || (error && error.name) || "no answer");
  }
  if (response.status >= 500) throw new Unreachable("HTTP " + response.status);
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error("HTTP " + response.status + " without a JSON-RPC answer");
  }
  if (body.error) throw new Error(body.error.message || "JSON-RPC error " + body.error.code);
  const result = body.result || {};
  const error = result.structuredContent && result.structuredContent.error;
  if (error && error.type === "DATABASE_UNAVAILABLE") throw new Unreachable("its database is unavailable");
  if (result.isError) throw new Error((error && error.message) || "the check failed");
  return (result.structuredContent && result.structuredContent.conflicts) || [];
}

async function main() {
  const warnOnly = ["warn", "advisory", "adv"].includes(String(process.env.AGENT_MAIL_GUARD_MODE || "").trim().toLowerCase());
  if (truthy(process.env.AGENT_MAIL_BYPASS)) {
    say("bypassed (AGENT_MAIL_BYPASS=1); file reservations were not checked.");
    return 0;
  }
  const agent = String(process.env.AGENT_NAME || "").trim();
  if (!agent) {
    process.stderr.write("AGENT_NAME environment variable is required.\n");
    say("set AGENT_NAME to the agent doing this " + hook + " (or AGENT_MAIL_BYPASS=1 to skip the check).");
    return 1;
  }
  const paths = [...new Set(hook === "pre-push" ? pushedPaths() : stagedPaths())];
  if (paths.length === 0) return 0;
  const url = process.env.AGENT_MAIL_URL || process.env.MAILROOM_GUARD_URL;
  // A shared dry run: only other agents' exclusive reservations conflict with it (as in the reference).
  const base = { project_key: process.env.MAILROOM_GUARD_PROJECT, agent_name: agent, exclusive: false };
  if (process.env.AGENT_MAIL_TOKEN) base.registration_token = process.env.AGENT_MAIL_TOKEN;

  const lines = [];
  try {
    for (let i = 0; i < paths.length; i += BATCH) {
      for (const conflict of await check(url, { ...base, paths: paths.slice(i, i + BATCH) })) {
        for (const holder of conflict.holders || []) {
          if (holder.exclusive === false || String(holder.agent).toLowerCase() === agent.toLowerCase()) continue;
          lines.push("- " + conflict.path + " matches " + holder.path_pattern + " (holder: " + holder.agent + ")");
        }
      }
    }
  } catch (error) {
    if (error instanceof Unreachable) {
      say("the Mailroom server at " + url + " could not be reached (" + error.message + "); " + hook + " not checked against file reservations.");
      // "mailroom guard check" asks on purpose: there, no answer is not a pass.
      return truthy(process.env.MAILROOM_GUARD_REQUIRE_SERVER) ? 1 : 0;
    }
    say("the reservation check failed: " + error.message);
    if (warnOnly) return 0;
    say("fix the settings above, or set AGENT_MAIL_BYPASS=1 to skip the check.");
    return 1;
  }
  if (lines.length === 0) return 0;
  process.stderr.write((warnOnly ? "Warning: " : "") + "Exclusive file_reservation conflicts detected\n");
  process.stderr.write(lines.slice(0, SHOWN).join("\n") + "\n");
  if (lines.length > SHOWN) process.stderr.write("... and " + (lines.length - SHOWN) + " more\n");
  if (warnOnly) {
    say("warn mode (AGENT_MAIL_GUARD_MODE=warn): not blocking.");
    return 0;
  }
  say("blocked. Coordinate with the holder, or set AGENT_MAIL_BYPASS=1 to override.");
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    say("internal failure: " + (error && error.message));
    process.exit(1);
  },
);
`;
