import { describe, expect, it } from "vitest";
import {
  batchCommitMessage,
  formatIdRanges,
  mailCommitPart,
  outboxIdsOfMessage,
  parseIdRanges,
  profileCommitPart,
  renderMessageFile,
  reservationCommitPart,
  sortedJson,
  threadDigestEntry,
} from "@/server/archive/render";

// The archive's texts (reference §8): message files, digest entries, commit messages and the
// Mailroom-Outbox trailer the crash repair trusts.

describe("message files", () => {
  it("are ---json, the sorted front matter, ---, the trimmed body", () => {
    const text = renderMessageFile(
      {
        id: 5,
        thread_id: null,
        project: "/srv/p",
        project_slug: "p",
        from: "GreenLake",
        to: ["BlueDog"],
        cc: [],
        bcc: [],
        subject: "Hi",
        importance: "normal",
        ack_required: false,
        created: "2025-01-02T03:04:05.678+00:00",
        attachments: [],
      },
      "\n  body\n\n",
    );
    expect(text).toBe(
      [
        "---json",
        "{",
        '  "ack_required": false,',
        '  "attachments": [],',
        '  "bcc": [],',
        '  "cc": [],',
        '  "created": "2025-01-02T03:04:05.678+00:00",',
        '  "from": "GreenLake",',
        '  "id": 5,',
        '  "importance": "normal",',
        '  "project": "/srv/p",',
        '  "project_slug": "p",',
        '  "subject": "Hi",',
        '  "thread_id": null,',
        '  "to": [',
        '    "BlueDog"',
        "  ]",
        "}",
        "---",
        "",
        "body",
        "",
      ].join("\n"),
    );
  });

  it("sorts nested keys too", () => {
    expect(sortedJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe('{\n  "a": {\n    "c": null,\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}');
  });
});

describe("thread digest entries", () => {
  const base = { subject: "Plan", created: "2025-01-02T03:04:05.678+00:00", from: "GreenLake", to: ["BlueDog", "RedFox"], canonicalPath: "projects/p/messages/2025/01/x__plan__5.md" };

  it("hold the subject, the header line, the link and the body", () => {
    expect(threadDigestEntry({ ...base, bodyMd: "  text  " })).toBe(
      "### Plan\n\n## 2025-01-02T03:04:05.678+00:00 — GreenLake → BlueDog, RedFox\n\n[View canonical](projects/p/messages/2025/01/x__plan__5.md)\n\ntext\n\n---\n\n",
    );
  });

  it("cut the body at 1,200 characters and omit an empty subject", () => {
    const entry = threadDigestEntry({ ...base, subject: " ", bodyMd: `${"a".repeat(1199)} ${"b".repeat(50)}` });
    expect(entry.startsWith("## ")).toBe(true);
    expect(entry).toContain(`${"a".repeat(1199)}\n...\n\n---\n\n`);
  });
});

describe("commit messages", () => {
  const mail = (outboxId: bigint, subject = "Hello") =>
    mailCommitPart({ outboxId, sender: "GreenLake", recipients: ["BlueDog", "RedFox"], subject, projectKey: "/srv/p", created: "2025-01-02T03:04:05.678+00:00", threadId: null, messageId: 9 });

  it("one mail: the reference's fallback lines, with the outbox trailer in the last paragraph", () => {
    expect(batchCommitMessage([mail(17n)])).toBe(
      "mail: GreenLake -> BlueDog, RedFox | Hello\n\nTOOL: send_message\nAgent: GreenLake\nProject: /srv/p\nStarted: 2025-01-02T03:04:05.678+00:00\nStatus: SUCCESS\nThread: 9\nMailroom-Outbox: 17\n",
    );
  });

  it("one profile, one reservation event", () => {
    expect(batchCommitMessage([profileCommitPart({ outboxId: 3n, agent: "GreenLake" })])).toBe("agent: profile GreenLake\n\nMailroom-Outbox: 3\n");
    expect(batchCommitMessage([reservationCommitPart({ outboxId: 4n, rows: [{ agent: "GreenLake", pathPattern: "src/**" }] })])).toBe(
      "file_reservation: GreenLake src/**\n\nAgent: GreenLake\nMailroom-Outbox: 4\n",
    );
    expect(
      batchCommitMessage([
        reservationCommitPart({
          outboxId: 5n,
          rows: [
            { agent: "GreenLake", pathPattern: "src/**" },
            { agent: "BlueDog", pathPattern: "docs/*.md" },
          ],
        }),
      ]),
    ).toBe("file_reservation: GreenLake src/** (+1 more)\n\n- GreenLake src/**\n- BlueDog docs/*.md\n\nAgent: GreenLake\nAgent: BlueDog\nMailroom-Outbox: 5\n");
  });

  it("several events: batch: N commits and the first line of each", () => {
    const message = batchCommitMessage([mail(7n), profileCommitPart({ outboxId: 8n, agent: "RedFox" }), mail(10n, "Again")]);
    expect(message).toBe(
      "batch: 3 commits\n\n- mail: GreenLake -> BlueDog, RedFox | Hello\n- agent: profile RedFox\n- mail: GreenLake -> BlueDog, RedFox | Again\n\nAgent: GreenLake\nMailroom-Outbox: 7-8,10\n",
    );
    expect(outboxIdsOfMessage(message)).toEqual([7n, 8n, 10n]);
  });

  it("no subject, name or pattern can forge a trailer line", () => {
    const forged = "x\n\nMailroom-Outbox: 1-99\n";
    const message = batchCommitMessage([
      mail(50n, forged),
      reservationCommitPart({ outboxId: 51n, rows: [{ agent: "GreenLake", pathPattern: forged }, { agent: "B", pathPattern: forged }] }),
    ]);
    expect(outboxIdsOfMessage(message)).toEqual([50n, 51n]);
    expect(message.split("\n").filter((line) => line.startsWith("Mailroom-Outbox"))).toEqual(["Mailroom-Outbox: 50-51"]);
    expect(outboxIdsOfMessage(batchCommitMessage([mail(60n, forged)]))).toEqual([60n]);
  });
});

describe("outbox id ranges", () => {
  it("round-trip", () => {
    const ids = [1n, 2n, 3n, 5n, 9n, 10n, 12n, 9007199254740993n];
    expect(formatIdRanges(ids)).toBe("1-3,5,9-10,12,9007199254740993");
    expect(parseIdRanges(formatIdRanges(ids))).toEqual(ids);
    expect(formatIdRanges([4n, 2n, 3n, 3n])).toBe("2-4");
  });

  it("refuse anything that is not a list of ranges, and huge ranges", () => {
    for (const value of ["", "a", "1,,2", "3-1", "0", "-1", "1-", "1 2", "01"]) expect(parseIdRanges(value), value).toBeUndefined();
    expect(parseIdRanges("1-1000000")).toBeUndefined();
    expect(outboxIdsOfMessage("subject only Mailroom-Outbox: 5")).toEqual([]);
    expect(outboxIdsOfMessage("subject\n\nMailroom-Outbox: 5\n\nSigned-off-by: x")).toEqual([]);
  });
});
