import { access, chmod, mkdir, open, readdir, readFile, rename, rmdir, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { AppError } from "@/server/errors";
import { hooksDirectory } from "./hooks-dir";
import { CHECK_SCRIPT, CHECK_SCRIPT_NAME, chainRunner, chainRunnerSentinel, HOOK_NAMES, plugin, PLUGIN_NAME, PLUGIN_SENTINEL, type HookName, type PluginSettings } from "./scripts";

// Installs and removes the guard as the reference does: a chain runner at hooks/<hook> that runs
// hooks.d/<hook>/* and then the hook that was there before (kept as <hook>.orig).

/** The first bytes of a file (enough for the sentinels on its first lines), or undefined if there is none. */
async function head(file: string): Promise<string | undefined> {
  const handle = await open(file, "r").catch(() => undefined);
  if (!handle) return undefined;
  try {
    const buffer = Buffer.alloc(512);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

const exists = (file: string) => access(file).then(
  () => true,
  () => false,
);

async function entries(directory: string): Promise<string[]> {
  return readdir(directory).catch(() => []);
}

async function writeExecutable(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o755 });
  await chmod(file, 0o755); // writeFile's mode only applies to a file it creates
}

export async function installGuard(repoPath: string, settings: PluginSettings): Promise<Record<HookName, string>> {
  const hooks = await hooksDirectory(repoPath);
  const pluginDir = path.join(hooks, "hooks.d");
  // Refuse before writing anything: a foreign hook can only be kept if its .orig slot is free.
  const foreign: HookName[] = [];
  for (const hook of HOOK_NAMES) {
    const current = await head(path.join(hooks, hook));
    if (current === undefined || current.includes(chainRunnerSentinel(hook))) continue;
    if (await exists(path.join(hooks, `${hook}.orig`))) {
      throw new AppError("CONFLICT", `The repository already has a ${hook} hook and a ${hook}.orig; move one of them away first.`, { hook });
    }
    foreign.push(hook);
  }
  const installed = {} as Record<HookName, string>;
  for (const hook of HOOK_NAMES) {
    await mkdir(path.join(pluginDir, hook), { recursive: true });
    await writeExecutable(path.join(pluginDir, hook, PLUGIN_NAME), plugin(hook, settings));
    const runner = path.join(hooks, hook);
    if (foreign.includes(hook)) await rename(runner, `${runner}.orig`);
    await writeExecutable(runner, chainRunner(hook));
    installed[hook] = runner;
  }
  await writeFile(path.join(pluginDir, CHECK_SCRIPT_NAME), CHECK_SCRIPT, { mode: 0o644 });
  return installed;
}

export interface GuardStatus {
  hooks_dir: string;
  installed: boolean;
  hooks: Record<HookName, { runner: "mailroom" | "other" | "none"; plugin: boolean; previous_hook: boolean }>;
  /** The settings the installed plugin carries (the pre-commit one's), null when there is none. */
  project: string | null;
  server_url: string | null;
}

/** A value the plugin wrote as a single-quoted sh word. */
function setting(text: string, name: string): string | null {
  const match = new RegExp(`^${name}='((?:[^']|'\\\\'')*)'$`, "m").exec(text);
  return match ? match[1]!.replaceAll(`'\\''`, "'") : null;
}

/** What of the guard is installed in the working tree at `repoPath`, read from its hooks directory. */
export async function guardStatus(repoPath: string): Promise<GuardStatus> {
  const hooks = await hooksDirectory(repoPath);
  const pluginDir = path.join(hooks, "hooks.d");
  const status = {} as GuardStatus["hooks"];
  let settings = "";
  for (const hook of HOOK_NAMES) {
    const runner = await head(path.join(hooks, hook));
    const plugin = (await readFile(path.join(pluginDir, hook, PLUGIN_NAME), "utf8").catch(() => undefined)) ?? "";
    if (plugin.includes(PLUGIN_SENTINEL) && !settings) settings = plugin;
    status[hook] = {
      runner: runner === undefined ? "none" : runner.includes(chainRunnerSentinel(hook)) ? "mailroom" : "other",
      plugin: plugin.includes(PLUGIN_SENTINEL),
      previous_hook: await exists(path.join(hooks, `${hook}.orig`)),
    };
  }
  const installed = HOOK_NAMES.every((hook) => status[hook].runner === "mailroom" && status[hook].plugin) && (await exists(path.join(pluginDir, CHECK_SCRIPT_NAME)));
  return { hooks_dir: hooks, installed, hooks: status, project: setting(settings, "MAILROOM_GUARD_PROJECT"), server_url: setting(settings, "MAILROOM_GUARD_URL") };
}

/** Removes Mailroom's plugins, then each chain runner no other plugin needs, putting back the hook it replaced. */
export async function uninstallGuard(repoPath: string): Promise<boolean> {
  const hooks = await hooksDirectory(repoPath);
  const pluginDir = path.join(hooks, "hooks.d");
  let removed = false;
  for (const hook of HOOK_NAMES) {
    const ours = path.join(pluginDir, hook, PLUGIN_NAME);
    if ((await head(ours))?.includes(PLUGIN_SENTINEL)) {
      await unlink(ours);
      removed = true;
    }
    if ((await entries(path.join(pluginDir, hook))).length > 0) continue; // someone else's plugins still need the runner
    await rmdir(path.join(pluginDir, hook)).catch(() => undefined);
    const runner = path.join(hooks, hook);
    if (!(await head(runner))?.includes(chainRunnerSentinel(hook))) continue;
    await unlink(runner);
    removed = true;
    if (await exists(`${runner}.orig`)) await rename(`${runner}.orig`, runner);
  }
  if (await exists(path.join(pluginDir, CHECK_SCRIPT_NAME))) {
    await unlink(path.join(pluginDir, CHECK_SCRIPT_NAME));
    removed = true;
  }
  if ((await entries(pluginDir)).length === 0) await rmdir(pluginDir).catch(() => undefined);
  return removed;
}
