import type { Env } from "@/env";
import { CommandFailure, UsageError, type Command } from "../command";
import { authHeaders, clientEnv, describeRemoteFailure, httpRefusal, SERVER_OPTIONS, serverBase } from "../remote";

// `mailroom watch`: follows the server's event stream (/api/events, Server-Sent Events) and prints
// mail, reads, acks and reservation changes as they happen. A dropped stream (a server restart) is
// reopened; a refusal (bad token, unknown agent) ends the command.

const RECONNECT_MS = 3_000;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}

export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** One line for an event, as a person following the project reads it. */
export function eventLine(event: StreamEvent): string | undefined {
  const data = event.data;
  const time = new Date().toISOString().slice(11, 19);
  switch (event.event) {
    case "message": {
      const flags = [data.importance !== "normal" ? String(data.importance) : "", data.ack_required ? "ack requested" : ""].filter(Boolean);
      return `${time}  mail         #${data.id} from ${data.from}: ${data.subject}${flags.length ? `  [${flags.join(", ")}]` : ""}`;
    }
    case "read":
      return `${time}  read         #${data.message_id} by ${data.agent ?? "?"}`;
    case "ack":
      return `${time}  ack          #${data.message_id} by ${data.agent ?? "?"}`;
    case "reservation": {
      const ids = (data.file_reservation_ids as number[] | undefined) ?? [];
      const agents = (data.agents as string[] | undefined) ?? [];
      return `${time}  reservation  ${data.action} ${data.count} (${ids.map((id) => `#${id}`).join(", ")}) by ${agents.join(", ") || "?"}`;
    }
    default:
      return undefined;
  }
}

/** Splits a Server-Sent Events byte stream into events (comments and `retry:` lines skipped). */
async function* parseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) yield { event: name, data: JSON.parse(data.join("\n")) as Record<string, unknown> };
    }
  }
}

/** Opens the stream; a refusal becomes the server's own one-line reason. */
async function open(url: URL, env: Env, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: "text/event-stream", ...authHeaders(env) }, signal });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new CommandFailure(describeRemoteFailure(error, url));
  }
  if (response.ok && response.body) return response.body;
  const body = (await response.json().catch(() => undefined)) as { error?: { type?: string; message?: string } } | undefined;
  // The server's own reason (an agent's wrong token, an unknown project); a refused bearer token
  // gets the same line as every other client command.
  const error = body?.error;
  if (error?.message && (error.type !== "AUTHENTICATION_REQUIRED" || error.message.includes("agent_token"))) throw new CommandFailure(`${error.type}: ${error.message}`);
  throw new CommandFailure(httpRefusal(response.status, url));
}

export const watchCommand: Command = {
  name: "watch",
  summary: "Follow mail, reads, acks and reservation changes as they happen",
  description: [
    "With --agent: that agent's mail (and the project's reservation changes), with its registration",
    "token. Without: every message of the project (the operator's view; an admin token). Reconnects",
    "when the server restarts (events in between are not replayed). Ends on Ctrl-C or after --count.",
  ].join("\n"),
  options: {
    ...SERVER_OPTIONS,
    project: { type: "string", value: "<key>", description: "Project key or slug (default $MAILROOM_PROJECT)" },
    agent: { type: "string", value: "<name>", description: "Follow this agent's mail (default $MAILROOM_AGENT)" },
    "agent-token": { type: "string", value: "<token>", description: "Its registration token (default $MAILROOM_AGENT_TOKEN)" },
    count: { type: "string", value: "<n>", description: "Stop after this many events" },
    json: { type: "boolean", description: "One JSON object per event and line: {event, data}" },
  },
  examples: ["mailroom watch", "mailroom watch --json | jq -c 'select(.event == \"message\")'", "mailroom watch --project app --count 1"],
  async run(values, io) {
    const env = await clientEnv();
    const project = (values.project as string | undefined) ?? env.MAILROOM_PROJECT;
    if (!project) throw new UsageError("missing --project <key> (or MAILROOM_PROJECT)", "watch");
    const agent = (values.agent as string | undefined) ?? env.MAILROOM_AGENT;
    const token = (values["agent-token"] as string | undefined) ?? env.MAILROOM_AGENT_TOKEN;
    const count = values.count === undefined ? Infinity : /^\d+$/.test(values.count as string) ? Number(values.count) : NaN;
    if (!(count >= 1)) throw new UsageError("--count must be a whole number of at least 1", "watch");
    const url = new URL(`${serverBase(values, env)}/api/events`);
    // A server that takes bearer tokens refuses tokens in the query: there, the bearer token (bound to the agent) is the proof.
    const agentToken: Record<string, string> = agent && token && !env.MAILROOM_TOKEN ? { agent_token: token } : {};
    url.search = new URLSearchParams({ project, ...(agent ? { agent } : {}), ...agentToken }).toString();

    let seen = 0;
    let connected = false;
    while (!io.signal.aborted) {
      let body: ReadableStream<Uint8Array>;
      try {
        body = await open(url, env, io.signal);
      } catch (error) {
        // Only a stream that worked is waited for: a first failure is a setting to fix.
        if (!connected || !(error instanceof CommandFailure) || !error.message.startsWith("cannot reach")) throw error;
        await pause(RECONNECT_MS, io.signal);
        continue;
      }
      // On stderr, so that stdout holds events only; scripts can wait for this line.
      io.err(connected ? "mailroom watch: reconnected (events while it was away are not shown)\n" : `mailroom watch: following ${agent ? `${agent}'s mail in ${project}` : `every message of ${project}`}\n`);
      connected = true;
      try {
        for await (const event of parseEvents(body)) {
          if (event.event === "ready") continue;
          const line = values.json ? JSON.stringify(event) : eventLine(event);
          if (line === undefined) continue;
          io.out(`${line}\n`);
          seen += 1;
          if (seen >= count) return 0;
        }
      } catch (error) {
        if (io.signal.aborted) break;
        if (!(error instanceof Error) || error.name === "SyntaxError") throw new CommandFailure("the event stream sent something that is not an event");
      }
      if (io.signal.aborted) break;
      io.err(`mailroom watch: the stream from ${url.origin} ended; reconnecting\n`);
      await pause(RECONNECT_MS, io.signal);
    }
    throw new CommandFailure("interrupted");
  },
};
