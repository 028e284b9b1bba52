import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CommandFailure, json, UsageError, type Command, type CommandGroup, type Io, type OptionValues } from "../command";
import { knownFailure } from "../failure";
import { clientEnv, SERVER_OPTIONS, serverBase, withRemote } from "../remote";

// `mailroom guard install|uninstall|status|check`: the pre-commit / pre-push guard of the
// coordination issue, in the repository on this machine (an agent's clone), with the very files
// install_precommit_guard writes (src/server/services/guard). `check` runs the hook's own check on
// the staged changes now, so an agent can ask before it commits.

const PROJECT_CHECK_TIMEOUT_MS = 5_000;
const REPO_OPTION = { type: "string", value: "<path>", description: "The git working tree (default the current directory)" } as const;

function repoPath(values: OptionValues): string {
  return path.resolve((values.repo as string | undefined) ?? ".");
}

/** The guard's own refusals (not a git working tree, a hook in the way) as one line. */
async function guarded<T>(repo: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // The service words it for the MCP tool's code_repo_path argument.
    if ((error as { data?: { field?: string } }).data?.field === "code_repo_path") throw new CommandFailure(`${repo} is not a git working tree (--repo)`);
    throw new CommandFailure(knownFailure(error) ?? `the guard could not be changed (${error instanceof Error ? error.name : "error"})`);
  }
}

/**
 * A mistyped project would block every commit once installed: when the server answers, it must know
 * the project. A server that cannot be reached now (offline, not started yet) does not stop the install.
 */
async function confirmProject(values: OptionValues, project: string, io: Io): Promise<void> {
  const signal = AbortSignal.any([io.signal, AbortSignal.timeout(PROJECT_CHECK_TIMEOUT_MS)]);
  try {
    await withRemote(values, signal, (remote) => remote.read(`resource://project/${encodeURIComponent(project)}`));
  } catch (error) {
    const reason = error instanceof CommandFailure ? error.message : "no answer";
    if (/not found/i.test(reason)) throw new CommandFailure(`the server does not know project '${project}' (--project): ${reason}`);
    io.err(`mailroom guard install: could not confirm project '${project}' with the server (${reason}); installing anyway\n`);
  }
}

const install: Command = {
  name: "guard install",
  summary: "Install the pre-commit and pre-push guard in a repository (existing hooks kept)",
  description: [
    "Commits and pushes touching paths another agent holds exclusively are refused. In the",
    "committing environment: AGENT_NAME (required), AGENT_MAIL_TOKEN, AGENT_MAIL_GUARD_MODE=warn,",
    "AGENT_MAIL_BYPASS=1. A hook already there is kept and runs after the guard.",
  ].join("\n"),
  options: {
    ...SERVER_OPTIONS,
    repo: REPO_OPTION,
    project: { type: "string", value: "<key>", description: "The project whose reservations it checks (default $MAILROOM_PROJECT)" },
    json: { type: "boolean", description: "Print the result as JSON" },
  },
  examples: ["mailroom guard install --project /home/me/app", "mailroom guard install --repo ../app --project app --url https://mail.example.com"],
  async run(values, io) {
    const env = await clientEnv();
    const project = (values.project as string | undefined) ?? env.MAILROOM_PROJECT;
    if (!project) throw new UsageError("missing --project <key> (or MAILROOM_PROJECT)", "guard install");
    const serverUrl = serverBase(values, env);
    await confirmProject(values, project, io);
    const { installGuard } = await import("@/server/services/guard/install");
    const repo = repoPath(values);
    const hooks = await guarded(repo, () => installGuard(repo, { projectKey: project, serverUrl, node: process.execPath }));
    if (values.json) io.out(json({ hook: hooks["pre-commit"], pre_push_hook: hooks["pre-push"], project, server_url: serverUrl }));
    else io.out(`installed the guard: ${hooks["pre-commit"]} and ${hooks["pre-push"]} (project ${project}, server ${serverUrl})\n`);
    return 0;
  },
};

const uninstall: Command = {
  name: "guard uninstall",
  summary: "Remove the guard from a repository, putting back the hooks it replaced",
  options: { repo: REPO_OPTION, json: { type: "boolean", description: "Print the result as JSON" } },
  async run(values, io) {
    const { uninstallGuard } = await import("@/server/services/guard/install");
    const repo = repoPath(values);
    const removed = await guarded(repo, () => uninstallGuard(repo));
    io.out(values.json ? json({ removed }) : removed ? "removed the guard\n" : "no guard was installed\n");
    return 0;
  },
};

const status: Command = {
  name: "guard status",
  summary: "Whether the guard is installed in a repository, and its project and server (exit 1 when not)",
  options: { repo: REPO_OPTION, json: { type: "boolean", description: "Print the status as JSON" } },
  async run(values, io) {
    const { guardStatus } = await import("@/server/services/guard/install");
    const repo = repoPath(values);
    const state = await guarded(repo, () => guardStatus(repo));
    if (values.json) {
      io.out(json(state));
    } else {
      io.out(state.installed ? `installed in ${state.hooks_dir} (project ${state.project}, server ${state.server_url})\n` : `not installed in ${state.hooks_dir}\n`);
      for (const [hook, entry] of Object.entries(state.hooks)) {
        const runner = { mailroom: "Mailroom's chain runner", other: "another program's hook", none: "no hook" }[entry.runner];
        io.out(`  ${hook}: ${runner}${entry.plugin ? ", guard plugin" : ""}${entry.previous_hook ? `, earlier hook kept as ${hook}.orig` : ""}\n`);
      }
    }
    return state.installed ? 0 : 1;
  },
};

const check: Command = {
  name: "guard check",
  summary: "Check the staged changes against other agents' exclusive reservations, as the pre-commit hook does",
  description: [
    "Exit 0 when nothing conflicts, 1 when a staged path is held exclusively by another agent (each",
    "conflict on stderr) or the server cannot be reached (where the hook lets the commit through).",
    "AGENT_MAIL_GUARD_MODE=warn and AGENT_MAIL_BYPASS=1 work as in the hook.",
  ].join("\n"),
  options: {
    ...SERVER_OPTIONS,
    repo: REPO_OPTION,
    project: { type: "string", value: "<key>", description: "The project (default the installed guard's, else $MAILROOM_PROJECT)" },
    agent: { type: "string", value: "<name>", description: "The committing agent (default $MAILROOM_AGENT, else $AGENT_NAME)" },
    "agent-token": { type: "string", value: "<token>", description: "Its registration token (default $MAILROOM_AGENT_TOKEN)" },
  },
  examples: ["git add -A && mailroom guard check --agent BlueLake"],
  async run(values, io) {
    const env = await clientEnv();
    const repo = repoPath(values);
    const [{ guardStatus }, { CHECK_SCRIPT, CHECK_SCRIPT_NAME }] = await Promise.all([import("@/server/services/guard/install"), import("@/server/services/guard/scripts")]);
    const installed = await guarded(repo, () => guardStatus(repo));
    const project = (values.project as string | undefined) ?? installed.project ?? env.MAILROOM_PROJECT;
    if (!project) throw new UsageError("missing --project <key> (no guard installed to take it from, and no MAILROOM_PROJECT)", "guard check");
    const serverUrl = values.url || env.MAILROOM_URL || !installed.server_url ? serverBase(values, env) : installed.server_url;
    const agent = (values.agent as string | undefined) ?? env.MAILROOM_AGENT;
    const token = (values["agent-token"] as string | undefined) ?? env.MAILROOM_AGENT_TOKEN;
    const dir = await mkdtemp(path.join(tmpdir(), "mailroom-guard-"));
    try {
      const script = path.join(dir, CHECK_SCRIPT_NAME);
      await writeFile(script, CHECK_SCRIPT);
      // The hook's environment: the committing agent's variables pass through unless given here.
      const childEnv: NodeJS.ProcessEnv = {
        // eslint-disable-next-line no-restricted-properties -- the check runs in the committing environment, as the hook does
        ...process.env,
        MAILROOM_GUARD_PROJECT: project,
        MAILROOM_GUARD_URL: serverUrl,
        AGENT_MAIL_URL: serverUrl,
        MAILROOM_GUARD_REQUIRE_SERVER: "1",
        ...(agent ? { AGENT_NAME: agent } : {}),
        ...(token ? { AGENT_MAIL_TOKEN: token } : {}),
      };
      const child = spawn(process.execPath, [script, "pre-commit"], { cwd: repo, stdio: ["ignore", "pipe", "pipe"], env: childEnv });
      child.stdout.setEncoding("utf8").on("data", (text: string) => io.out(text));
      child.stderr.setEncoding("utf8").on("data", (text: string) => io.err(text));
      return await new Promise<number>((resolve, reject) => {
        child.once("error", reject);
        child.once("close", (code) => resolve(code ?? 1));
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export const guardCommands: CommandGroup = {
  name: "guard",
  summary: "The pre-commit / pre-push guard against committing paths other agents hold",
  commands: [install, uninstall, status, check],
};
