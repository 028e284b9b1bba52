import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandFailure } from "@/cli/command";
import { instructions, withBlock } from "@/cli/commands/onboard";
import { expectOk, expectOneLineFailure, inParallel, mailroom, NO_STACK } from "../helpers/cli";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { callOk, connectMcp } from "../helpers/mcp-client";

// The `mailroom` coordination commands (reserve, release, reservations, acks pending|overdue, wait)
// and `onboard`, as an agent's shell sees them: the real executable in a child process
// (bin/mailroom.mjs), talking over HTTP to a server started here on a test database (PGlite or
// TEST_DATABASE_URL). Exact output, exit codes (0 done, 1 failed, 2 wrong usage, 3 wait timed
// out) and what the commands leave in the database and in the repository's files.

const KEY = "/cli-coordination";

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let agents: Record<string, TestAgent>;
let projectId: number;
let mcp: Client;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "mailroom-cli-coordination-"));
  db = await openTestDatabase();
  server = await startTestServer(db);
  const made = await projectWithAgents(db, KEY, ["GreenLake", "BlueDog", "RedFox", "PurpleOwl"]);
  agents = made.agents;
  projectId = made.project.id;
  mcp = await connectMcp(server.url);
});

afterAll(async () => {
  await mcp?.close();
  await server?.close();
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The environment of an agent's shell: server, project, agent and its registration token. */
function as(agent: string, extra: Record<string, string> = {}): Record<string, string> {
  return { MAILROOM_URL: server.url, MAILROOM_PROJECT: KEY, MAILROOM_AGENT: agent, MAILROOM_AGENT_TOKEN: agents[agent]!.token, ...extra };
}

function sendMail(from: string, to: string, subject: string, extra: Record<string, unknown> = {}) {
  return callOk<{ deliveries: { payload: { id: number } }[] }>(mcp, "send_message", {
    project_key: KEY,
    sender_name: from,
    sender_token: agents[from]!.token,
    to: [to],
    subject,
    body_md: `${subject} (body)`,
    ...extra,
  }).then((result) => result.deliveries[0]!.payload.id);
}

/** A timestamp as the server prints it (UTC, "+00:00" rather than "Z"). */
const ts = (date: Date) => date.toISOString().replace("Z", "+00:00");

const reservationsOf = (agent: string) =>
  db.prisma.fileReservation.findMany({ where: { projectId, agentId: agents[agent]!.id }, orderBy: { id: "asc" } });

const listLine = (row: { id: number; pathPattern: string; exclusive: boolean; expiresTs: Date }, agent: string) =>
  `${String(row.id).padStart(6)}  ${agent.padEnd(16)} ${row.pathPattern}  ${row.exclusive ? "exclusive" : "shared"}, until ${ts(row.expiresTs)}\n`;

describe("reserve, reservations and release", () => {
  it("reserve grants an exclusive reservation and prints one line per grant; the row is in the database", async () => {
    const run = await mailroom(["reserve", "--path", "src/api/**", "--reason", "API work"], as("GreenLake"));
    const rows = await reservationsOf("GreenLake");
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ pathPattern: "src/api/**", exclusive: true, reason: "API work", releasedTs: null });
    expect(row.expiresTs.getTime() - row.createdTs.getTime()).toBeGreaterThanOrEqual(3_599_000);
    expect(row.expiresTs.getTime() - row.createdTs.getTime()).toBeLessThanOrEqual(3_601_000);
    expectOk(run, `reserved src/api/** (id ${row.id}) until ${ts(row.expiresTs)}\n`);
  });

  it("an overlapping path of another agent is granted with a conflict line (exit 0); --strict grants nothing (exit 1)", async () => {
    const advisory = await mailroom(["reserve", "--path", "src/api/users.ts"], as("BlueDog"));
    const granted = await reservationsOf("BlueDog");
    expect(granted).toHaveLength(1);
    expect(granted[0]).toMatchObject({ pathPattern: "src/api/users.ts", exclusive: true, releasedTs: null });
    expectOk(
      advisory,
      `reserved src/api/users.ts (id ${granted[0]!.id}) until ${ts(granted[0]!.expiresTs)}\n` + "conflict on src/api/users.ts: GreenLake holds src/api/**\n",
    );

    const strict = await mailroom(["reserve", "--path", "src/api/**", "--path", "docs/guide.md", "--strict"], as("RedFox"));
    expectOk(strict, "conflict on src/api/**: GreenLake holds src/api/**; BlueDog holds src/api/users.ts\n", 1);
    expect(await reservationsOf("RedFox")).toEqual([]);
  });

  it("--shared --ttl 60 --json grants a shared lease; reservations lists all, --soon only what expires within 10 minutes", async () => {
    const run = await mailroom(["reserve", "--path", "docs/**", "--shared", "--ttl", "60", "--json"], as("RedFox"));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { granted: { id: number; path_pattern: string; exclusive: boolean; expires_ts: string }[]; conflicts: unknown[] };
    const rows = await reservationsOf("RedFox");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ pathPattern: "docs/**", exclusive: false, releasedTs: null });
    expect(rows[0]!.expiresTs.getTime() - rows[0]!.createdTs.getTime()).toBeLessThanOrEqual(61_000);
    expect(result.conflicts).toEqual([]);
    expect(result.granted).toHaveLength(1);
    expect(result.granted[0]).toMatchObject({ id: rows[0]!.id, path_pattern: "docs/**", expires_ts: ts(rows[0]!.expiresTs) });

    const [all, soon, soonJson, other] = await inParallel([
      () => mailroom(["reservations"], as("PurpleOwl")),
      () => mailroom(["reservations", "--soon"], as("PurpleOwl")),
      () => mailroom(["reservations", "--soon", "--json", "--project", KEY], { MAILROOM_URL: server.url }),
      () => mailroom(["reservations", "--project", "/cli-coordination-nothing-here"], { MAILROOM_URL: server.url }),
    ]);
    const green = (await reservationsOf("GreenLake"))[0]!;
    const blue = (await reservationsOf("BlueDog"))[0]!;
    const red = rows[0]!;
    expect(all.stderr).toBe("");
    expect(all.code).toBe(0);
    expect(all.stdout.split(/(?<=\n)/).sort()).toEqual([listLine(green, "GreenLake"), listLine(blue, "BlueDog"), listLine(red, "RedFox")].sort());
    expectOk(soon, listLine(red, "RedFox"));
    expect(soonJson.stderr).toBe("");
    expect(soonJson.code).toBe(0);
    expect(JSON.parse(soonJson.stdout)).toEqual([expect.objectContaining({ id: red.id, agent: "RedFox", path_pattern: "docs/**", exclusive: false })]);
    // An unknown project is a one-line failure.
    expect(other.stdout).toBe("");
    expect(other.stderr).toMatch(/^mailroom reservations: NOT_FOUND: Project '\/cli-coordination-nothing-here' not found\.[^\n]*\n$/);
    expect(other.code).toBe(1);
  });

  it("release --id releases only that reservation; release --path only those patterns; release with nothing left says 0", async () => {
    await mailroom(["reserve", "--path", "lib/**", "--path", "bin/**"], as("GreenLake"));
    const before = await reservationsOf("GreenLake");
    expect(before.map((row) => row.pathPattern)).toEqual(["src/api/**", "lib/**", "bin/**"]);
    const lib = before[1]!;

    const byId = await mailroom(["release", "--id", String(lib.id)], as("GreenLake"));
    expectOk(byId, "released 1 reservation\n");
    const afterId = await reservationsOf("GreenLake");
    expect(afterId.filter((row) => row.releasedTs !== null).map((row) => row.id)).toEqual([lib.id]);

    const byPath = await mailroom(["release", "--path", "bin/**", "--json"], as("GreenLake"));
    expect(byPath.stderr).toBe("");
    expect(byPath.code).toBe(0);
    expect(JSON.parse(byPath.stdout)).toMatchObject({ released: 1 });
    const afterPath = await reservationsOf("GreenLake");
    expect(afterPath.filter((row) => row.releasedTs === null).map((row) => row.pathPattern)).toEqual(["src/api/**"]);

    // BlueDog cannot release GreenLake's reservation by id.
    const foreign = await mailroom(["release", "--id", String(afterPath[0]!.id)], as("BlueDog"));
    expect(foreign.stderr).not.toMatch(NO_STACK);
    if (foreign.code === 0) expect(foreign.stdout).toBe("released 0 reservations\n");
    expect((await db.prisma.fileReservation.findUniqueOrThrow({ where: { id: afterPath[0]!.id } })).releasedTs).toBeNull();

    const all = await mailroom(["release"], as("GreenLake"));
    expectOk(all, "released 1 reservation\n");
    expect((await reservationsOf("GreenLake")).every((row) => row.releasedTs !== null)).toBe(true);
    expect((await reservationsOf("BlueDog")).every((row) => row.releasedTs === null)).toBe(true);

    const none = await mailroom(["release"], as("GreenLake"));
    expectOk(none, "released 0 reservations\n");
  });
});

describe("acks pending and overdue", () => {
  let messageId: number;

  it("acks pending lists a message sent with ack_required; acks overdue does not until --minutes 0 or 60 minutes pass", async () => {
    messageId = await sendMail("GreenLake", "BlueDog", "Please confirm the API plan", { ack_required: true });
    await sendMail("GreenLake", "BlueDog", "No ack needed");
    const created = (await db.prisma.message.findUniqueOrThrow({ where: { id: messageId } })).createdTs;
    const line = `${String(messageId).padStart(6)}  ${created.toISOString().slice(0, 16).replace("T", " ")}  ${"GreenLake".padEnd(16)} Please confirm the API plan\n`;

    const [pending, overdue, zero, others] = await inParallel([
      () => mailroom(["acks", "pending"], as("BlueDog")),
      () => mailroom(["acks", "overdue"], as("BlueDog")),
      () => mailroom(["acks", "overdue", "--minutes", "0"], as("BlueDog")),
      () => mailroom(["acks", "pending"], as("RedFox")),
    ]);
    expectOk(pending, line);
    expectOk(overdue, "No overdue acknowledgement.\n");
    expectOk(zero, line);
    expectOk(others, "No acknowledgement due.\n");

    const backdated = new Date(Date.now() - 61 * 60_000);
    await db.prisma.message.update({ where: { id: messageId }, data: { createdTs: backdated } });
    const backLine = `${String(messageId).padStart(6)}  ${backdated.toISOString().slice(0, 16).replace("T", " ")}  ${"GreenLake".padEnd(16)} Please confirm the API plan\n`;
    const [late, lateJson, longer] = await inParallel([
      () => mailroom(["acks", "overdue"], as("BlueDog")),
      () => mailroom(["acks", "overdue", "--json"], as("BlueDog")),
      () => mailroom(["acks", "overdue", "--minutes", "120"], as("BlueDog")),
    ]);
    expectOk(late, backLine);
    expect(lateJson.stderr).toBe("");
    expect(lateJson.code).toBe(0);
    expect(JSON.parse(lateJson.stdout)).toEqual([expect.objectContaining({ id: messageId, subject: "Please confirm the API plan", from: "GreenLake" })]);
    expectOk(longer, "No overdue acknowledgement.\n");
  });

  it("once acknowledged it leaves both lists; --json of an empty list is []", async () => {
    await callOk(mcp, "acknowledge_message", { project_key: KEY, agent_name: "BlueDog", registration_token: agents.BlueDog!.token, message_id: messageId });
    const [pending, overdue] = await inParallel([() => mailroom(["acks", "pending", "--json"], as("BlueDog")), () => mailroom(["acks", "overdue", "--minutes", "0"], as("BlueDog"))]);
    expectOk(pending, "[]\n");
    expectOk(overdue, "No overdue acknowledgement.\n");
  });
});

describe("wait", () => {
  it("with nothing unread it times out: exit 3 and 'No new mail.'; --json says woke timeout", async () => {
    const [plain, asJson] = await inParallel([() => mailroom(["wait", "--timeout", "1"], as("PurpleOwl")), () => mailroom(["wait", "--timeout", "1", "--json"], as("RedFox"))]);
    expectOk(plain, "No new mail.\n", 3);
    expect(asJson.stderr).toBe("");
    expect(asJson.code).toBe(3);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ woke: "timeout", count: 0, messages: [] });
  });

  it("wakes when a message arrives during the wait (exit 0, the message listed)", async () => {
    const waiting = mailroom(["wait", "--timeout", "20"], as("PurpleOwl"));
    // Let the child start and reach the server before the mail is sent.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const id = await sendMail("GreenLake", "PurpleOwl", "Build is green");
    const run = await waiting;
    expectOk(run, `${String(id).padStart(6)}  ${"GreenLake".padEnd(16)} Build is green\n`);
    expect((await db.prisma.messageRecipient.findUniqueOrThrow({ where: { messageId_agentId: { messageId: id, agentId: agents.PurpleOwl!.id } } })).readTs).toBeNull();
  });

  it("with unread mail it returns at once (exit 0); --urgent ignores normal mail and times out (exit 3)", async () => {
    const unread = await db.prisma.messageRecipient.findMany({ where: { agentId: agents.PurpleOwl!.id, readTs: null }, select: { messageId: true } });
    expect(unread).toHaveLength(1);
    const [again, urgent, asJson] = await inParallel([
      () => mailroom(["wait", "--timeout", "1"], as("PurpleOwl")),
      () => mailroom(["wait", "--timeout", "1", "--urgent"], as("PurpleOwl")),
      () => mailroom(["wait", "--timeout", "1", "--json"], as("PurpleOwl")),
    ]);
    expectOk(again, `${String(unread[0]!.messageId).padStart(6)}  ${"GreenLake".padEnd(16)} Build is green\n`);
    expectOk(urgent, "No new mail.\n", 3);
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ woke: "mail", count: 1, messages: [{ id: unread[0]!.messageId, subject: "Build is green" }] });
  });
});

describe("onboard", () => {
  const url = () => `${server.url}/api/mcp`;
  const repoDir = (name: string) => {
    const dir = path.join(work, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  it("creates AGENTS.md when neither file exists; a second run is 'already up to date:' and leaves the bytes alone", async () => {
    const repo = repoDir("fresh");
    const first = await mailroom(["onboard", repo], { MAILROOM_URL: server.url });
    const file = path.join(repo, "AGENTS.md");
    expectOk(first, `wrote ${file}\n`);
    expect(existsSync(path.join(repo, "CLAUDE.md"))).toBe(false);
    const written = readFileSync(file);
    expect(written.toString()).toBe(`${instructions(repo, url())}\n`);
    expect(written.toString()).toContain(`ensure_project(human_key="${repo}")`);
    expect(written.toString()).toContain(url());
    expect(written.toString().startsWith("<!-- mailroom:begin")).toBe(true);
    expect(written.toString().endsWith("<!-- mailroom:end -->\n")).toBe(true);

    const second = await mailroom(["onboard", repo], { MAILROOM_URL: server.url });
    expectOk(second, `already up to date: ${file}\n`);
    expect(readFileSync(file).equals(written)).toBe(true);
  });

  it("updates both files when both exist, keeping what is outside the markers; --project changes the key in the block", async () => {
    const repo = repoDir("both");
    const agentsFile = path.join(repo, "AGENTS.md");
    const claudeFile = path.join(repo, "CLAUDE.md");
    writeFileSync(agentsFile, "# Agents\n\nBe nice.");
    writeFileSync(claudeFile, "# Claude\n\nIntro.\n\n<!-- mailroom:begin old wording -->\nstale text\n<!-- mailroom:end -->\n\n## Trailer\nkept\n");

    const first = await mailroom(["onboard", repo, "--json"], { MAILROOM_URL: server.url });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual([
      { file: agentsFile, changed: true },
      { file: claudeFile, changed: true },
    ]);
    const block = instructions(repo, url());
    expect(readFileSync(agentsFile, "utf8")).toBe(`# Agents\n\nBe nice.\n\n${block}\n`);
    expect(readFileSync(claudeFile, "utf8")).toBe(`# Claude\n\nIntro.\n\n${block}\n\n## Trailer\nkept\n`);

    const agentsBytes = readFileSync(agentsFile);
    const claudeBytes = readFileSync(claudeFile);
    const again = await mailroom(["onboard", repo], { MAILROOM_URL: server.url });
    expectOk(again, `already up to date: ${agentsFile}\nalready up to date: ${claudeFile}\n`);
    expect(readFileSync(agentsFile).equals(agentsBytes)).toBe(true);
    expect(readFileSync(claudeFile).equals(claudeBytes)).toBe(true);

    const other = await mailroom(["onboard", repo, "--project", "/team/backend", "--file", "CLAUDE.md"], { MAILROOM_URL: server.url });
    expectOk(other, `wrote ${claudeFile}\n`);
    const changed = readFileSync(claudeFile, "utf8");
    expect(changed).toBe(`# Claude\n\nIntro.\n\n${instructions("/team/backend", url())}\n\n## Trailer\nkept\n`);
    expect(changed).toContain('ensure_project(human_key="/team/backend")');
    expect(changed).not.toContain(`human_key="${repo}"`);
    expect(changed.match(/<!-- mailroom:begin/g)).toHaveLength(1);
    expect(readFileSync(agentsFile).equals(agentsBytes)).toBe(true);
  });

  it("--file CLAUDE.md creates only that file; only the existing CLAUDE.md is updated when AGENTS.md is absent", async () => {
    const chosen = repoDir("chosen");
    const run = await mailroom(["onboard", chosen, "--file", "CLAUDE.md"], { MAILROOM_URL: server.url });
    expectOk(run, `wrote ${path.join(chosen, "CLAUDE.md")}\n`);
    expect(existsSync(path.join(chosen, "AGENTS.md"))).toBe(false);

    const claudeOnly = repoDir("claude-only");
    writeFileSync(path.join(claudeOnly, "CLAUDE.md"), "");
    const only = await mailroom(["onboard", claudeOnly], { MAILROOM_URL: server.url });
    expectOk(only, `wrote ${path.join(claudeOnly, "CLAUDE.md")}\n`);
    expect(readFileSync(path.join(claudeOnly, "CLAUDE.md"), "utf8")).toBe(`${instructions(claudeOnly, url())}\n`);
    expect(existsSync(path.join(claudeOnly, "AGENTS.md"))).toBe(false);
  });

  it("a path that is not a directory fails (exit 1); a missing repo or an unknown --file is a usage error (exit 2)", async () => {
    const file = path.join(work, "plain-file.txt");
    writeFileSync(file, "x");
    const missing = path.join(work, "does-not-exist");
    const [notDir, absent, noRepo, badFile] = await inParallel([
      () => mailroom(["onboard", file], { MAILROOM_URL: server.url }),
      () => mailroom(["onboard", missing], { MAILROOM_URL: server.url }),
      () => mailroom(["onboard"], { MAILROOM_URL: server.url }),
      () => mailroom(["onboard", repoDir("bad-file"), "--file", "README.md"], { MAILROOM_URL: server.url }),
    ]);
    expectOneLineFailure(notDir, 1, `mailroom onboard: ${file} is not a directory`);
    expectOneLineFailure(absent, 1, `mailroom onboard: ${missing} is not a directory`);
    expect(existsSync(missing)).toBe(false);
    expectOneLineFailure(noRepo, 2, "mailroom onboard: missing <repo> (see `mailroom onboard --help`)");
    expectOneLineFailure(badFile, 2, "mailroom onboard: --file must be AGENTS.md or CLAUDE.md, got 'README.md' (see `mailroom onboard --help`)");
    expect(existsSync(path.join(work, "bad-file", "README.md"))).toBe(false);
    expect(existsSync(path.join(work, "bad-file", "AGENTS.md"))).toBe(false);
  });
});

describe("usage", () => {
  it("wrong usage exits 2 with one line naming the fix, before anything reaches the server", async () => {
    const before = await db.prisma.fileReservation.count();
    const [noPath, shortTtl, badId, zero, tooLong, badMinutes, noKind, noProject] = await inParallel([
      () => mailroom(["reserve"], as("GreenLake")),
      () => mailroom(["reserve", "--path", "x/**", "--ttl", "30"], as("GreenLake")),
      () => mailroom(["release", "--id", "abc"], as("GreenLake")),
      () => mailroom(["wait", "--timeout", "0"], as("GreenLake")),
      () => mailroom(["wait", "--timeout", "61"], as("GreenLake")),
      () => mailroom(["acks", "overdue", "--minutes", "soon"], as("GreenLake")),
      () => mailroom(["acks"], as("GreenLake")),
      () => mailroom(["reservations"], { MAILROOM_URL: server.url }),
    ]);
    expectOneLineFailure(noPath, 2, "mailroom reserve: missing --path <glob> (see `mailroom reserve --help`)");
    expectOneLineFailure(shortTtl, 2, "mailroom reserve: --ttl must be a whole number of seconds, at least 60 (see `mailroom reserve --help`)");
    expectOneLineFailure(badId, 2, "mailroom release: --id must be a reservation id, got 'abc' (see `mailroom release --help`)");
    expectOneLineFailure(zero, 2, "mailroom wait: --timeout must be a whole number of seconds from 1 to 60 (see `mailroom wait --help`)");
    expectOneLineFailure(tooLong, 2, "mailroom wait: --timeout must be a whole number of seconds from 1 to 60 (see `mailroom wait --help`)");
    expectOneLineFailure(badMinutes, 2, "mailroom acks overdue: --minutes must be a whole number (see `mailroom acks overdue --help`)");
    expectOneLineFailure(noKind, 2, "mailroom: 'acks' needs a command: pending, overdue (see `mailroom acks --help`)");
    expectOneLineFailure(noProject, 2, "mailroom reservations: missing --project <key> (or MAILROOM_PROJECT) (see `mailroom reservations --help`)");
    expect(await db.prisma.fileReservation.count()).toBe(before);
  });
});

describe("the onboard block's markers (found by review)", () => {
  const block = instructions("/repo", "http://127.0.0.1:3000/api/mcp");

  it("an end marker before any begin marker does not make every run add a block", () => {
    const once = withBlock("<!-- mailroom:end -->\nnotes\n", block);
    expect(withBlock(once, block)).toBe(once);
    expect(once.split("<!-- mailroom:begin").length).toBe(2);
  });

  it("a begin marker without its end is refused rather than swallowing the text after it", () => {
    expect(() => withBlock("intro\n<!-- mailroom:begin -->\nthe user's own text\n", block)).toThrow(CommandFailure);
  });

  it("a project key with a quote stays a valid string in the instructions", () => {
    expect(instructions('/repo "x"', "http://h/api/mcp")).toContain('ensure_project(human_key="/repo \\"x\\"")');
  });
});

