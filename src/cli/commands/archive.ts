import type { VerifyReport } from "@/server/archive/verify";
import { type Command, CommandFailure, type CommandGroup, EXIT, json } from "../command";
import { knownFailure } from "../failure";

// `mailroom archive verify|rebuild`: the Git archive against the database
// (src/server/archive/verify.ts does the work; these print it and choose the exit code).

/** Paths printed per project and kind in the readable report; --json has the report's full lists. */
const SHOWN_PATHS = 20;

/** Git's and the file system's failures as the archive describes them: one line, no paths. */
async function explained<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (knownFailure(error) !== undefined) throw error;
    const { describeArchiveError } = await import("@/server/archive/errors");
    throw new CommandFailure(`archive: ${describeArchiveError(error)}`);
  }
}

const projectOption = {
  type: "string",
  value: "<key>",
  description: "Only this project (slug or human key); default every project",
} as const;
const jsonOption = { type: "boolean", description: "Print the result as JSON" } as const;

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function paths(label: string, list: string[], total: number): string[] {
  const lines = list.slice(0, SHOWN_PATHS).map((file) => `    ${label} ${file}`);
  if (total > lines.length) lines.push(`    … and ${total - lines.length} more ${label} (--json lists up to 1,000)`);
  return lines;
}

export function verifyText(report: VerifyReport, dir: string): string {
  const lines = [`Archive ${dir} ${report.commit ? `at commit ${report.commit.slice(0, 12)}` : "(no commit yet)"}`];
  for (const project of report.projects) {
    const counts = [plural(project.messages, "message"), plural(project.files, "message file")];
    if (project.missing_count) counts.push(`${project.missing_count} missing`);
    if (project.orphan_count) counts.push(plural(project.orphan_count, "orphan file"));
    if (project.pending_events) counts.push(`${project.pending_events} not written yet`);
    lines.push(`  ${project.project}: ${counts.join(", ")} — ${project.ok ? "ok" : "DIFFERS"}`);
    lines.push(...paths("missing", project.missing, project.missing_count), ...paths("orphan", project.orphans, project.orphan_count));
  }
  if (report.projects.length === 0) lines.push("  no projects in the database");
  if (report.unknown_projects.length) lines.push(`  archive folders of projects not in the database: ${report.unknown_projects.join(", ")}`);
  const missing = report.projects.reduce((sum, project) => sum + project.missing_count, 0);
  const orphans = report.projects.reduce((sum, project) => sum + project.orphan_count, 0);
  lines.push(
    report.ok
      ? "The archive and the database agree."
      : `The archive and the database differ: ${missing} missing, ${plural(orphans, "orphan file")}. \`mailroom archive rebuild\` writes what is missing.`,
    "",
  );
  return lines.join("\n");
}

const verify: Command = {
  name: "archive verify",
  summary: "Check that the Git archive and the database agree (exit 0 when they do, 1 when not)",
  description: [
    "Compares the archive's last commit (ARCHIVE_DIR) with the database: for each project, every",
    "message's canonical file, and files with no message behind them. Messages whose archive event",
    "is still queued count as not written yet, not as missing.",
  ].join("\n"),
  options: { project: projectOption, json: jsonOption },
  examples: ["mailroom archive verify", "mailroom archive verify --project /home/me/repo --json"],
  async run(values, io) {
    const [{ withDatabase }, { verifyArchive }] = await Promise.all([import("../database"), import("@/server/archive/verify")]);
    const { report, dir } = await explained(() =>
      withDatabase(io.signal, async (ctx, database) => ({
        report: await verifyArchive(database.prisma, ctx.config.archive, { project: values.project as string | undefined }),
        dir: ctx.config.archive.dir,
      })),
    );
    io.out(values.json ? json(report) : verifyText(report, dir));
    return report.ok ? EXIT.ok : EXIT.failure;
  },
};

const rebuild: Command = {
  name: "archive rebuild",
  summary: "Write into the Git archive what the database has and the archive lacks, as one commit",
  description: [
    "Writes the missing messages (with their inbox/outbox copies, attachments and thread digests),",
    "agent profiles and reservation files from the database and commits them. It needs the",
    "archive's writer lock: stop the servers (or run them with ARCHIVE_ENABLED=false) first.",
  ].join("\n"),
  options: { project: projectOption, json: jsonOption },
  examples: ["mailroom archive rebuild", "mailroom archive rebuild --project repo --json"],
  async run(values, io) {
    const [{ withDatabase }, { rebuildArchive }] = await Promise.all([import("../database"), import("@/server/archive/verify")]);
    const result = await explained(() =>
      withDatabase(io.signal, (ctx, database) => rebuildArchive(database.prisma, ctx.config.archive, { project: values.project as string | undefined })),
    );
    if (values.json) io.out(json(result));
    else if (result.commit) io.out(`Wrote ${plural(result.written, "file")} from the database in commit ${result.commit.slice(0, 12)}.\n`);
    else io.out("Nothing to write: the archive already holds everything the database has.\n");
    return EXIT.ok;
  },
};

export const archiveCommands: CommandGroup = {
  name: "archive",
  summary: "The Git audit archive: verify it against the database, rebuild what is missing",
  commands: [verify, rebuild],
};
