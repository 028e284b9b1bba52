import { spawn } from "node:child_process";
import { CommandFailure, UsageError, type Command } from "../command";
import { clientEnv, withRemote } from "../remote";
import { AGENT_OPTIONS, identity } from "./mail";

/** The lease asked for, renewed at a third of it while the command runs. */
const DEFAULT_TTL_SECONDS = 300;
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129, SIGKILL: 137 };

interface Lease {
  granted: { slot: string; expires_ts: string };
  conflicts: { agent: string; expires_ts: string }[];
}

/**
 * `mailroom run <slot> -- <command…>`: holds a build slot for exactly as long as the command runs.
 * Acquires it (refusing, unless --force, when someone else holds it), renews it while the command
 * runs, releases it when the command ends — on success, failure, or Ctrl-C (passed on to the
 * command) — and exits with the command's own code.
 */
export const runCommand: Command = {
  name: "run",
  summary: "Run a command while holding a build slot (acquired, renewed, released; the command's exit code)",
  operand: { name: "slot", description: "The build slot, e.g. frontend-build" },
  passThrough: { name: "command", description: "The command to run and its arguments" },
  options: {
    ...AGENT_OPTIONS,
    branch: { type: "string", value: "<branch>", description: "The branch the lease is for" },
    ttl: { type: "string", value: "<seconds>", description: `Lease length, renewed at a third of it (default ${DEFAULT_TTL_SECONDS}, at least 60)` },
    shared: { type: "boolean", description: "A shared lease (conflicts only with exclusive holders)" },
    force: { type: "boolean", description: "Run even when another agent holds the slot" },
  },
  examples: ["mailroom run frontend-build -- npm run build", "mailroom run test-runner --shared -- npm test"],
  async run(values, io, args) {
    const who = identity(values, "run", await clientEnv());
    const ttl = values.ttl === undefined ? DEFAULT_TTL_SECONDS : /^\d+$/.test(values.ttl as string) ? Number(values.ttl) : NaN;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) throw new UsageError("--ttl must be a whole number of seconds from 60 to 86400", "run");
    const slot = args.operand!;
    const target = {
      project_key: who.project,
      agent_name: who.agent,
      slot,
      ...(values.branch ? { branch: values.branch } : {}),
      ...(who.token ? { registration_token: who.token } : {}),
    };
    // The server calls get a signal of their own: after Ctrl-C the slot must still be released.
    return withRemote(values, new AbortController().signal, async (remote) => {
      const lease = await remote.call<Lease>("acquire_build_slot", { ...target, ttl_seconds: ttl, exclusive: values.shared !== true });
      try {
        if (lease.conflicts.length && values.force !== true) {
          const holders = lease.conflicts.map((conflict) => `${conflict.agent} (until ${conflict.expires_ts})`).join(", ");
          throw new CommandFailure(`build slot '${slot}' is held by ${holders}; wait, or pass --force`);
        }
        // Ctrl-C while the slot was being acquired: the command is not started (the slot is released below).
        if (io.signal.aborted) return SIGNAL_EXIT.SIGINT!;
        const [program, ...programArgs] = args.rest;
        const child = spawn(program!, programArgs, { stdio: "inherit" });
        // Ctrl-C reaches the whole foreground process group; a SIGTERM sent to this process alone
        // is passed on, so the command always gets the chance to stop.
        const onAbort = () => child.kill("SIGTERM");
        io.signal.addEventListener("abort", onAbort, { once: true });
        const renewal = setInterval(() => {
          remote
            .call<{ renewed?: boolean }>("renew_build_slot", { ...target, extend_seconds: ttl })
            .then((renewal) => {
              if (renewal.renewed === false) io.err(`mailroom run: the slot '${slot}' was released or expired meanwhile; the command runs on without it\n`);
            })
            .catch((error: unknown) => {
              io.err(`mailroom run: could not renew the slot: ${error instanceof Error ? error.message : "failed"}\n`);
            });
        }, (ttl * 1000) / 3);
        try {
          return await new Promise<number>((resolve, reject) => {
            child.once("error", (error: NodeJS.ErrnoException) =>
              reject(new CommandFailure(error.code === "ENOENT" ? `command not found: ${program}` : `could not start ${program} (${error.code ?? error.name})`)),
            );
            child.once("exit", (code, signal) => resolve(code ?? SIGNAL_EXIT[signal ?? ""] ?? 1));
          });
        } finally {
          clearInterval(renewal);
          io.signal.removeEventListener("abort", onAbort);
        }
      } finally {
        // Released whatever happened; its own signal is not the (possibly aborted) command's.
        await remote.call("release_build_slot", target).catch((error: unknown) => {
          io.err(`mailroom run: could not release the slot: ${error instanceof Error ? error.message : "failed"}\n`);
        });
      }
    });
  },
};
