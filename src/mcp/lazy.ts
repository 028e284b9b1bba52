import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { hasRole } from "@/server/auth/actor";
import { AppError, quote } from "@/server/errors";
import { parseArguments } from "@/server/operations/invoke";
import type { ServiceContext } from "@/server/services/context";
import { toolEntry, toolOperations, type ToolProfile } from "./catalog";
import { clusterOf } from "@/server/services/tooling/clusters";
import { LAZY_TOOL_NAME, lazyToolInput } from "./lazy-tool";

// call_extended_tool (lazy profile): lists the tools tools/list left out, describes one, or calls
// it. Only tools the caller's role may call are listed or described; a call goes through the same
// path as a direct tools/call (permission, input, scope, metrics).

export type CallThrough = (name: string, args: unknown) => Promise<CallToolResult>;

function structured(result: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result };
}

export async function callExtendedTool(ctx: ServiceContext, profile: ToolProfile, args: unknown, call: CallThrough): Promise<CallToolResult> {
  const input = parseArguments(lazyToolInput, args, LAZY_TOOL_NAME);
  const callable = toolOperations.filter((operation) => hasRole(ctx.actor, operation.permission));
  if (!input.tool_name) {
    const extended = callable.filter((operation) => !profile.listed.has(operation.name));
    const byCategory: Record<string, number> = {};
    for (const operation of extended) byCategory[clusterOf(operation)] = (byCategory[clusterOf(operation)] ?? 0) + 1;
    return structured({
      total: extended.length,
      by_category: byCategory,
      tools: extended.map((operation) => ({ name: operation.name, category: clusterOf(operation), description: operation.description })),
    });
  }
  const operation = callable.find((candidate) => candidate.name === input.tool_name);
  if (!operation) throw new AppError("NOT_FOUND", `Unknown tool '${quote(input.tool_name)}'.`, { field: "tool_name" });
  if (input.arguments === undefined) {
    const entry = toolEntry(operation);
    return structured({ name: entry.name, category: clusterOf(operation), description: entry.description, inputSchema: entry.inputSchema, annotations: entry.annotations });
  }
  return call(operation.name, input.arguments);
}
