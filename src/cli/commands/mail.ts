import { readFileSync } from "node:fs";
import type { Env } from "@/env";
import { json, UsageError, type Command, type OptionSpec, type OptionValues } from "../command";
import { clientEnv, SERVER_OPTIONS, withRemote, type Remote } from "../remote";

// Agents' mail from a shell or a client's hook: thin adapters over the MCP tools and resources of a
// running server (src/cli/remote.ts). The agent is named by --project/--agent (or MAILROOM_PROJECT,
// MAILROOM_AGENT); its registration token by --agent-token or MAILROOM_AGENT_TOKEN, which a token
// bound to the agent (MAILROOM_TOKEN) makes unnecessary.

export const AGENT_OPTIONS: Record<string, OptionSpec> = {
  ...SERVER_OPTIONS,
  project: { type: "string", value: "<key>", description: "Project key or slug (default $MAILROOM_PROJECT)" },
  agent: { type: "string", value: "<name>", description: "Your agent name (default $MAILROOM_AGENT)" },
  "agent-token": { type: "string", value: "<token>", description: "Your registration token (default $MAILROOM_AGENT_TOKEN)" },
};

export interface Identity {
  project: string;
  agent: string;
  token?: string;
}

export function identity(values: OptionValues, command: string, env: Env): Identity {
  const project = (values.project as string | undefined) ?? env.MAILROOM_PROJECT;
  const agent = (values.agent as string | undefined) ?? env.MAILROOM_AGENT;
  if (!project) throw new UsageError("missing --project <key> (or MAILROOM_PROJECT)", command);
  if (!agent) throw new UsageError("missing --agent <name> (or MAILROOM_AGENT)", command);
  return { project, agent, token: (values["agent-token"] as string | undefined) ?? env.MAILROOM_AGENT_TOKEN };
}

function positiveId(raw: string | undefined, command: string): number {
  const id = Number(raw);
  if (!raw || !/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id < 1) throw new UsageError(`the message id must be a positive whole number, got '${raw ?? ""}'`, command);
  return id;
}

interface MailItem {
  id: number;
  subject: string;
  from: string;
  importance: string;
  ack_required: boolean;
  created_ts: string;
  thread_id: string | null;
  read_at: string | null;
  ack_at: string | null;
  body_md?: string;
}

function agentQuery(who: Identity, extra: Record<string, string> = {}): string {
  return new URLSearchParams({ project: who.project, ...extra, ...(who.token ? { agent_token: who.token } : {}) }).toString();
}

/** The newest `limit` messages of the agent's mailbox, or of its unread mail (however deep it lies). */
async function mailbox(remote: Remote, who: Identity, limit: number, unreadOnly: boolean): Promise<MailItem[]> {
  const view = unreadOnly ? "views/unread" : "mailbox";
  const result = await remote.read<{ messages: MailItem[] }>(`resource://${view}/${encodeURIComponent(who.agent)}?${agentQuery(who, { limit: String(limit) })}`);
  return result.messages;
}

export const sendCommand: Command = {
  name: "send",
  summary: "Send a message (Markdown body from --body, --body-file or stdin)",
  options: {
    ...AGENT_OPTIONS,
    to: { type: "string", multiple: true, required: true, value: "<name>", description: "Recipient" },
    cc: { type: "string", multiple: true, value: "<name>", description: "Copy to" },
    subject: { type: "string", required: true, value: "<text>", description: "Subject" },
    body: { type: "string", value: "<markdown>", description: "The body" },
    "body-file": { type: "string", value: "<file>", description: "Read the body from a file ('-' for stdin)" },
    thread: { type: "string", value: "<id>", description: "Thread id" },
    importance: { type: "string", value: "<level>", description: "low | normal | high | urgent" },
    ack: { type: "boolean", description: "Ask the recipients to acknowledge" },
    json: { type: "boolean", description: "Print the result as JSON" },
  },
  examples: ['mailroom send --to BlueLake --subject "Plan" --body "Taking src/api/**"', "git diff | mailroom send --to BlueLake --subject Review --body-file -"],
  async run(values, io) {
    const who = identity(values, "send", await clientEnv());
    if (values.body !== undefined && values["body-file"] !== undefined) throw new UsageError("give --body or --body-file, not both", "send");
    const file = values["body-file"] as string | undefined;
    const body = (values.body as string | undefined) ?? (file === undefined ? undefined : readFileSync(file === "-" ? 0 : file, "utf8"));
    if (body === undefined) throw new UsageError("missing --body <markdown> or --body-file <file>", "send");
    const result = await withRemote(values, io.signal, (remote) =>
      remote.call<{ deliveries: { project: string; payload: { id: number; to: string[] } }[] }>("send_message", {
        project_key: who.project,
        sender_name: who.agent,
        ...(who.token ? { sender_token: who.token } : {}),
        to: values.to,
        ...(values.cc ? { cc: values.cc } : {}),
        subject: values.subject,
        body_md: body,
        ...(values.thread ? { thread_id: values.thread } : {}),
        ...(values.importance ? { importance: values.importance } : {}),
        ack_required: values.ack === true,
      }),
    );
    if (values.json) io.out(json(result));
    else for (const delivery of result.deliveries) io.out(`sent message ${delivery.payload.id} to ${delivery.payload.to.join(", ")} (${delivery.project})\n`);
    return 0;
  },
};

export const inboxCommand: Command = {
  name: "inbox",
  summary: "List your unread mail (never marks anything read)",
  options: {
    ...AGENT_OPTIONS,
    all: { type: "boolean", description: "Read mail too" },
    limit: { type: "string", value: "<n>", description: "Messages listed, newest first (default 50, at most 1000)" },
    json: { type: "boolean", description: "Print the messages as JSON" },
  },
  async run(values, io) {
    const who = identity(values, "inbox", await clientEnv());
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError("--limit must be a whole number from 1 to 1000", "inbox");
    const items = await withRemote(values, io.signal, (remote) => mailbox(remote, who, limit, values.all !== true));
    if (values.json) {
      io.out(json(items));
      return 0;
    }
    if (items.length === 0) io.out(values.all ? "No mail.\n" : "No unread mail.\n");
    for (const item of items) {
      const flags = [item.read_at ? "" : "unread", item.importance === "normal" ? "" : item.importance, item.ack_required && !item.ack_at ? "ack due" : ""].filter(Boolean);
      io.out(`${String(item.id).padStart(6)}  ${item.created_ts.slice(0, 16).replace("T", " ")}  ${item.from.padEnd(16)} ${item.subject}${flags.length ? `  [${flags.join(", ")}]` : ""}\n`);
    }
    return 0;
  },
};

function messageAction(name: "read" | "ack", tool: string, summary: string): Command {
  return {
    name,
    summary,
    options: { ...AGENT_OPTIONS, id: { type: "string", required: true, value: "<message id>", description: "The message" }, json: { type: "boolean", description: "Print the result as JSON" } },
    async run(values, io) {
      const who = identity(values, name, await clientEnv());
      const id = positiveId(values.id as string, name);
      const result = await withRemote(values, io.signal, (remote) =>
        remote.call(tool, { project_key: who.project, agent_name: who.agent, message_id: id, ...(who.token ? { registration_token: who.token } : {}) }),
      );
      io.out(values.json ? json(result) : `${name === "read" ? "marked read" : "acknowledged"}: message ${id}\n`);
      return 0;
    },
  };
}

export const readCommand = messageAction("read", "mark_message_read", "Mark a message read");
export const ackCommand = messageAction("ack", "acknowledge_message", "Acknowledge a message (and mark it read)");

const HOOK_TIMEOUT_MS = 5_000;

/**
 * For a client's prompt hook (Claude Code's UserPromptSubmit, …): one line when mail waits, nothing
 * otherwise, and never a failure that would block the prompt (exit 0; the reason goes to stderr).
 */
export const hookCommand: Command = {
  name: "hook",
  summary: "One quiet line for a prompt hook: unread mail and acks due, nothing when there is none",
  options: { ...AGENT_OPTIONS, json: { type: "boolean", description: "Print the counts as JSON" } },
  neverFails: true,
  async run(values, io) {
    const who = identity(values, "hook", await clientEnv());
    // A prompt waits on this: a server that does not answer must not hold it up.
    const signal = AbortSignal.any([io.signal, AbortSignal.timeout(HOOK_TIMEOUT_MS)]);
    const { unread, urgent_unread: urgent, ack_pending: acks } = await withRemote(values, signal, (remote) =>
      remote.read<{ unread: number; urgent_unread: number; ack_pending: number }>(`resource://views/pending/${encodeURIComponent(who.agent)}?${agentQuery(who)}`),
    );
    if (values.json) {
      io.out(json({ unread, urgent, acks_due: acks }));
      return 0;
    }
    if (unread === 0 && acks === 0) return 0;
    const parts = [...(unread ? [`${unread} unread${urgent ? ` (${urgent} urgent)` : ""}`] : []), ...(acks ? [`${acks} ack${acks === 1 ? "" : "s"} due`] : [])];
    io.out(`Mailroom: ${parts.join(", ")} for ${who.agent} — run \`mailroom inbox\` or call fetch_inbox.\n`);
    return 0;
  },
};
