import { defineOperation } from "@/server/operations/define";
import { installGuardInput, installGuardOutput, uninstallGuardInput, uninstallGuardOutput } from "@/server/schemas/guard";
import type { ServiceConfig } from "../context";
import { installGuard, uninstallGuard } from "./install";

// The pre-commit / pre-push guard installed into repositories on the server's machine. Writing
// files on the server's disk is an operator action, so both tools need the admin role (the
// reference has them open, and installs only when WORKTREES_ENABLED; Mailroom does not gate).

/** Where the hook reaches this server unless AGENT_MAIL_URL says otherwise. */
function ownUrl(config: ServiceConfig): string {
  const host = ["0.0.0.0", "::", ""].includes(config.httpHost) ? "127.0.0.1" : config.httpHost;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.httpPort}`;
}

export const installPrecommitGuard = defineOperation({
  name: "install_precommit_guard",
  description:
    "Install pre-commit and pre-push hooks in a git repo on the server's machine that refuse changes to paths another agent holds exclusively (existing hooks kept).",
  input: installGuardInput,
  output: installGuardOutput,
  permission: "admin",
  // Its code_repo_path is any repository on this machine, not the project's: server-wide, like uninstall.
  serverWide: true,
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Install pre-commit guard", idempotent: true },
  async handler(ctx, input) {
    const hooks = await installGuard(input.code_repo_path, { projectKey: ctx.project.humanKey, serverUrl: ownUrl(ctx.config), node: process.execPath });
    return { hook: hooks["pre-commit"], pre_push_hook: hooks["pre-push"] };
  },
});

export const uninstallPrecommitGuard = defineOperation({
  name: "uninstall_precommit_guard",
  description: "Remove Mailroom's pre-commit and pre-push hooks from a git repo on the server's machine, restoring the hooks they replaced.",
  input: uninstallGuardInput,
  output: uninstallGuardOutput,
  permission: "admin",
  // It names a repository path, not a project: a project-scoped admin could otherwise remove the
  // hooks of any repository on this machine.
  serverWide: true,
  kind: "mutation",
  scope: "global",
  tool: { profile: "extended", title: "Uninstall pre-commit guard", idempotent: true, destructive: true },
  async handler(_ctx, input) {
    return { removed: await uninstallGuard(input.code_repo_path) };
  },
});

export const guardOperations = {
  installPrecommitGuard,
  uninstallPrecommitGuard,
} as const;
