import type { ArchiveStatus } from "./status";

// The archive's state in the Prometheus text format (GET /api/metrics), so that lag and errors can
// be graphed and alerted on. The backlog is the database's (the same on every instance); role,
// commits and errors are this process's.

interface Metric {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: { labels?: Record<string, string>; value: number }[];
}

function render(metrics: Metric[]): string {
  const lines: string[] = [];
  for (const metric of metrics) {
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`);
    for (const sample of metric.samples) {
      const labels = Object.entries(sample.labels ?? {})
        .map(([key, value]) => `${key}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
        .join(",");
      lines.push(`${metric.name}${labels ? `{${labels}}` : ""} ${Number.isFinite(sample.value) ? sample.value : "NaN"}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function archiveMetrics(status: ArchiveStatus): string {
  const roles = ["writer", "standby", "disabled"] as const;
  return render([
    { name: "mailroom_archive_enabled", help: "1 when ARCHIVE_ENABLED is on.", type: "gauge", samples: [{ value: status.enabled ? 1 : 0 }] },
    {
      name: "mailroom_archive_role",
      help: "This instance's part in writing the archive (1 for the current role).",
      type: "gauge",
      samples: roles.map((role) => ({ labels: { role }, value: status.role === role ? 1 : 0 })),
    },
    {
      name: "mailroom_archive_pending_events",
      help: "Outbox events not yet committed to the archive (all instances).",
      type: "gauge",
      samples: [{ value: status.pending_events }],
    },
    {
      name: "mailroom_archive_oldest_pending_age_seconds",
      help: "Age of the oldest uncommitted outbox event: the archive's lag (0 when none is pending).",
      type: "gauge",
      samples: [{ value: status.oldest_pending_age_seconds ?? 0 }],
    },
    {
      name: "mailroom_archive_last_commit_timestamp_seconds",
      help: "When this instance last committed to the archive (0 before its first commit).",
      type: "gauge",
      samples: [{ value: status.last_commit_ts ? Date.parse(status.last_commit_ts) / 1000 : 0 }],
    },
    { name: "mailroom_archive_commits_total", help: "Archive commits this instance made since it started.", type: "counter", samples: [{ value: status.commits }] },
    {
      name: "mailroom_archive_events_written_total",
      help: "Outbox events this instance committed since it started.",
      type: "counter",
      samples: [{ value: status.events_written }],
    },
    {
      name: "mailroom_archive_error",
      help: "1 while the archive's last attempt failed (health_check shows the message).",
      type: "gauge",
      samples: [{ value: status.last_error ? 1 : 0 }],
    },
  ]);
}
