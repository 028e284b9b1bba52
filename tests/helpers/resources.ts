import { resources } from "@/mcp/catalog";
import { invoke } from "@/server/operations/invoke";
import type { ServiceContext } from "@/server/services/context";

// Reads MCP resources in-process, through the same URI parsing and operation as resources/read.

/** The result of reading `uri` as `ctx.actor`; rejects with the AppError an MCP client would see. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each resource has its own shape; tests assert on it
type ResourceResult = Record<string, any> & { messages: any[] };

export async function readUri(ctx: ServiceContext, uri: string): Promise<ResourceResult> {
  for (const resource of resources) {
    const input = resource.match(uri);
    if (input) return (await invoke(resource.operation, ctx, input)) as ResourceResult;
  }
  throw new Error(`no resource matches ${uri}`);
}

export type RecipientView = "inbox" | "outbox" | "mailbox" | "views/unread" | "views/pending" | "views/urgent-unread" | "views/ack-required" | "views/acks-stale" | "views/ack-overdue";

/** resource://<view>/<agent>?<query> */
export function readAgentResource(ctx: ServiceContext, view: RecipientView, agent: string, query: URLSearchParams) {
  return readUri(ctx, `resource://${view}/${encodeURIComponent(agent)}?${query}`);
}

/** resource://thread/<id>?<query> */
export function readThread(ctx: ServiceContext, threadId: string, query: URLSearchParams) {
  return readUri(ctx, `resource://thread/${encodeURIComponent(threadId)}?${query}`);
}

/** resource://message/<id>?<query> */
export function readMessageResource(ctx: ServiceContext, messageId: string, query: URLSearchParams) {
  return readUri(ctx, `resource://message/${encodeURIComponent(messageId)}?${query}`);
}
