import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CommandFailure, json, UsageError, type Command } from "../command";
import { clientEnv, mcpEndpoint, SERVER_OPTIONS } from "../remote";

/** The block is found by this prefix, so rewording the rest of the marker line keeps finding old blocks. */
const BEGIN_MARK = "<!-- mailroom:begin";
const BEGIN = `${BEGIN_MARK} (written by \`mailroom onboard\`; edits inside are replaced) -->`;
const END = "<!-- mailroom:end -->";
const FILES = ["AGENTS.md", "CLAUDE.md"] as const;

/** The instructions an agent reads at the start of a session: register, check mail, reserve files. */
export function instructions(projectKey: string, url: string): string {
  const key = JSON.stringify(projectKey);
  return [
    BEGIN,
    "## Coordination with other agents (Mailroom)",
    "",
    `Other agents work in this repository at the same time. Mailroom (MCP server \`mailroom\`, ${url}) is how you coordinate:`,
    "",
    `1. **Register** once per session: \`ensure_project(human_key=${key})\`, then \`register_agent(project_key=${key}, program=…, model=…, task_description=…)\`. Keep the \`registration_token\` (or the \`bearer_token\` on a team server) and your name; pass them on every call.`,
    "2. **Check mail** before starting and between steps: `fetch_inbox` (or `mailroom inbox`). Answer with `reply_message`; `acknowledge_message` what asks for an ack.",
    "3. **Reserve files before editing them**: `file_reservation_paths(paths=[\"src/api/**\"], reason=…)`. If it lists conflicts, message the holder instead of editing. `release_file_reservations` when done.",
    "4. Long builds and test runs take a build slot: `mailroom run <slot> -- <command>`.",
    "5. Anything the human must decide: send it to `HumanOverseer`.",
    END,
  ].join("\n");
}

/** The file with the block replaced in place, or appended; unchanged text when it is already there. */
export function withBlock(text: string, block: string): string {
  const start = text.indexOf(BEGIN_MARK);
  const end = start === -1 ? -1 : text.indexOf(END, start);
  if (start !== -1 && end === -1) throw new CommandFailure(`the file has a mailroom begin marker without its end marker; nothing was written: fix it by hand`);
  if (start !== -1) return `${text.slice(0, start)}${block}${text.slice(end + END.length)}`;
  if (!text.trim()) return `${block}\n`;
  return `${text}${text.endsWith("\n") ? "" : "\n"}\n${block}\n`;
}

export const onboardCommand: Command = {
  name: "onboard",
  summary: "Write the agents' Mailroom instructions into a repository's AGENTS.md / CLAUDE.md (idempotent)",
  description: "Updates the block between the mailroom markers in each of AGENTS.md and CLAUDE.md that exists (AGENTS.md is created when neither does); running it again changes nothing.",
  operand: { name: "repo", description: "The repository's directory" },
  options: {
    ...SERVER_OPTIONS,
    project: { type: "string", value: "<key>", description: "The project key agents use (default the repository's absolute path)" },
    file: { type: "string", multiple: true, value: "<name>", description: "Only these files (AGENTS.md, CLAUDE.md)" },
    json: { type: "boolean", description: "Print what was written as JSON" },
  },
  async run(values, io, args) {
    const repo = path.resolve(args.operand!);
    if (!existsSync(repo) || !statSync(repo).isDirectory()) throw new CommandFailure(`${repo} is not a directory`);
    const chosen = (values.file as string[] | undefined) ?? FILES.filter((name) => existsSync(path.join(repo, name)));
    for (const name of chosen) if (!(FILES as readonly string[]).includes(name)) throw new UsageError(`--file must be AGENTS.md or CLAUDE.md, got '${name}'`, "onboard");
    const targets = chosen.length ? chosen : ["AGENTS.md"];
    const block = instructions((values.project as string | undefined) ?? repo, mcpEndpoint(values, await clientEnv()).href);
    const results = targets.map((name) => {
      const file = path.join(repo, name);
      const before = existsSync(file) ? readFileSync(file, "utf8") : "";
      const after = withBlock(before, block);
      if (after !== before) writeFileSync(file, after);
      return { file, changed: after !== before };
    });
    if (values.json) io.out(json(results));
    else for (const result of results) io.out(`${result.changed ? "wrote" : "already up to date:"} ${result.file}\n`);
    return 0;
  },
};
