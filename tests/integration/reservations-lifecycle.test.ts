import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actorFor } from "../helpers/actors";
import { AppError } from "@/server/errors";
import { createEventBus, type MailEvent, type ReservationEvent } from "@/server/events/bus";
import { invoke } from "@/server/operations/invoke";
import { fetchInbox } from "@/server/services/messages/inbox";
import { sendMessage } from "@/server/services/messages/send";
import {
  fileReservationPaths,
  fileReservationsResource,
  forceReleaseFileReservation,
  releaseFileReservations,
  renewFileReservations,
} from "@/server/services/reservations/operations";
import { forgetWorkspaceActivity } from "@/server/services/reservations/staleness";
import { sweepFileReservations } from "@/server/services/reservations/sweep";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";
import { openEventStream } from "../helpers/sse";

// Staleness (§4.4) and what depends on it: auto-release, force-release and the resource's status
// fields; the periodic sweep; reservation events on the bus and /api/events; the MCP surface.

const SETTINGS = { inactivitySeconds: 1800, activityGraceSeconds: 900, enforcementEnabled: true };
const LONG_AGO = new Date(Date.now() - 3 * 3600_000);

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let counter = 0;
const tempDirs: string[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
});

afterAll(async () => {
  await db?.close();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function fresh(humanKey = `/reservations-life/p${++counter}`, names = ["BlueLake", "GreenCastle"]) {
  const { ctx, project, agents } = await projectWithAgents(db, humanKey, names);
  const [a, b] = names.map((name) => agents[name]!) as [TestAgent, TestAgent];
  const as = (agent: TestAgent) => ({ project_key: humanKey, agent_name: agent.name, registration_token: agent.token });
  const reserve = (agent: TestAgent, paths: string[], extra: Record<string, unknown> = {}) => invoke(fileReservationPaths, ctx, { ...as(agent), paths, ...extra });
  const list = () => invoke(fileReservationsResource, ctx, { project_key: humanKey, active_only: true });
  const inactive = (agent: TestAgent) => db.prisma.agent.update({ where: { id: agent.id }, data: { lastActiveTs: LONG_AGO } });
  return { ctx, project, a, b, humanKey, as, reserve, list, inactive };
}

async function errorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("staleness and auto-release", () => {
  it("an inactive holder without mail activity is stale: the next grant releases it", async () => {
    const { a, b, reserve, inactive, list } = await fresh();
    await reserve(b, ["src/**"]);
    await inactive(b);
    const [entry] = await list();
    // The resource releases stale reservations before listing: nothing is left.
    expect(entry).toBeUndefined();
    expect((await reserve(a, ["src/main.py"])).conflicts).toEqual([]);
  });

  it("recent mail keeps an inactive holder's reservation alive, with the reasons shown", async () => {
    const { a, b, reserve, inactive, list, ctx, humanKey } = await fresh();
    await reserve(b, ["src/**"]);
    await invoke(sendMessage, ctx, { project_key: humanKey, sender_name: b.name, sender_token: b.token, to: [a.name], subject: "hi", body_md: "x" });
    await inactive(b);
    const [entry] = await list();
    expect(entry).toMatchObject({ agent: b.name, stale: false, stale_reasons: ["agent_inactive>1800s", "mail_activity_recent"] });
    expect(entry!.last_mail_activity_ts).not.toBeNull();
    expect(entry!.last_filesystem_activity_ts).toBeNull();
    expect((await reserve(a, ["src/main.py"])).conflicts).toHaveLength(1);
  });

  it("reading mail counts as mail activity too", async () => {
    const { a, b, reserve, inactive, list, ctx, humanKey } = await fresh();
    await reserve(b, ["lib/**"]);
    await invoke(sendMessage, ctx, { project_key: humanKey, sender_name: a.name, sender_token: a.token, to: [b.name], subject: "hi", body_md: "x" });
    await db.prisma.message.updateMany({ where: { sender: { id: a.id } }, data: { createdTs: LONG_AGO } });
    await inactive(b);
    expect(await list()).toEqual([]);
  });
});

describe("filesystem and git activity, when human_key is a directory on the server", () => {
  function workspace() {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mailroom-resv-"));
    tempDirs.push(dir);
    mkdirSync(path.join(dir, "src"));
    writeFileSync(path.join(dir, "src", "main.py"), "print(1)\n");
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", dir, ...args], {
        env: { ...process.env, GIT_AUTHOR_DATE: LONG_AGO.toISOString(), GIT_COMMITTER_DATE: LONG_AGO.toISOString(), GIT_CONFIG_NOSYSTEM: "1", HOME: dir },
        stdio: "ignore",
      });
    git("init", "-q");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init");
    return dir;
  }

  it("a recently modified matching file keeps the reservation; old files and commits do not", async () => {
    const dir = workspace();
    const { b, reserve, inactive, list } = await fresh(dir);
    await reserve(b, ["src/*.py", "missing/**", "tool://deploy"]);
    await inactive(b);
    const byPattern = Object.fromEntries((await list()).map((row) => [row.path_pattern, row]));
    // Recent files decide it: git is not asked.
    expect(byPattern["src/*.py"]).toMatchObject({
      stale: false,
      stale_reasons: ["agent_inactive>1800s", "no_recent_mail_activity>900s", "filesystem_activity_recent"],
      last_git_activity_ts: null,
    });
    // The other two were stale (no files match one; the other names no files) and are gone.
    expect(Object.keys(byPattern)).toEqual(["src/*.py"]);

    utimesSync(path.join(dir, "src", "main.py"), LONG_AGO, LONG_AGO);
    // Walks are reused for a few seconds; this test knows the file just changed.
    forgetWorkspaceActivity();
    expect(await list()).toEqual([]);
  });

  it("reports path_pattern_unmatched when no file matches, and the old commit's time", async () => {
    const dir = workspace();
    const { a, b, reserve, as, ctx, inactive } = await fresh(dir);
    const { granted } = await reserve(b, ["nothing/**", "src/**"]);
    // While the holder is active, files and git cannot change the answer and are not looked at.
    const error = await errorOf(invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: granted[0]!.id }));
    expect(error.code).toBe("RESERVATION_ACTIVE");
    expect(error.data).toEqual({ stale_reasons: ["agent_recently_active", "no_recent_mail_activity>900s"] });

    await inactive(b);
    utimesSync(path.join(dir, "src", "main.py"), LONG_AGO, LONG_AGO);
    const force = (id: number) => invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: id, notify_previous: false });
    const unmatched = await force(granted[0]!.id);
    expect(unmatched.reservation).toMatchObject({
      stale_reasons: ["agent_inactive>1800s", "no_recent_mail_activity>900s", "path_pattern_unmatched", "no_recent_git_activity>900s"],
      last_git_activity_ts: null,
    });
    const old = await force(granted[1]!.id);
    expect(old.reservation?.stale_reasons).toEqual(["agent_inactive>1800s", "no_recent_mail_activity>900s", "no_recent_filesystem_activity>900s", "no_recent_git_activity>900s"]);
    expect(Date.parse(old.reservation!.last_git_activity_ts!)).toBe(Math.floor(LONG_AGO.getTime() / 1000) * 1000);
  });
});

describe("force_release_file_reservation", () => {
  it("refuses a reservation whose holder is recently active (RESERVATION_ACTIVE)", async () => {
    const { a, b, reserve, as, ctx } = await fresh();
    const { granted } = await reserve(b, ["src/**"]);
    const error = await errorOf(invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: granted[0]!.id }));
    expect(error.code).toBe("RESERVATION_ACTIVE");
    expect(error.data?.stale_reasons).toContain("agent_recently_active");
  });

  it("releases a stale one, mails the holder, and reports already_released afterwards", async () => {
    const { a, b, reserve, as, ctx, inactive, humanKey } = await fresh();
    const { granted } = await reserve(b, ["src/**"], { reason: "refactor" });
    await inactive(b);
    const result = await invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: granted[0]!.id, note: "needed src" });
    expect(result).toMatchObject({
      released: 1,
      reservation: {
        id: granted[0]!.id,
        agent: b.name,
        path_pattern: "src/**",
        reason: "refactor",
        stale_reasons: ["agent_inactive>1800s", "no_recent_mail_activity>900s"],
        notified: true,
      },
    });
    expect(result.reservation!.released_ts).toBe(result.released_at);
    const inbox = await invoke(fetchInbox, ctx, { project_key: humanKey, agent_name: b.name, registration_token: b.token, include_bodies: true });
    expect(inbox).toEqual([expect.objectContaining({ subject: "[file-reservations] Released stale lock on src/**", from: a.name, body_md: expect.stringContaining("needed src") })]);

    expect(await invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: granted[0]!.id })).toEqual({
      released: 0,
      released_at: result.released_at,
      already_released: true,
    });
  });

  it("marks a TTL-expired one released (expired: true), skips mail with notify_previous false, and 404s unknown ids", async () => {
    const { a, b, reserve, as, ctx, inactive } = await fresh();
    const { granted } = await reserve(b, ["x/**", "y/**"]);
    await db.prisma.fileReservation.update({ where: { id: granted[0]!.id }, data: { expiresTs: new Date(Date.now() - 1000) } });
    expect(await invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: granted[0]!.id })).toMatchObject({ released: 0, already_released: true, expired: true });
    expect((await db.prisma.fileReservation.findUniqueOrThrow({ where: { id: granted[0]!.id } })).releasedTs).not.toBeNull();

    await inactive(b);
    const quiet = await invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: granted[1]!.id, notify_previous: false });
    expect(quiet.reservation?.notified).toBe(false);
    expect(await db.prisma.message.count({ where: { senderId: a.id } })).toBe(0);

    const missing = await errorOf(invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: 999_999 }));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toContain("not found");
  });

  it("is for admins only (Mailroom gates it; the reference leaves it open)", async () => {
    const { a, b, reserve, as, ctx, inactive } = await fresh();
    const { granted } = await reserve(b, ["src/**"]);
    await inactive(b);
    const error = await errorOf(invoke(forceReleaseFileReservation, { ...ctx, actor: actorFor("writer") }, { ...as(a), file_reservation_id: granted[0]!.id }));
    expect(error.code).toBe("FORBIDDEN");
    expect((await db.prisma.fileReservation.findUniqueOrThrow({ where: { id: granted[0]!.id } })).releasedTs).toBeNull();
  });
});

describe("sweepFileReservations", () => {
  it("releases expired and stale reservations of every project and leaves live ones", async () => {
    const one = await fresh();
    const two = await fresh();
    const expired = await one.reserve(one.a, ["e/**"]);
    const live = await one.reserve(one.b, ["live/**"]);
    const stale = await two.reserve(two.b, ["s/**"]);
    await db.prisma.fileReservation.update({ where: { id: expired.granted[0]!.id }, data: { expiresTs: new Date(Date.now() - 1000) } });
    await two.inactive(two.b);

    const result = await sweepFileReservations(db.prisma, new Date(), SETTINGS);
    expect(result.released).toBeGreaterThanOrEqual(2);
    const rows = await db.prisma.fileReservation.findMany({ where: { id: { in: [expired.granted[0]!.id, live.granted[0]!.id, stale.granted[0]!.id] } }, orderBy: { id: "asc" } });
    expect(rows.map((row) => row.releasedTs !== null)).toEqual([true, false, true]);
    expect(await sweepFileReservations(db.prisma, new Date(), SETTINGS)).toEqual({ released: 0 });
  });
});

describe("reservation events", () => {
  it("grant, renew, release, force-release and expiry are published on the bus for the project", async () => {
    const bus = await createEventBus(db, db.url);
    const seen: MailEvent[] = [];
    const unsubscribe = bus.subscribe((event) => seen.push(event));
    try {
      const { a, b, reserve, as, ctx, inactive, project } = await fresh();
      const { granted } = await reserve(a, ["ev/**", "tool://ev"]);
      await invoke(renewFileReservations, ctx, { ...as(a), extend_seconds: 120 });
      await invoke(releaseFileReservations, ctx, { ...as(a), paths: ["tool://ev"] });
      const held = await reserve(b, ["held/**"]);
      await inactive(b);
      await invoke(forceReleaseFileReservation, ctx, { ...as(a), file_reservation_id: held.granted[0]!.id, notify_previous: false });
      const gone = await reserve(a, ["gone/**"]);
      await db.prisma.fileReservation.update({ where: { id: gone.granted[0]!.id }, data: { expiresTs: new Date(Date.now() - 1000) } });
      await sweepFileReservations(db.prisma, new Date(), SETTINGS);

      const mine = () => seen.filter((event): event is ReservationEvent => event.type === "reservation" && event.projectId === project.id);
      await expect.poll(() => mine().length).toBe(7);
      const ids = granted.map((row) => row.id);
      expect(mine()).toEqual([
        { type: "reservation", projectId: project.id, action: "granted", count: 2, reservationIds: ids, agentIds: [a.id] },
        { type: "reservation", projectId: project.id, action: "renewed", count: 2, reservationIds: ids, agentIds: [a.id] },
        { type: "reservation", projectId: project.id, action: "released", count: 1, reservationIds: [ids[1]], agentIds: [a.id] },
        { type: "reservation", projectId: project.id, action: "granted", count: 1, reservationIds: [held.granted[0]!.id], agentIds: [b.id] },
        { type: "reservation", projectId: project.id, action: "force_released", count: 1, reservationIds: [held.granted[0]!.id], agentIds: [b.id] },
        { type: "reservation", projectId: project.id, action: "granted", count: 1, reservationIds: [gone.granted[0]!.id], agentIds: [a.id] },
        { type: "reservation", projectId: project.id, action: "expired", count: 1, reservationIds: [gone.granted[0]!.id], agentIds: [a.id] },
      ]);
    } finally {
      unsubscribe();
      await bus.close();
    }
  });

  it("a refused grant publishes nothing", async () => {
    const bus = await createEventBus(db, db.url);
    const seen: MailEvent[] = [];
    const unsubscribe = bus.subscribe((event) => seen.push(event));
    try {
      const { a, b, reserve, project } = await fresh();
      await reserve(a, ["r/**"]);
      await reserve(b, ["r/x"], { refuse_conflicts: true });
      await reserve(a, ["marker/**"]);
      await expect.poll(() => seen.filter((event) => event.type === "reservation" && event.projectId === project.id).length).toBe(2);
      expect(seen.filter((event) => event.type === "reservation" && event.projectId === project.id && event.agentIds.includes(b.id))).toEqual([]);
    } finally {
      unsubscribe();
      await bus.close();
    }
  });
});

describe("over MCP and /api/events", () => {
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    server = await startTestServer(db);
    client = await connectMcp(server.url);
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it("another agent's event stream sees a grant; tool errors carry the reference's codes", async () => {
    const { a, b, humanKey, project } = await fresh();
    const stream = await openEventStream(server.url, { project: project.slug, agent: b.name, agent_token: b.token });
    try {
      expect((await stream.events.next()).event).toBe("ready");
      const auth = { project_key: humanKey, agent_name: a.name, registration_token: a.token };
      const result = await callOk<{ granted: { id: number }[] }>(client, "file_reservation_paths", { ...auth, paths: ["src/**"] });
      const { match } = await stream.events.until((event) => event.event === "reservation");
      expect(match.data).toEqual({ action: "granted", count: 1, file_reservation_ids: [result.granted[0]!.id], agents: [a.name] });

      expect(await callError(client, "file_reservation_paths", { ...auth, paths: [] })).toMatch(/^EMPTY_PATHS: /);
      expect(await callError(client, "release_file_reservations", { ...auth, file_reservation_ids: [] })).toMatch(/^EMPTY_IDS: /);
      const conflict = await callOk<{ conflicts: unknown[] }>(client, "check_file_reservation_conflicts", {
        project_key: humanKey,
        agent_name: b.name,
        registration_token: b.token,
        paths: ["src/a.py"],
      });
      expect(conflict.conflicts).toHaveLength(1);
    } finally {
      stream.close();
    }
  });
});
