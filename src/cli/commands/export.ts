import { type Command, EXIT, json, UsageError } from "../command";

// `mailroom export`: a project's mail as a static bundle (src/server/export/export.ts).

const MAX_KEY_LENGTH = 4096;

export const exportCommand: Command = {
  name: "export",
  summary: "Export a project's mail as a static, self-contained bundle with secrets scrubbed",
  description: [
    "Reads the database (not the Git archive) and writes into --out, which must be new or empty:",
    "  index.html     a viewer that works from file:// without a server or network",
    "  messages.json  every message of the project with its recipients and attachments",
    "  agents.json    the project's agents and the outside senders that wrote into it",
    "  attachments/   attachment contents, named by sha256",
    "  manifest.json  counts, the sha256 of every file, and what was scrubbed",
    "Registration tokens, bearer tokens, API keys, JWTs and secret assignments (api_key=…, token: …)",
    "are replaced by [REDACTED:<kind>] in every text field and in text attachments; binary",
    "attachments are copied unchanged.",
  ].join("\n"),
  options: {
    project: { type: "string", value: "<key>", required: true, description: "Project slug or human key (absolute path)" },
    out: { type: "string", value: "<dir>", required: true, description: "Directory to create, or an empty one" },
    pseudonymize: { type: "boolean", description: "Replace agent names with Agent-1, Agent-2, … (first appearance), also in text" },
    "scrub-pattern": {
      type: "string",
      value: "<regex>",
      multiple: true,
      description: "Also redact matches of this JavaScript regular expression ((?i) prefix: any case)",
    },
    json: { type: "boolean", description: "Print the result as JSON" },
  },
  examples: [
    "mailroom export --project /home/me/repo --out ./mail-export",
    "mailroom export --project repo --out /tmp/audit --pseudonymize --scrub-pattern 'ACME-[0-9]{6}' --json",
  ],
  async run(values, io) {
    const project = values.project as string;
    const out = values.out as string;
    if (project.length > MAX_KEY_LENGTH) throw new UsageError(`--project is at most ${MAX_KEY_LENGTH} characters`, "export");
    if (out.length > MAX_KEY_LENGTH) throw new UsageError(`--out is at most ${MAX_KEY_LENGTH} characters`, "export");
    const { compileExtraPattern, MAX_EXTRA_PATTERNS } = await import("@/server/export/scrub");
    const sources = (values["scrub-pattern"] as string[] | undefined) ?? [];
    if (sources.length > MAX_EXTRA_PATTERNS) throw new UsageError(`at most ${MAX_EXTRA_PATTERNS} --scrub-pattern options`, "export");
    const extraPatterns = sources.map((source) => {
      try {
        return compileExtraPattern(source);
      } catch (error) {
        throw new UsageError(`--scrub-pattern: ${(error as Error).message}`, "export");
      }
    });
    const [{ withDatabase }, { exportProject }] = await Promise.all([import("../database"), import("@/server/export/export")]);
    const { out: written, manifest } = await withDatabase(io.signal, (ctx) =>
      exportProject(ctx, { project, out, pseudonymize: values.pseudonymize === true, extraPatterns }),
    );
    if (values.json) {
      const { files, ...rest } = manifest;
      io.out(json({ out: written, ...rest, files: files.length }));
      return EXIT.ok;
    }
    const { counts, scrubbed } = manifest;
    const kinds = Object.entries(scrubbed.by_kind)
      .filter(([, count]) => count > 0)
      .map(([kind, count]) => `${count} ${kind}`);
    const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
    io.out(
      [
        `Exported project '${manifest.project.slug}' to ${written}`,
        `  ${plural(counts.messages, "message")} in ${plural(counts.threads, "thread")}, ${plural(counts.agents, "agent")}, ${plural(counts.attachments, "attachment")}` +
          (counts.attachments_missing ? ` (${counts.attachments_missing} missing from the database)` : ""),
        scrubbed.total ? `  ${plural(scrubbed.total, "secret")} redacted: ${kinds.join(", ")}` : "  no secrets found",
        ...(manifest.pseudonymized ? ["  agent names pseudonymised"] : []),
        `  open ${written}/index.html in a browser`,
        "",
      ].join("\n"),
    );
    return EXIT.ok;
  },
};
