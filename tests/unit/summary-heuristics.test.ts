import { describe, expect, it } from "vitest";
import { summarize, type SummarySource } from "@/server/services/messages/summary-heuristics";

// The heuristic thread summary (reference §2.2 summarize_thread): bullets, checkboxes, action
// words, @mentions and `code/paths`.

let nextId = 1;
function message(from: string, body: string, subject = "s"): SummarySource {
  nextId += 1;
  return { id: nextId, subject, body_md: body, from, created_ts: "2026-01-01T00:00:00.000+00:00" };
}

describe("summarize", () => {
  it("summarises nothing as an empty summary", () => {
    expect(summarize([])).toEqual({
      participants: [],
      key_points: [],
      action_items: [],
      total_messages: 0,
      open_actions: 0,
      done_actions: 0,
      mentions: [],
      code_references: [],
    });
  });

  it("lists participants once each, sorted", () => {
    const summary = summarize([message("RedFox", ""), message("BlueDog", ""), message("RedFox", ""), message("AmberCat", "")]);
    expect(summary.participants).toEqual(["AmberCat", "BlueDog", "RedFox"]);
    expect(summary.total_messages).toBe(4);
  });

  it("takes key points from -, *, + and 1.–5. bullets, with checkbox markers stripped", () => {
    const body = [
      "Intro line is not a key point",
      "- dash point",
      "* star point",
      "+ plus point",
      "1. first numbered",
      "5. fifth numbered",
      "6. sixth is not a key point",
      "- [ ] open task",
      "- [x] done task",
      "-no space is not a bullet",
    ].join("\n");
    expect(summarize([message("A", body)]).key_points).toEqual([
      "dash point",
      "star point",
      "plus point",
      "first numbered",
      "fifth numbered",
      "open task",
      "done task",
    ]);
  });

  it("counts open and done checkboxes and lists them, with TODO/ACTION/FIXME/NEXT/BLOCKED lines, as action items", () => {
    const body = [
      "- [ ] write tests",
      "- [x] ship it",
      "* [X] uppercase done",
      "[ ] bare checkbox",
      "TODO: rotate keys",
      "- FIXME flaky test",
      "ACTION: call vendor",
      "NEXT deploy to prod",
      "BLOCKED on review",
      "The TODOS word is not a marker",
      "plain line",
    ].join("\n");
    const summary = summarize([message("A", body)]);
    expect(summary.open_actions).toBe(2);
    expect(summary.done_actions).toBe(2);
    expect(summary.action_items).toEqual([
      "write tests",
      "ship it",
      "uppercase done",
      "bare checkbox",
      "TODO: rotate keys",
      "FIXME flaky test",
      "ACTION: call vendor",
      "NEXT deploy to prod",
      "BLOCKED on review",
    ]);
  });

  it("caps key points and action items at 10 by default, or at the given caps", () => {
    const body = Array.from({ length: 12 }, (_, i) => `- [ ] item ${i + 1}`).join("\n");
    const small = summarize([message("A", body)]);
    expect(small.key_points).toHaveLength(10);
    expect(small.action_items).toHaveLength(10);
    expect(small.open_actions).toBe(12);
    const large = summarize([message("A", body)], { keyPoints: 20, actionItems: 20 });
    expect(large.key_points).toHaveLength(12);
    expect(large.action_items[11]).toBe("item 12");
    const markers = summarize([message("A", Array.from({ length: 12 }, (_, i) => `TODO: step ${i + 1}`).join("\n"))]);
    expect(markers.action_items).toEqual(Array.from({ length: 10 }, (_, i) => `TODO: step ${i + 1}`));
  });

  it("counts @mentions (not email addresses), most frequent first, top 10", () => {
    const summary = summarize([
      message("A", "@BlueDog please check, cc @RedFox. Thanks @BlueDog"),
      message("B", "mail me at bob@example.com; (@RedFox) and @BlueDog again"),
    ]);
    expect(summary.mentions).toEqual([
      { name: "BlueDog", count: 3 },
      { name: "RedFox", count: 2 },
    ]);
    const ids = summarize([message("A", "ping @alpha-one, @worker.2; and @build_bot-")]);
    expect(ids.mentions.map((m) => m.name)).toEqual(["alpha-one", "build_bot", "worker.2"]);
    const many = summarize([message("A", Array.from({ length: 12 }, (_, i) => `@agent${String(i).padStart(2, "0")}`).join(" "))]);
    expect(many.mentions).toHaveLength(10);
    expect(many.mentions[0]).toEqual({ name: "agent00", count: 1 });
  });

  it("collects backticked code references that look like paths or .py/.ts/.md files, deduplicated, up to 10", () => {
    const summary = summarize([
      message("A", "See `src/app.ts`, `main.py` and `README.md`; not `x = 1` or `npm test`. Again `src/app.ts`."),
      message("B", "Also `docs/guide` and `notes.txt`"),
    ]);
    expect(summary.code_references).toEqual(["src/app.ts", "main.py", "README.md", "docs/guide"]);
    const many = summarize([message("A", Array.from({ length: 15 }, (_, i) => `\`dir/file${i}.ts\``).join(" "))]);
    expect(many.code_references).toHaveLength(10);
  });

  it("reads Windows line endings and indented lines", () => {
    const summary = summarize([message("A", "  - indented point\r\n\t- [ ] indented task\r\n")]);
    expect(summary.key_points).toEqual(["indented point", "indented task"]);
    expect(summary.open_actions).toBe(1);
  });
});
