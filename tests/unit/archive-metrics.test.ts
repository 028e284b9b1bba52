import { describe, expect, it } from "vitest";
import { archiveMetrics } from "@/server/archive/metrics";

describe("archiveMetrics", () => {
  it("renders a writer's lag, commits and error as Prometheus samples", () => {
    const text = archiveMetrics({
      enabled: true,
      role: "writer",
      pending_events: 42,
      oldest_pending_age_seconds: 3.5,
      last_commit_sha: "abc123",
      last_commit_ts: "2026-12-03T06:00:00.000+00:00",
      last_error: "git failed",
      commits: 7,
      events_written: 300,
    });
    const samples = text.split("\n").filter((line) => line && !line.startsWith("#"));
    expect(samples).toEqual([
      "mailroom_archive_enabled 1",
      'mailroom_archive_role{role="writer"} 1',
      'mailroom_archive_role{role="standby"} 0',
      'mailroom_archive_role{role="disabled"} 0',
      "mailroom_archive_pending_events 42",
      "mailroom_archive_oldest_pending_age_seconds 3.5",
      `mailroom_archive_last_commit_timestamp_seconds ${Date.parse("2026-12-03T06:00:00.000Z") / 1000}`,
      "mailroom_archive_commits_total 7",
      "mailroom_archive_events_written_total 300",
      "mailroom_archive_error 1",
    ]);
    expect(text).toContain("# TYPE mailroom_archive_commits_total counter\n");
    expect(text.endsWith("\n")).toBe(true);
  });
});
