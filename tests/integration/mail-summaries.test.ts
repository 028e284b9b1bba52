import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import {
  fetchSummaryInput,
  sendMessageInput,
  summarizeRecentInput,
  summarizeThreadInput,
  type FetchSummaryInput,
  type SendMessageInput,
  type SummarizeRecentInput,
  type SummarizeThreadInput,
} from "@/server/schemas/messages";
import { sendMessage } from "@/server/services/messages/send";
import { fetchSummary, summarizeRecent, summarizeThread } from "@/server/services/messages/summaries";
import type { HeuristicSummary } from "@/server/services/messages/summary-heuristics";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// summarize_thread, summarize_recent and fetch_summary (reference §2.2) with the heuristic
// summariser (no LLM is configured in tests).

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
let projectCounter = 0;

async function setup(names: string[] = ["GreenLake", "BlueDog", "RedFox"]) {
  projectCounter += 1;
  const fixture = await projectWithAgents(db, `/summaries-${projectCounter}`, names);
  const key = fixture.project.slug;
  const { ctx, agents } = fixture;
  const auth = (agent: string) => ({ project_key: key, agent_name: agent, registration_token: agents[agent]!.token });
  return {
    ...fixture,
    key,
    send: async (from: string, input: Partial<Omit<SendMessageInput, "to">> & { to: string[] }) => {
      const result = await invoke(sendMessage, ctx,
        sendMessageInput.parse({ project_key: key, sender_name: from, sender_token: agents[from]!.token, subject: "Subject", body_md: "", ...input }),
      );
      return result.deliveries[0]!.payload;
    },
    thread: (agent: string, input: Partial<SummarizeThreadInput> & { thread_id: string }) => invoke(summarizeThread, ctx, summarizeThreadInput.parse({ ...auth(agent), ...input })),
    recent: (agent: string, input: Partial<SummarizeRecentInput> = {}) => invoke(summarizeRecent, ctx, summarizeRecentInput.parse({ ...auth(agent), ...input })),
    stored: (agent: string, input: Partial<FetchSummaryInput> = {}) => invoke(fetchSummary, ctx, fetchSummaryInput.parse({ ...auth(agent), ...input })),
  };
}

async function appError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected the call to fail with an AppError, but it succeeded");
}

interface SingleSummary {
  thread_id: string;
  summary: HeuristicSummary;
  examples: { id: number; subject: string; from: string; created_ts: string }[];
}
interface MultiSummary {
  threads: { thread_id: string; summary: HeuristicSummary }[];
  aggregate: { top_mentions: { name: string; count: number }[]; action_items: string[]; key_points: string[] };
}
/** summarize_thread's one-thread shape (fails the test on the several-threads shape). */
function single(result: unknown): SingleSummary {
  expect(result).toHaveProperty("summary");
  expect(result).not.toHaveProperty("threads");
  return result as SingleSummary;
}
function several(result: unknown): MultiSummary {
  expect(result).toHaveProperty("threads");
  expect(result).toHaveProperty("aggregate");
  return result as MultiSummary;
}

const KICKOFF = [
  "Kickoff for @BlueDog and @RedFox.",
  "- Goal: migrate `src/db/schema.ts`",
  "- [ ] write migration",
  "- [x] review plan",
  "TODO: notify @RedFox",
].join("\n");
const ANSWER = ["1. agreed", "- [ ] run `scripts/migrate.py`", "NEXT: deploy Friday"].join("\n");

describe("summarize_thread", () => {
  it("summarises one thread: participants, key points, actions, mentions, code references", async () => {
    const f = await setup();
    await f.send("GreenLake", { to: ["BlueDog"], thread_id: "PLAN-1", subject: "Plan", body_md: KICKOFF });
    await f.send("BlueDog", { to: ["GreenLake"], thread_id: "PLAN-1", subject: "Re: Plan", body_md: ANSWER });
    await f.send("GreenLake", { to: ["BlueDog"], thread_id: "PLAN-2", body_md: "- other thread point" });
    const result = await f.thread("BlueDog", { thread_id: "PLAN-1" });
    expect(result).toEqual({
      thread_id: "PLAN-1",
      summary: {
        participants: ["BlueDog", "GreenLake"],
        key_points: ["Goal: migrate `src/db/schema.ts`", "write migration", "review plan", "agreed", "run `scripts/migrate.py`"],
        action_items: ["write migration", "review plan", "TODO: notify @RedFox", "run `scripts/migrate.py`", "NEXT: deploy Friday"],
        total_messages: 2,
        open_actions: 2,
        done_actions: 1,
        mentions: [
          { name: "RedFox", count: 2 },
          { name: "BlueDog", count: 1 },
        ],
        code_references: ["src/db/schema.ts", "scripts/migrate.py"],
      },
      examples: [],
    });
  });

  it("adds up to 3 examples with include_examples, oldest first", async () => {
    const f = await setup();
    const sent = [];
    for (let i = 1; i <= 4; i += 1) sent.push(await f.send(i % 2 ? "GreenLake" : "BlueDog", { to: [i % 2 ? "BlueDog" : "GreenLake"], thread_id: "EX-1", subject: `Part ${i}` }));
    const result = single(await f.thread("GreenLake", { thread_id: "EX-1", include_examples: true }));
    expect(result.examples).toEqual(
      sent.slice(0, 3).map((m) => ({ id: m.id, subject: m.subject, from: m.from, created_ts: m.created_ts })),
    );
    expect(result.examples[0]!.created_ts).toMatch(ISO_UTC);
    expect(result.summary.total_messages).toBe(4);
  });

  it("treats a numeric id as the seed message and its replies", async () => {
    const f = await setup();
    const seed = await f.send("GreenLake", { to: ["BlueDog"], body_md: "- seed point" });
    await f.send("BlueDog", { to: ["GreenLake"], thread_id: String(seed.id), body_md: "- reply point" });
    const result = single(await f.thread("GreenLake", { thread_id: String(seed.id) }));
    expect(result.summary.key_points).toEqual(["seed point", "reply point"]);
  });

  it("summarises several comma-separated threads with an aggregate", async () => {
    const f = await setup();
    await f.send("GreenLake", { to: ["BlueDog"], thread_id: "PLAN-1", body_md: KICKOFF });
    await f.send("BlueDog", { to: ["GreenLake"], thread_id: "PLAN-1", body_md: ANSWER });
    await f.send("GreenLake", { to: ["BlueDog"], thread_id: "OPS-2", body_md: "- rotate keys @BlueDog\nBLOCKED on access @RedFox" });
    const result = several(await f.thread("BlueDog", { thread_id: "PLAN-1, OPS-2 ,PLAN-1" }));
    expect(result.threads.map((t) => [t.thread_id, t.summary.total_messages, t.summary.participants])).toEqual([
      ["PLAN-1", 2, ["BlueDog", "GreenLake"]],
      ["OPS-2", 1, ["GreenLake"]],
    ]);
    expect(result.aggregate).toEqual({
      top_mentions: [
        { name: "RedFox", count: 3 },
        { name: "BlueDog", count: 2 },
      ],
      action_items: ["write migration", "review plan", "TODO: notify @RedFox", "run `scripts/migrate.py`", "NEXT: deploy Friday", "BLOCKED on access @RedFox"],
      key_points: ["Goal: migrate `src/db/schema.ts`", "write migration", "review plan", "agreed", "run `scripts/migrate.py`", "rotate keys @BlueDog"],
    });
  });

  it("applies per_thread_limit in multi-thread mode only", async () => {
    const f = await setup();
    for (let i = 0; i < 3; i += 1) await f.send("GreenLake", { to: ["BlueDog"], thread_id: "LIM-1", body_md: `- point ${i}` });
    await f.send("GreenLake", { to: ["BlueDog"], thread_id: "LIM-2", body_md: "- other" });
    const multi = several(await f.thread("BlueDog", { thread_id: "LIM-1,LIM-2", per_thread_limit: 2 }));
    expect(multi.threads[0]!.summary.key_points).toEqual(["point 0", "point 1"]);
    const one = single(await f.thread("BlueDog", { thread_id: "LIM-1", per_thread_limit: 2 }));
    expect(one.summary.total_messages).toBe(3);
  });

  it("caps the aggregate at 10 mentions, 25 action items and 25 key points", async () => {
    const f = await setup();
    const ids = ["AGG-1", "AGG-2", "AGG-3"];
    // Each thread alone stays within its own caps (10 items, 4 mentions); together they exceed the aggregate's.
    for (const [t, id] of ids.entries()) {
      const mentions = Array.from({ length: 4 }, (_, i) => `@agent${t}${i}`).join(" ");
      const items = Array.from({ length: 10 }, (_, i) => `- [ ] task ${t}.${i}`).join("\n");
      await f.send("GreenLake", { to: ["BlueDog"], thread_id: id, body_md: `${mentions}\n${items}` });
    }
    const result = several(await f.thread("BlueDog", { thread_id: ids.join(",") }));
    expect(result.threads.map((t) => t.summary.action_items.length)).toEqual([10, 10, 10]);
    const tasks = ids.flatMap((_, t) => Array.from({ length: 10 }, (_, i) => `task ${t}.${i}`));
    expect(result.aggregate.action_items).toEqual(tasks.slice(0, 25));
    expect(result.aggregate.key_points).toEqual(tasks.slice(0, 25));
    expect(result.aggregate.top_mentions).toHaveLength(10);
  });

  it("takes at most 20 distinct thread ids per call", async () => {
    const f = await setup();
    const ids = Array.from({ length: 21 }, (_, i) => `MANY-${i}`);
    const tooMany = await appError(f.thread("BlueDog", { thread_id: ids.join(",") }));
    expect(tooMany.code).toBe("INVALID_ARGUMENT");
    expect(tooMany.message).toContain("21 threads");
    const twenty = several(await f.thread("BlueDog", { thread_id: ids.slice(0, 20).join(",") }));
    expect(twenty.threads).toHaveLength(20);
    // Repeats count once.
    const repeated = several(await f.thread("BlueDog", { thread_id: [...ids.slice(0, 20), ids[0]].join(",") }));
    expect(repeated.threads).toHaveLength(20);
  });

  it("summarises an unknown thread as empty, rejects invalid ids and needs a viewer", async () => {
    const f = await setup();
    const empty = await f.thread("GreenLake", { thread_id: "NOPE-1" });
    expect(empty).toMatchObject({ thread_id: "NOPE-1", summary: { total_messages: 0, participants: [] }, examples: [] });
    const invalid = await appError(f.thread("GreenLake", { thread_id: "ok-1,bad id" }));
    expect(invalid.code).toBe("INVALID_THREAD_ID");
    const anonymous = await appError(invoke(summarizeThread, f.ctx, summarizeThreadInput.parse({ project_key: f.key, thread_id: "X-1" })));
    expect(anonymous.code).toBe("AUTHENTICATION_REQUIRED");
  });
});

describe("summarize_recent / fetch_summary", () => {
  it("with no visible messages returns id null and 'No activity', storing nothing", async () => {
    const f = await setup();
    await f.send("GreenLake", { to: ["BlueDog"], body_md: "private" });
    const result = await f.recent("RedFox");
    expect(result).toMatchObject({
      id: null,
      cached: false,
      source_message_count: 0,
      source_thread_ids: [],
      llm_model: null,
      cost_usd: null,
    });
    expect(result.summary_text).toMatch(/^No activity in the last 1(\.0)? hours\.$/);
    expect(result.start_ts).toMatch(ISO_UTC);
    expect(result.end_ts).toMatch(ISO_UTC);
    expect(Date.parse(result.end_ts) - Date.parse(result.start_ts)).toBe(3600_000);
    expect(await db.prisma.messageSummary.count({ where: { projectId: f.project.id } })).toBe(0);
    expect(await f.stored("RedFox")).toEqual([]);
  });

  it("summarises the window, stores it, and serves the next call within tolerance from the cache", async () => {
    const f = await setup();
    const first = await f.send("GreenLake", { to: ["BlueDog"], thread_id: "PLAN-1", body_md: KICKOFF });
    await f.send("BlueDog", { to: ["GreenLake"], thread_id: "PLAN-1", body_md: ANSWER });
    const loose = await f.send("RedFox", { to: ["BlueDog"], body_md: "- [ ] loose end" });
    const old = await f.send("GreenLake", { to: ["BlueDog"], body_md: "- ancient history" });
    await db.prisma.message.update({ where: { id: old.id }, data: { createdTs: new Date(Date.now() - 3 * 3600_000) } });

    const result = await f.recent("BlueDog");
    expect(result.id).toEqual(expect.any(Number));
    expect(result.cached).toBe(false);
    expect(result.source_message_count).toBe(3);
    expect(result.source_thread_ids).toEqual(["PLAN-1", `msg-${loose.id}`]);
    expect(result.llm_model).toBeNull();
    expect(result.created_ts).toMatch(ISO_UTC);
    const text = JSON.parse(result.summary_text) as Record<string, unknown>;
    expect(text).toEqual({
      participants: ["BlueDog", "GreenLake", "RedFox"],
      key_points: ["Goal: migrate `src/db/schema.ts`", "write migration", "review plan", "agreed", "run `scripts/migrate.py`", "loose end"],
      action_items: ["write migration", "review plan", "TODO: notify @RedFox", "run `scripts/migrate.py`", "NEXT: deploy Friday", "loose end"],
      total_messages: 3,
      total_threads: 2,
      open_actions: 3,
      done_actions: 1,
    });
    expect(first.id).toBeLessThan(loose.id);

    const again = await f.recent("BlueDog");
    expect(again).toEqual({ ...result, cached: true });
    expect(await db.prisma.messageSummary.count({ where: { projectId: f.project.id } })).toBe(1);

    const listed = await f.stored("BlueDog");
    expect(listed).toEqual([
      {
        id: result.id,
        summary_text: result.summary_text,
        start_ts: result.start_ts,
        end_ts: result.end_ts,
        source_message_count: 3,
        source_thread_ids: result.source_thread_ids,
        llm_model: null,
        cost_usd: null,
        created_ts: result.created_ts,
      },
    ]);
    // Another agent sees only its own stored summaries.
    expect(await f.stored("GreenLake")).toEqual([]);
    expect(await f.stored("RedFox")).toEqual([]);
  });

  it("covers only the caller's visible mail", async () => {
    const f = await setup();
    await f.send("GreenLake", { to: ["BlueDog"], body_md: "- for blue" });
    await f.send("GreenLake", { to: ["RedFox"], body_md: "- for red" });
    const blue = await f.recent("BlueDog");
    const red = await f.recent("RedFox");
    expect(blue.id).not.toBe(red.id);
    expect(JSON.parse(blue.summary_text).key_points).toEqual(["for blue"]);
    expect(JSON.parse(red.summary_text).key_points).toEqual(["for red"]);
    expect(red.cached).toBe(false);
  });

  it("does not reuse a summary of a different window, and marks truncation at max_messages", async () => {
    const f = await setup();
    for (let i = 0; i < 3; i += 1) await f.send("GreenLake", { to: ["BlueDog"], thread_id: `T-${i}`, body_md: `- point ${i}` });
    const hour = await f.recent("BlueDog", { since_hours: 1 });
    const day = await f.recent("BlueDog", { since_hours: 24, max_messages: 2 });
    expect(day.cached).toBe(false);
    expect(day.id).not.toBe(hour.id);
    expect(day.source_message_count).toBe(2);
    expect(day.source_thread_ids).toEqual(["T-0", "T-1"]);
    const text = JSON.parse(day.summary_text);
    expect(text).toMatchObject({ total_messages: 2, total_threads: 2, truncated: true });
    expect(text.truncation_note).toContain("2");
    expect(JSON.parse(hour.summary_text).truncated).toBeUndefined();
    // Exactly max_messages in the window is not a truncation.
    const exact = await f.recent("BlueDog", { since_hours: 2, max_messages: 3 });
    expect(exact.source_message_count).toBe(3);
    expect(JSON.parse(exact.summary_text).truncated).toBeUndefined();
    const listed = await f.stored("BlueDog");
    expect(listed.map((s) => s.id).sort()).toEqual([hour.id, day.id, exact.id].sort());
    expect((await f.stored("BlueDog", { limit: 1 })).map((s) => s.id)).toEqual([exact.id]);
  });

  it("summarises at most 500 messages, whatever max_messages asks for", async () => {
    const f = await setup();
    // More messages in the window than the cap (505, in one statement).
    await db.prisma.$executeRaw`
      WITH msg AS (
        INSERT INTO messages (project_id, sender_id, subject, body_md)
        SELECT ${f.project.id}, ${f.agents.GreenLake!.id}, 'bulk ' || g, '- point ' || g FROM generate_series(1, 505) g
        RETURNING id)
      INSERT INTO message_recipients (message_id, agent_id, kind) SELECT id, ${f.agents.BlueDog!.id}, 'to' FROM msg`;
    const result = await f.recent("BlueDog", { max_messages: 10_000 });
    expect(result.source_message_count).toBe(500);
    expect(result.source_thread_ids).toHaveLength(500);
    expect(JSON.parse(result.summary_text)).toMatchObject({ total_messages: 500, truncated: true });
    expect(JSON.parse(result.summary_text).truncation_note).toContain("500");
  });

  it("fetch_summary keeps only summaries whose window ended within since_hours", async () => {
    const f = await setup();
    await f.send("GreenLake", { to: ["BlueDog"], body_md: "- x" });
    const made = await f.recent("BlueDog");
    await db.prisma.messageSummary.update({ where: { id: made.id! }, data: { endTs: new Date(Date.now() - 48 * 3600_000) } });
    expect(await f.stored("BlueDog")).toEqual([]);
    expect((await f.stored("BlueDog", { since_hours: 72 })).map((s) => s.id)).toEqual([made.id]);
  });

  it("needs the agent's token", async () => {
    const f = await setup();
    const recent = await appError(invoke(summarizeRecent, f.ctx, summarizeRecentInput.parse({ project_key: f.key, agent_name: "BlueDog", registration_token: "wrong" })));
    expect(recent.code).toBe("AUTHENTICATION_REQUIRED");
    const stored = await appError(invoke(fetchSummary, f.ctx, fetchSummaryInput.parse({ project_key: f.key, agent_name: "BlueDog" })));
    expect(stored.code).toBe("AUTHENTICATION_REQUIRED");
  });
});
