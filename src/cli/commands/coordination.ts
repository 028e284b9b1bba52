import { json, UsageError, type Command, type CommandGroup } from "../command";
import { clientEnv, SERVER_OPTIONS, withRemote } from "../remote";
import { AGENT_OPTIONS, identity, type Identity } from "./mail";

// File reservations, acknowledgements and waiting, from a shell: thin adapters over the tools and
// resources (file_reservation_paths, release_file_reservations, resource://file_reservations,
// resource://views/ack-required and ack-overdue, wait_for_mail).

const agentArgs = (who: Identity) => ({ project_key: who.project, agent_name: who.agent, ...(who.token ? { registration_token: who.token } : {}) });

interface Holder {
  agent: string;
  path_pattern: string;
  exclusive: boolean;
  expires_ts: string;
}

export const reserveCommand: Command = {
  name: "reserve",
  summary: "Reserve file paths or globs (advisory; conflicts are listed, exit 1 with --strict)",
  options: {
    ...AGENT_OPTIONS,
    path: { type: "string", multiple: true, required: true, value: "<glob>", description: "A path or glob, e.g. src/api/**" },
    ttl: { type: "string", value: "<seconds>", description: "Lease length (default 3600)" },
    shared: { type: "boolean", description: "A shared reservation" },
    reason: { type: "string", value: "<text>", description: "Why" },
    strict: { type: "boolean", description: "Grant nothing when any path conflicts (exit 1)" },
    json: { type: "boolean", description: "Print the result as JSON" },
  },
  async run(values, io) {
    const who = identity(values, "reserve", await clientEnv());
    const ttl = values.ttl === undefined ? 3600 : /^\d+$/.test(values.ttl as string) ? Number(values.ttl) : NaN;
    if (!Number.isInteger(ttl) || ttl < 60) throw new UsageError("--ttl must be a whole number of seconds, at least 60", "reserve");
    const result = await withRemote(values, io.signal, (remote) =>
      remote.call<{ granted: { id: number; path_pattern: string; expires_ts: string }[]; conflicts: { path: string; holders: Holder[] }[] }>("file_reservation_paths", {
        ...agentArgs(who),
        paths: values.path,
        ttl_seconds: ttl,
        exclusive: values.shared !== true,
        reason: (values.reason as string | undefined) ?? "",
        refuse_conflicts: values.strict === true,
      }),
    );
    if (values.json) io.out(json(result));
    else {
      for (const grant of result.granted) io.out(`reserved ${grant.path_pattern} (id ${grant.id}) until ${grant.expires_ts}\n`);
      for (const conflict of result.conflicts) {
        io.out(`conflict on ${conflict.path}: ${conflict.holders.map((holder) => `${holder.agent} holds ${holder.path_pattern}${holder.exclusive ? "" : " (shared)"}`).join("; ")}\n`);
      }
    }
    return values.strict === true && result.conflicts.length > 0 ? 1 : 0;
  },
};

export const releaseCommand: Command = {
  name: "release",
  summary: "Release your reservations (all of them, or those given)",
  options: {
    ...AGENT_OPTIONS,
    path: { type: "string", multiple: true, value: "<glob>", description: "Only these patterns" },
    id: { type: "string", multiple: true, value: "<id>", description: "Only these reservation ids" },
    json: { type: "boolean", description: "Print the result as JSON" },
  },
  async run(values, io) {
    const who = identity(values, "release", await clientEnv());
    const ids = ((values.id as string[] | undefined) ?? []).map((raw) => {
      if (!/^\d+$/.test(raw)) throw new UsageError(`--id must be a reservation id, got '${raw}'`, "release");
      return Number(raw);
    });
    const result = await withRemote(values, io.signal, (remote) =>
      remote.call<{ released: number }>("release_file_reservations", {
        ...agentArgs(who),
        ...(values.path ? { paths: values.path } : {}),
        ...(ids.length ? { file_reservation_ids: ids } : {}),
      }),
    );
    io.out(values.json ? json(result) : `released ${result.released} reservation${result.released === 1 ? "" : "s"}\n`);
    return 0;
  },
};

export const reservationsCommand: Command = {
  name: "reservations",
  summary: "List the project's active reservations (--soon: those expiring within 10 minutes)",
  options: {
    ...SERVER_OPTIONS,
    project: AGENT_OPTIONS.project!,
    soon: { type: "boolean", description: "Only those expiring within 10 minutes" },
    json: { type: "boolean", description: "Print them as JSON" },
  },
  async run(values, io) {
    const project = (values.project as string | undefined) ?? (await clientEnv()).MAILROOM_PROJECT;
    if (!project) throw new UsageError("missing --project <key> (or MAILROOM_PROJECT)", "reservations");
    const rows = await withRemote(values, io.signal, (remote) =>
      remote.read<(Holder & { id: number; reason: string; stale: boolean })[]>(`resource://file_reservations/${encodeURIComponent(project)}`),
    );
    const horizon = Date.now() + 10 * 60_000;
    const shown = values.soon ? rows.filter((row) => Date.parse(row.expires_ts) <= horizon) : rows;
    if (values.json) {
      io.out(json(shown));
      return 0;
    }
    if (shown.length === 0) io.out(values.soon ? "No reservation expires within 10 minutes.\n" : "No active reservations.\n");
    for (const row of shown) {
      io.out(`${String(row.id).padStart(6)}  ${row.agent.padEnd(16)} ${row.path_pattern}  ${row.exclusive ? "exclusive" : "shared"}, until ${row.expires_ts}${row.stale ? " [stale]" : ""}\n`);
    }
    return 0;
  },
};

interface AckItem {
  id: number;
  subject: string;
  from: string;
  created_ts: string;
  age_seconds?: number;
}

function acksCommand(kind: "pending" | "overdue"): Command {
  return {
    name: `acks ${kind}`,
    summary: kind === "pending" ? "Messages waiting for your acknowledgement" : "Acknowledgements pending longer than --minutes (default 60)",
    options: {
      ...AGENT_OPTIONS,
      ...(kind === "overdue" ? { minutes: { type: "string" as const, value: "<n>", description: "How long counts as overdue (default 60)" } } : {}),
      json: { type: "boolean", description: "Print them as JSON" },
    },
    async run(values, io) {
      const who = identity(values, `acks ${kind}`, await clientEnv());
      const query = new URLSearchParams({ project: who.project, ...(who.token ? { agent_token: who.token } : {}) });
      if (kind === "overdue" && values.minutes !== undefined) {
        if (!/^\d+$/.test(values.minutes as string)) throw new UsageError("--minutes must be a whole number", "acks overdue");
        query.set("ttl_minutes", values.minutes as string);
      }
      const view = kind === "pending" ? "ack-required" : "ack-overdue";
      const result = await withRemote(values, io.signal, (remote) =>
        remote.read<{ messages: AckItem[] }>(`resource://views/${view}/${encodeURIComponent(who.agent)}?${query}`),
      );
      if (values.json) io.out(json(result.messages));
      else if (result.messages.length === 0) io.out(kind === "pending" ? "No acknowledgement due.\n" : "No overdue acknowledgement.\n");
      else for (const item of result.messages) io.out(`${String(item.id).padStart(6)}  ${item.created_ts.slice(0, 16).replace("T", " ")}  ${item.from.padEnd(16)} ${item.subject}\n`);
      return 0;
    },
  };
}

export const acksCommands: CommandGroup = { name: "acks", summary: "Acknowledgements you owe (pending, overdue)", commands: [acksCommand("pending"), acksCommand("overdue")] };

export const waitCommand: Command = {
  name: "wait",
  summary: "Block until new mail arrives (wait_for_mail), up to --timeout seconds; exit 0 on mail, 3 on timeout",
  options: {
    ...AGENT_OPTIONS,
    timeout: { type: "string", value: "<seconds>", description: "Longest wait, 1..60 (default 30)" },
    urgent: { type: "boolean", description: "Only urgent or high-importance mail wakes it" },
    json: { type: "boolean", description: "Print the result as JSON" },
  },
  async run(values, io) {
    const who = identity(values, "wait", await clientEnv());
    const timeout = values.timeout === undefined ? 30 : /^\d+$/.test(values.timeout as string) ? Number(values.timeout) : NaN;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > 60) throw new UsageError("--timeout must be a whole number of seconds from 1 to 60", "wait");
    const result = await withRemote(values, io.signal, (remote) =>
      remote.call<{ woke: "mail" | "timeout"; messages: AckItem[] }>("wait_for_mail", { ...agentArgs(who), timeout_seconds: timeout, urgent_only: values.urgent === true }),
    );
    if (values.json) io.out(json(result));
    else if (result.woke === "timeout") io.out("No new mail.\n");
    else for (const item of result.messages) io.out(`${String(item.id).padStart(6)}  ${item.from.padEnd(16)} ${item.subject}\n`);
    return result.woke === "mail" ? 0 : 3;
  },
};
