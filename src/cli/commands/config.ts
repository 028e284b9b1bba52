import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CommandFailure, json, UsageError, type Command, type CommandGroup, type OptionValues } from "../command";
import { clientEnv, connectTo, describeRemoteFailure, mcpEndpoint, SERVER_OPTIONS } from "../remote";

// `mailroom config <client>`: the configuration each MCP client documents for a Streamable HTTP
// server with a bearer token, printed or merged into the client's file. The token itself is never
// written: each entry names MAILROOM_TOKEN in the client's own interpolation syntax.

const NAME = "mailroom";

interface ClientFormat {
  client: string;
  title: string;
  /** Where --write puts it by default (relative paths are the project's, from the working directory). */
  file: (home: string) => string;
  /** The JSON path of the server entry, and the entry; or TOML for Codex. */
  entry: (url: string, auth: boolean) => { kind: "json"; container: string; value: Record<string, unknown>; extra?: Record<string, unknown[]> } | { kind: "toml"; text: string };
  /** A command line that does the same, when the client has one. */
  command?: (url: string, auth: boolean) => string;
}

const bearer = (expression: string) => ({ headers: { Authorization: `Bearer ${expression}` } });

// Sources, as documented in 2026: code.claude.com/docs/en/mcp (.mcp.json, ${VAR}, "type": "http");
// openai/codex docs/config.md "Streamable HTTP" (mcp_servers.<name>.url, bearer_token_env_var);
// cursor.com/docs/mcp (mcpServers, url, headers, ${env:VAR}); geminicli.com/docs/tools/mcp-server
// (httpUrl for Streamable HTTP, headers, $VAR/${VAR} in settings.json);
// code.visualstudio.com/docs/copilot/reference/mcp-configuration (servers, "type": "http",
// ${input:id} promptString inputs); docs.windsurf.com/windsurf/cascade/mcp (serverUrl, headers,
// ${env:VAR}); the generic mcpServers shape of modelcontextprotocol.io.
const FORMATS: ClientFormat[] = [
  {
    client: "claude-code",
    title: "Claude Code",
    file: () => ".mcp.json",
    entry: (url, auth) => ({ kind: "json", container: "mcpServers", value: { type: "http", url, ...(auth ? bearer("${MAILROOM_TOKEN}") : {}) } }),
    command: (url, auth) => `claude mcp add --transport http --scope project ${NAME} ${url}${auth ? " --header 'Authorization: Bearer ${MAILROOM_TOKEN}'" : ""}`,
  },
  {
    client: "codex",
    title: "Codex CLI",
    file: (home) => path.join(home, ".codex", "config.toml"),
    entry: (url, auth) => ({ kind: "toml", text: `[mcp_servers.${NAME}]\nurl = ${JSON.stringify(url)}\n${auth ? 'bearer_token_env_var = "MAILROOM_TOKEN"\n' : ""}` }),
    command: (url, auth) => `codex mcp add ${NAME} --url ${url}${auth ? " --bearer-token-env-var MAILROOM_TOKEN" : ""}`,
  },
  {
    client: "cursor",
    title: "Cursor",
    file: () => path.join(".cursor", "mcp.json"),
    entry: (url, auth) => ({ kind: "json", container: "mcpServers", value: { url, ...(auth ? bearer("${env:MAILROOM_TOKEN}") : {}) } }),
  },
  {
    client: "gemini",
    title: "Gemini CLI",
    file: () => path.join(".gemini", "settings.json"),
    entry: (url, auth) => ({ kind: "json", container: "mcpServers", value: { httpUrl: url, ...(auth ? bearer("${MAILROOM_TOKEN}") : {}) } }),
  },
  {
    client: "vscode",
    title: "VS Code",
    file: () => path.join(".vscode", "mcp.json"),
    entry: (url, auth) => ({
      kind: "json",
      container: "servers",
      value: { type: "http", url, ...(auth ? bearer("${input:mailroom-token}") : {}) },
      ...(auth ? { extra: { inputs: [{ type: "promptString", id: "mailroom-token", description: "Mailroom token (MAILROOM_TOKEN)", password: true }] } } : {}),
    }),
  },
  {
    client: "windsurf",
    title: "Windsurf",
    file: (home) => path.join(home, ".codeium", "windsurf", "mcp_config.json"),
    entry: (url, auth) => ({ kind: "json", container: "mcpServers", value: { serverUrl: url, ...(auth ? bearer("${env:MAILROOM_TOKEN}") : {}) } }),
  },
  {
    client: "json",
    title: "a generic mcp.json",
    file: () => "mcp.json",
    entry: (url, auth) => ({ kind: "json", container: "mcpServers", value: { type: "http", url, ...(auth ? bearer("${MAILROOM_TOKEN}") : {}) } }),
  },
];

export const CLIENT_NAMES = FORMATS.map((format) => format.client);

function readJsonFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  const text = readFileSync(file, "utf8");
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CommandFailure(`${file} is not plain JSON (comments or trailing commas?); nothing was written: add the entry by hand`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new CommandFailure(`${file} does not hold a JSON object; nothing was written`);
  return parsed as Record<string, unknown>;
}

/** The existing file with this server's entry set, every other entry kept. */
export function mergeJson(existing: Record<string, unknown>, container: string, value: Record<string, unknown>, extra: Record<string, unknown[]> = {}): Record<string, unknown> {
  const servers = existing[container];
  if (servers !== undefined && (typeof servers !== "object" || servers === null || Array.isArray(servers))) {
    throw new CommandFailure(`'${container}' in the file is not an object; nothing was written`);
  }
  const merged: Record<string, unknown> = { ...existing, [container]: { ...(servers as Record<string, unknown> | undefined), [NAME]: value } };
  for (const [key, items] of Object.entries(extra)) {
    if (existing[key] !== undefined && !Array.isArray(existing[key])) throw new CommandFailure(`'${key}' in the file is not a list; nothing was written`);
    const current = (existing[key] as { id?: unknown }[] | undefined) ?? [];
    const ids = new Set(items.map((item) => (item as { id?: unknown }).id));
    merged[key] = [...current.filter((item) => !ids.has(item?.id)), ...items];
  }
  return merged;
}

const KEY = `(?:${NAME}|"${NAME}"|'${NAME}')`;
const OWN_TABLE = new RegExp(`^\\s*\\[\\s*mcp_servers\\s*\\.\\s*${KEY}\\s*(?:\\]|\\.)`);
const SERVERS_TABLE = /^\s*\[\s*mcp_servers\s*\]\s*(?:#.*)?$/;
const HEADER = /^\s*\[/;

/**
 * The TOML file with this server's table (and its sub-tables) replaced where it was, or appended;
 * every other line kept as written, comments and blank lines before the next table included.
 * An entry written another way (an inline table or dotted keys) is refused rather than doubled.
 */
export function mergeToml(existing: string, table: string): string {
  const lines = existing.split("\n");
  let inServers = false;
  for (const line of lines) {
    if (HEADER.test(line)) inServers = SERVERS_TABLE.test(line);
    else if (new RegExp(`^\\s*(?:mcp_servers\\s*\\.\\s*)${inServers ? "?" : ""}${KEY}\\s*[.=]`).test(line)) {
      throw new CommandFailure(`the file defines ${NAME} as an inline table or dotted keys; nothing was written: replace it by hand`);
    }
  }
  const kept: string[] = [];
  let insertAt = -1;
  for (let index = 0; index < lines.length; index += 1) {
    if (!OWN_TABLE.test(lines[index]!)) {
      kept.push(lines[index]!);
      continue;
    }
    if (insertAt === -1) insertAt = kept.length;
    // Skip the table's own lines: up to its last key (or value) line before the next header.
    let end = index + 1;
    let lastValue = index;
    while (end < lines.length && !HEADER.test(lines[end]!)) {
      if (lines[end]!.trim() && !lines[end]!.trim().startsWith("#")) lastValue = end;
      end += 1;
    }
    index = lastValue;
  }
  const block = table.replace(/\n$/, "").split("\n");
  if (insertAt !== -1) {
    kept.splice(insertAt, 0, ...block);
    return kept.join("\n");
  }
  const text = kept.join("\n");
  return `${text}${text && !text.endsWith("\n") ? "\n" : ""}${text.trim() ? "\n" : ""}${table}`;
}

function clientCommand(format: ClientFormat): Command {
  return {
    name: `config ${format.client}`,
    summary: `Configuration for ${format.title}`,
    description:
      "Prints the entry for this server; --write merges it into the client's file and keeps every other entry. " +
      "The token is never written: the entry reads MAILROOM_TOKEN in the client's own syntax (sent only when MAILROOM_TOKEN is set here, or with --auth).",
    options: {
      ...SERVER_OPTIONS,
      auth: { type: "boolean", description: "Include the Authorization header even though MAILROOM_TOKEN is not set here" },
      write: { type: "boolean", description: `Merge into the client's file (default ${format.file("~")})` },
      file: { type: "string", value: "<path>", description: "The file --write merges into" },
      json: { type: "boolean", description: "Print the result as JSON" },
    },
    async run(values: OptionValues, io) {
      const env = await clientEnv();
      const url = mcpEndpoint(values, env).href;
      const auth = values.auth === true || env.MAILROOM_TOKEN !== undefined;
      const entry = format.entry(url, auth);
      const text = entry.kind === "toml" ? entry.text : json({ ...(entry.extra ?? {}), [entry.container]: { [NAME]: entry.value } });
      if (!values.write) {
        if (values.json) io.out(json({ client: format.client, file: format.file("~"), url, auth, config: entry.kind === "toml" ? entry.text : JSON.parse(text), command: format.command?.(url, auth) ?? null }));
        else {
          io.out(`# ${format.title}: ${format.file("~")}\n${text}`);
          if (format.command) io.out(`\n# or:\n${format.command(url, auth)}\n`);
        }
        return 0;
      }
      const file = path.resolve((values.file as string | undefined) ?? format.file(os.homedir()));
      mkdirSync(path.dirname(file), { recursive: true });
      const merged =
        entry.kind === "toml" ? mergeToml(existsSync(file) ? readFileSync(file, "utf8") : "", entry.text) : json(mergeJson(readJsonFile(file), entry.container, entry.value, entry.extra));
      writeFileSync(file, merged);
      io.out(values.json ? json({ client: format.client, file, url, auth, written: true }) : `wrote the ${NAME} entry to ${file}\n`);
      return 0;
    },
  };
}

interface ConfiguredEntry {
  url: string;
  /** The Authorization header with the client's variables filled in, when the entry sends one. */
  authorization?: string;
  /** Variables the header names that are not set here. */
  unset: string[];
}

/** `${VAR}`, `${env:VAR}` and `$VAR` as the clients expand them; VS Code's `${input:…}` prompt is MAILROOM_TOKEN here. */
function expand(value: string, unset: string[]): string {
  return value.replace(/\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{input:[^}]*\}/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? "MAILROOM_TOKEN";
    // eslint-disable-next-line no-restricted-properties -- a client's file may name any variable of the environment it runs in
    const found = process.env[name];
    if (found === undefined) unset.push(name);
    return found ?? whole;
  });
}

/** The mailroom entry of a client's file, as that client reads it. */
export function configuredEntry(format: ClientFormat, file: string): ConfiguredEntry {
  if (!existsSync(file)) throw new CommandFailure(`${file} does not exist: run \`mailroom config ${format.client} --write\``);
  const unset: string[] = [];
  if (format.client === "codex") {
    const lines = readFileSync(file, "utf8").split("\n");
    const start = lines.findIndex((line) => new RegExp(`^\\s*\\[\\s*mcp_servers\\s*\\.\\s*${KEY}\\s*\\]`).test(line));
    if (start === -1) throw new CommandFailure(`${file} has no [mcp_servers.${NAME}] table: run \`mailroom config codex --write\``);
    const table: Record<string, string> = {};
    for (const line of lines.slice(start + 1)) {
      if (HEADER.test(line)) break;
      const match = /^\s*([A-Za-z_]+)\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(line);
      if (match) table[match[1]!] = JSON.parse(`"${match[2]}"`) as string;
    }
    if (!table.url) throw new CommandFailure(`[mcp_servers.${NAME}] in ${file} has no url`);
    const variable = table.bearer_token_env_var;
    // eslint-disable-next-line no-restricted-properties -- the variable Codex reads the token from
    const token = variable ? process.env[variable] : undefined;
    if (variable && token === undefined) unset.push(variable);
    return { url: table.url, authorization: token === undefined ? undefined : `Bearer ${token}`, unset };
  }
  const entry = format.entry("", false);
  if (entry.kind !== "json") throw new CommandFailure(`${format.title}'s file is not JSON`);
  const servers = readJsonFile(file)[entry.container] as Record<string, unknown> | undefined;
  const own = servers?.[NAME] as { url?: unknown; httpUrl?: unknown; serverUrl?: unknown; headers?: Record<string, unknown> } | undefined;
  if (!own || typeof own !== "object") throw new CommandFailure(`${file} has no '${NAME}' entry under '${entry.container}': run \`mailroom config ${format.client} --write\``);
  const url = [own.url, own.httpUrl, own.serverUrl].find((value): value is string => typeof value === "string");
  if (!url) throw new CommandFailure(`the '${NAME}' entry in ${file} has no URL`);
  const header = Object.entries(own.headers ?? {}).find(([name]) => name.toLowerCase() === "authorization")?.[1];
  return { url: expand(url, unset), authorization: typeof header === "string" ? expand(header, unset) : undefined, unset };
}

const REQUIRED_TOOLS = ["health_check", "register_agent", "send_message", "fetch_inbox"];
/** A server that accepts the connection and never answers fails the check rather than hanging it. */
const CHECK_TIMEOUT_MS = 10_000;

interface ConfigCheck {
  name: "file" | "reachable" | "token" | "tools";
  status: "ok" | "fail" | "skipped";
  detail: string;
}

const skipped = (names: ConfigCheck["name"][], detail: string): ConfigCheck[] => names.map((name) => ({ name, status: "skipped", detail }));

/** Reachable, token accepted, the tools listed: one MCP session with the entry's URL and header. */
async function serverChecks(entry: ConfiguredEntry, interrupt: AbortSignal): Promise<ConfigCheck[]> {
  const signal = AbortSignal.any([interrupt, AbortSignal.timeout(CHECK_TIMEOUT_MS)]);
  if (!URL.canParse(entry.url)) return [{ name: "reachable", status: "fail", detail: `'${entry.url}' is not a URL` }, ...skipped(["token", "tools"], "no server to reach")];
  const endpoint = new URL(entry.url);
  let remote;
  try {
    remote = await connectTo(endpoint, entry.authorization ? { authorization: entry.authorization } : {}, signal);
  } catch (error) {
    const reason = error instanceof CommandFailure ? error.message : "could not connect";
    if (!/refused the (credentials|call)|rate-limiting/.test(reason)) return [{ name: "reachable", status: "fail", detail: reason }, ...skipped(["token", "tools"], "the server could not be reached")];
    const unset = entry.unset.length ? ` (not set here: ${entry.unset.join(", ")})` : "";
    return [{ name: "reachable", status: "ok", detail: `Mailroom answers at ${endpoint.href}` }, { name: "token", status: "fail", detail: `${reason}${unset}` }, ...skipped(["tools"], "the token was refused")];
  }
  try {
    let tools: { name: string }[];
    try {
      ({ tools } = await remote.client.listTools(undefined, { signal }));
    } catch (error) {
      return [{ name: "reachable", status: "fail", detail: describeRemoteFailure(error, endpoint) }, ...skipped(["token", "tools"], "the server did not list its tools")];
    }
    const names = new Set(tools.map((tool) => tool.name));
    const missing = REQUIRED_TOOLS.filter((name) => !names.has(name));
    return [
      { name: "reachable", status: "ok", detail: `Mailroom answers at ${endpoint.href}` },
      { name: "token", status: "ok", detail: entry.authorization ? "the server accepts the token" : "the server accepts calls without a token (local mode)" },
      missing.length
        ? { name: "tools", status: "fail", detail: `${tools.length} tools listed, but not ${missing.join(", ")}: the token's role does not allow them (agents need the writer role)` }
        : { name: "tools", status: "ok", detail: `${tools.length} tools listed, ${REQUIRED_TOOLS.join(", ")} among them` },
    ];
  } finally {
    await remote.close().catch(() => undefined);
  }
}

const checkCommand: Command = {
  name: "config check",
  summary: "Check a client's file against the running server: entry present, reachable, token valid, tools listed",
  operand: { name: "client", description: CLIENT_NAMES.join(" | ") },
  description: "Reads the entry as the client would (its variables taken from this environment), connects, and lists the tools. Exit 1 when a check fails.",
  options: {
    file: { type: "string", value: "<path>", description: "The client's file (default where `mailroom config <client> --write` puts it)" },
    json: { type: "boolean", description: "Print the checks as JSON" },
  },
  examples: ["mailroom config check claude-code", "mailroom config check codex --json"],
  async run(values, io, args) {
    const format = FORMATS.find((candidate) => candidate.client === args.operand);
    if (!format) throw new UsageError(`unknown client '${args.operand}'; one of ${CLIENT_NAMES.join(", ")}`, "config check");
    await clientEnv();
    const file = path.resolve((values.file as string | undefined) ?? format.file(os.homedir()));
    let entry: ConfiguredEntry | undefined;
    let checks: ConfigCheck[] = [];
    try {
      entry = configuredEntry(format, file);
    } catch (error) {
      if (!(error instanceof CommandFailure)) throw error;
      checks = [{ name: "file", status: "fail", detail: error.message }, ...skipped(["reachable", "token", "tools"], "no entry to check")];
    }
    if (entry) {
      const found: ConfigCheck = { name: "file", status: "ok", detail: `${file}: '${NAME}' at ${entry.url}${entry.authorization ? " with an Authorization header" : ""}` };
      checks = [found, ...(await serverChecks(entry, io.signal))];
    }
    const ok = checks.every((check) => check.status !== "fail");
    if (values.json) io.out(json({ client: format.client, file, url: entry?.url ?? null, ok, checks }));
    else {
      for (const check of checks) io.out(`${{ ok: "ok", fail: "FAIL", skipped: "skip" }[check.status].padEnd(5)} ${check.name.padEnd(10)} ${check.detail}\n`);
      io.out(ok ? `${format.title} is set up for Mailroom.\n` : `${format.title} is not set up correctly.\n`);
    }
    return ok ? 0 : 1;
  },
};

export const configCommands: CommandGroup = {
  name: "config",
  summary: `Print or write an MCP client's configuration for this server (${CLIENT_NAMES.join(", ")}), or check it`,
  commands: [...FORMATS.map(clientCommand), checkCommand],
};
