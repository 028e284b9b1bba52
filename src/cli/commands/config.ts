import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CommandFailure, json, type Command, type CommandGroup, type OptionValues } from "../command";
import { clientEnv, mcpEndpoint, SERVER_OPTIONS } from "../remote";

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

export const configCommands: CommandGroup = {
  name: "config",
  summary: `Print or write an MCP client's configuration for this server (${CLIENT_NAMES.join(", ")})`,
  commands: FORMATS.map(clientCommand),
};
