import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { searchMessagesInput, sendMessageInput, type SearchMessagesInput, type SendMessageInput } from "@/server/schemas/messages";
import { searchMessages } from "@/server/services/messages/search";
import { sendMessage } from "@/server/services/messages/send";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// search_messages (reference §2.2): Postgres full-text search in websearch syntax over the
// messages the viewer can see, best match first, with highlighted snippets and filters.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let fixture: Awaited<ReturnType<typeof projectWithAgents>>;
const ids: Record<string, number> = {};

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;

async function send(from: string, input: Partial<Omit<SendMessageInput, "to">> & { to: string[] }) {
  const result = await invoke(sendMessage, fixture.ctx,
    sendMessageInput.parse({ project_key: fixture.project.slug, sender_name: from, sender_token: fixture.agents[from]!.token, body_md: "", ...input }),
  );
  return result.deliveries[0]!.payload.id;
}

function search(query: string, input: Partial<SearchMessagesInput> = {}, agent = "BlueDog") {
  return invoke(searchMessages, fixture.ctx,
    searchMessagesInput.parse({ project_key: fixture.project.slug, query, agent_name: agent, registration_token: fixture.agents[agent]!.token, ...input }),
  );
}

async function searchIds(query: string, input: Partial<SearchMessagesInput> = {}, agent = "BlueDog") {
  return (await search(query, input, agent)).map((hit) => hit.id);
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

async function appError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected the call to fail with an AppError, but it succeeded");
}

beforeAll(async () => {
  db = await openTestDatabase();
  fixture = await projectWithAgents(db, "/search", ["GreenLake", "BlueDog", "RedFox"]);
  ids.deploySubject = await send("GreenLake", {
    to: ["BlueDog"],
    subject: "Deploy pipeline broken",
    body_md: "The staging rollout fails at the schema step.",
    importance: "high",
    thread_id: "OPS-7",
  });
  ids.deployBody = await send("RedFox", {
    to: ["BlueDog"],
    subject: "Lunch",
    body_md: "Anyone up for pizza? Unrelated: the deploy looks fine now.",
  });
  ids.ticket = await send("GreenLake", { to: ["BlueDog"], subject: "Ticket POL-358 regression", body_md: "See POL-358 for details." });
  ids.otherTicket = await send("GreenLake", { to: ["BlueDog"], subject: "Other ticket", body_md: "POL-359 is unrelated to the rest." });
  ids.migration = await send("BlueDog", { to: ["GreenLake"], subject: "Database migration plan", body_md: "We will migrate on Friday.", thread_id: "OPS-7" });
  ids.hidden = await send("GreenLake", { to: ["RedFox"], subject: "Deploy secrets", body_md: "Only for RedFox: deploy keys rotate." });
});
afterAll(async () => {
  await db?.close();
});

describe("search_messages", () => {
  it("returns hits with the documented fields, a rank and a <mark> snippet", async () => {
    const hits = await search("pizza");
    expect(hits).toHaveLength(1);
    const [hit] = hits;
    expect(hit).toMatchObject({
      id: ids.deployBody,
      subject: "Lunch",
      importance: "normal",
      ack_required: false,
      thread_id: null,
      topic: null,
      from: "RedFox",
    });
    expect(hit!.created_ts).toMatch(ISO_UTC);
    expect(hit!.rank).toBeGreaterThan(0);
    expect(hit!.snippet).toContain("<mark>pizza</mark>");
    expect(Object.keys(hit!).sort()).toEqual(["ack_required", "created_ts", "from", "id", "importance", "rank", "snippet", "subject", "thread_id", "topic"]);
  });

  it("ranks a subject match above a body-only match", async () => {
    const hits = await search("deploy");
    expect(hits.map((hit) => hit.id)).toEqual([ids.deploySubject, ids.deployBody]);
    expect(hits[0]!.rank).toBeGreaterThan(hits[1]!.rank);
    expect(hits[0]!.snippet).toContain("<mark>");
  });

  it("understands quoted phrases, OR and -exclusion", async () => {
    expect(await searchIds('"staging rollout"')).toEqual([ids.deploySubject]);
    expect(await searchIds('"rollout staging"')).toEqual([]);
    expect(sorted(await searchIds("pizza OR Friday"))).toEqual(sorted([ids.deployBody!, ids.migration!]));
    expect(await searchIds("deploy -pizza")).toEqual([ids.deploySubject]);
    expect(await searchIds("deploy pizza")).toEqual([ids.deployBody]);
  });

  it("stems English words (migrate finds migration)", async () => {
    expect(await searchIds("migrating")).toEqual([ids.migration]);
  });

  it("matches a hyphenated id like POL-358 as a whole", async () => {
    expect(await searchIds("POL-358")).toEqual([ids.ticket]);
    expect(await searchIds("pol-358")).toEqual([ids.ticket]);
    expect(await searchIds("POL-359")).toEqual([ids.otherTicket]);
  });

  it("returns [] for an empty, wildcard-only or operator-only query", async () => {
    for (const query of ["", "   ", "*", "**", "...", "?", "AND", "or", "NOT", "!!!"]) {
      expect([query, await search(query)]).toEqual([query, []]);
    }
  });

  it("returns [] for a query of stop words only, instead of everything the viewer can see", async () => {
    expect(await search("the")).toEqual([]);
    expect(await search('"of the" -and')).toEqual([]);
  });

  it("lists a message the viewer both sent and received once", async () => {
    const self = await send("RedFox", { to: ["RedFox"], subject: "Note to self about xylophones", body_md: "xylophones" });
    expect(await searchIds("xylophones", {}, "RedFox")).toEqual([self]);
  });

  it("strips a leading * and a trailing ' *'", async () => {
    expect(await searchIds("*pizza")).toEqual([ids.deployBody]);
    expect(await searchIds("pizza *")).toEqual([ids.deployBody]);
  });

  it("only searches mail the viewer can see", async () => {
    expect(await searchIds("secrets")).toEqual([]);
    expect(await searchIds("secrets", {}, "RedFox")).toEqual([ids.hidden]);
    expect(sorted(await searchIds("deploy", {}, "RedFox"))).toEqual(sorted([ids.deployBody!, ids.hidden!]));
    // The sender sees what it sent.
    expect(await searchIds("migration", {}, "BlueDog")).toEqual([ids.migration]);
  });

  it("needs an authenticated viewer", async () => {
    const anonymous = await appError(invoke(searchMessages, fixture.ctx, searchMessagesInput.parse({ project_key: fixture.project.slug, query: "deploy" })));
    expect(anonymous.code).toBe("AUTHENTICATION_REQUIRED");
    const wrong = await appError(search("deploy", { registration_token: fixture.agents.GreenLake!.token }));
    expect(wrong.code).toBe("AUTHENTICATION_REQUIRED");
  });

  it("filters by sender", async () => {
    expect(await searchIds("deploy", { sender: "RedFox" })).toEqual([ids.deployBody]);
    expect(await searchIds("deploy", { sender: "greenlake" })).toEqual([ids.deploySubject]);
    const unknown = await appError(search("deploy", { sender: "QuietMountain" }));
    expect(unknown.code).toBe("NOT_FOUND");
  });

  it("filters by thread_id", async () => {
    expect(sorted(await searchIds("deploy OR migration", { thread_id: "OPS-7" }))).toEqual(sorted([ids.deploySubject!, ids.migration!]));
    expect(await searchIds("deploy OR migration", { thread_id: "OPS-8" })).toEqual([]);
    const invalid = await appError(search("deploy", { thread_id: "bad id" }));
    expect(invalid.code).toBe("INVALID_THREAD_ID");
  });

  it("filters by importance", async () => {
    expect(await searchIds("deploy", { importance: ["high", "urgent"] })).toEqual([ids.deploySubject]);
    expect(await searchIds("deploy", { importance: ["normal"] })).toEqual([ids.deployBody]);
    expect(await searchIds("deploy", { importance: ["low"] })).toEqual([]);
  });

  it("filters by since_ts (exclusive) and until_ts (inclusive)", async () => {
    await db.prisma.$executeRaw`UPDATE messages SET created_ts = '2030-05-01T12:00:00.250700Z' WHERE id = ${ids.deploySubject}`;
    await db.prisma.$executeRaw`UPDATE messages SET created_ts = '2030-05-02T12:00:00Z' WHERE id = ${ids.deployBody}`;
    const [first] = await search("deploy", { sender: "GreenLake" });
    expect(first!.created_ts).toBe("2030-05-01T12:00:00.250+00:00");
    expect(await searchIds("deploy", { since_ts: "2030-05-01T12:00:00.250+00:00" })).toEqual([ids.deployBody]);
    expect(await searchIds("deploy", { since_ts: "2030-05-01T12:00:00.249+00:00" })).toEqual([ids.deploySubject, ids.deployBody]);
    expect(await searchIds("deploy", { until_ts: "2030-05-01T12:00:00.250+00:00" })).toEqual([ids.deploySubject]);
    expect(await searchIds("deploy", { since_ts: "2030-05-01T00:00:00Z", until_ts: "2030-05-01T23:59:59Z" })).toEqual([ids.deploySubject]);
    const bad = await appError(search("deploy", { since_ts: "last week" }));
    expect(bad.code).toBe("INVALID_TIMESTAMP");
  });

  it("clamps limit to 1..200", async () => {
    expect(await searchIds("deploy", { limit: 1 })).toEqual([ids.deploySubject]);
    expect(await searchIds("deploy", { limit: 0 })).toHaveLength(1);
    expect(await searchIds("deploy", { limit: -5 })).toHaveLength(1);
    // More matches than the cap, so that an unclamped limit would return them all.
    const matching = 205;
    for (let i = 0; i < matching; i += 1) await send("GreenLake", { to: ["BlueDog"], subject: `Kumquat crate ${i}` });
    expect(await searchIds("kumquat", { limit: matching })).toHaveLength(200);
    expect(await searchIds("kumquat", { limit: 100_000 })).toHaveLength(200);
    expect(await searchIds("kumquat", { limit: 199 })).toHaveLength(199);
  });

  it("marks cross-project hits with the sender's project", async () => {
    const other = await projectWithAgents(db, "/search-other", ["GoldHawk"]);
    await invoke(sendMessage, other.ctx,
      sendMessageInput.parse({
        project_key: other.project.slug,
        sender_name: "GoldHawk",
        sender_token: other.agents.GoldHawk!.token,
        to: [`BlueDog@${fixture.project.slug}`],
        subject: "Cross-project quokka",
        body_md: "hello",
      }),
    );
    const hits = await search("quokka");
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({
      from: "GoldHawk",
      from_project: other.project.human_key,
      from_project_slug: other.project.slug,
      from_address: `project:${other.project.slug}#GoldHawk`,
    });
  });
});
