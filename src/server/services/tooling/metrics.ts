import type { Prisma } from "@/generated/prisma/client";
import { defineOperation } from "@/server/operations/define";
import { noInput } from "@/server/schemas/common";
import { metricsOutput, recentInput, recentOutput } from "@/server/schemas/tooling";
import type { ServiceContext } from "../context";
import { isoTs } from "../format";
import { resolveProject } from "../projects/projects";
import { complexity, toolCapabilities, tools } from "./catalog";
import { clusterOf } from "./clusters";
import { DEFAULT_METRICS_RETENTION_DAYS } from "./metrics-recorder";

// tooling/metrics and tooling/recent read tool_call_metrics, so every instance sharing the database
// shows the same figures. Calls still in an instance's buffer (under a second old) are not counted
// yet. An actor limited to some projects sees the calls made in those projects only.

/** Most entries tooling/recent returns (upstream keeps a ring of 4096). */
export const RECENT_MAX = 4096;
const DEFAULT_WINDOW_SECONDS = 60;

async function scopeFilter(ctx: ServiceContext): Promise<Prisma.ToolCallMetricWhereInput> {
  const scopes = ctx.actor.projectScopes;
  if (scopes === "*") return {};
  const projects = await ctx.db.project.findMany({ where: { OR: [{ slug: { in: [...scopes] } }, { humanKey: { in: [...scopes] } }] }, select: { id: true } });
  return { projectId: { in: projects.map((project) => project.id) } };
}

export const toolingMetrics = defineOperation({
  name: "resource://tooling/metrics",
  description: "Calls and errors per tool, across every instance, over the metrics retention period.",
  input: noInput,
  output: metricsOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://tooling/metrics",
  async handler(ctx) {
    const groups = await ctx.db.toolCallMetric.groupBy({ by: ["tool", "ok"], where: await scopeFilter(ctx), _count: { _all: true } });
    const counts = new Map<string, { calls: number; errors: number }>();
    for (const group of groups) {
      const count = counts.get(group.tool) ?? { calls: 0, errors: 0 };
      count.calls += group._count._all;
      if (!group.ok) count.errors += group._count._all;
      counts.set(group.tool, count);
    }
    const known = await tools();
    return {
      generated_at: isoTs(new Date()),
      retention_days: ctx.config.toolMetricsRetentionDays ?? DEFAULT_METRICS_RETENTION_DAYS,
      tools: known.map((operation) => ({
        name: operation.name,
        ...(counts.get(operation.name) ?? { calls: 0, errors: 0 }),
        cluster: clusterOf(operation),
        capabilities: toolCapabilities(operation),
        complexity: complexity(operation),
      })),
    };
  },
});

/** Upstream's rule: a window that is not a positive whole number of seconds means 60. */
function windowSeconds(raw: number | string, maxSeconds: number): number {
  const value = typeof raw === "number" ? raw : /^\d{1,10}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isInteger(value) || value < 1) return DEFAULT_WINDOW_SECONDS;
  return Math.min(value, maxSeconds);
}

export const toolingRecent = defineOperation({
  name: "resource://tooling/recent",
  description: "Tool calls of the last window_seconds, newest first (at most 4096). Query: agent, project.",
  input: recentInput,
  output: recentOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://tooling/recent/{window_seconds}",
  async handler(ctx, input) {
    const retentionDays = ctx.config.toolMetricsRetentionDays ?? DEFAULT_METRICS_RETENTION_DAYS;
    const seconds = windowSeconds(input.window_seconds, retentionDays * 86_400);
    const where: Prisma.ToolCallMetricWhereInput = { ...(await scopeFilter(ctx)), createdTs: { gte: new Date(Date.now() - seconds * 1000) } };
    if (input.project) where.AND = { projectId: (await resolveProject(ctx, input.project, "project")).id };
    if (input.agent) where.agentName = { equals: input.agent, mode: "insensitive" };
    const rows = await ctx.db.toolCallMetric.findMany({ where, orderBy: [{ createdTs: "desc" }, { id: "desc" }], take: RECENT_MAX });
    const projectIds = [...new Set(rows.map((row) => row.projectId).filter((id): id is number => id !== null))];
    const keys = new Map((await ctx.db.project.findMany({ where: { id: { in: projectIds } }, select: { id: true, humanKey: true } })).map((p) => [p.id, p.humanKey]));
    const clusters = new Map((await tools()).map((operation) => [operation.name, clusterOf(operation)]));
    const entries = rows.map((row) => ({
      timestamp: isoTs(row.createdTs),
      tool: row.tool,
      project: row.projectId === null ? null : (keys.get(row.projectId) ?? null),
      agent: row.agentName,
      cluster: clusters.get(row.tool) ?? "infrastructure",
      ok: row.ok,
      error_code: row.errorCode,
      duration_ms: Math.round(row.durationMs * 100) / 100,
    }));
    return { generated_at: isoTs(new Date()), window_seconds: seconds, count: entries.length, entries };
  },
});
