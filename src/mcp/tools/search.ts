import { fetchSummaryInput, searchMessagesInput, summarizeRecentInput, summarizeThreadInput } from "@/server/schemas/messages";
import { searchMessages } from "@/server/services/messages/search";
import { fetchSummary, summarizeRecent, summarizeThread } from "@/server/services/messages/summaries";
import { defineTool } from "../registry";

const read = { readOnlyHint: true, openWorldHint: false } as const;

export const searchMessagesTool = defineTool({
  name: "search_messages",
  description: "Full-text search of mail you can see, best match first, with highlighted snippets.",
  input: searchMessagesInput,
  permission: "read",
  profile: "core",
  annotations: { title: "Search messages", ...read },
  handler: (ctx, input) => searchMessages(ctx, input),
});

export const summarizeThreadTool = defineTool({
  name: "summarize_thread",
  description: "Summarise one thread, or several (comma-separated ids): participants, key points, action items, mentions.",
  input: summarizeThreadInput,
  permission: "read",
  profile: "extended",
  annotations: { title: "Summarize thread", ...read },
  handler: (ctx, input) => summarizeThread(ctx, input),
});

export const summarizeRecentTool = defineTool({
  name: "summarize_recent",
  description: "Summarise your visible mail of the last since_hours across threads; stored for fetch_summary.",
  input: summarizeRecentInput,
  permission: "write",
  profile: "extended",
  annotations: { title: "Summarize recent", readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  handler: (ctx, input) => summarizeRecent(ctx, input),
});

export const fetchSummaryTool = defineTool({
  name: "fetch_summary",
  description: "Your stored summaries whose window ended in the last since_hours, newest first.",
  input: fetchSummaryInput,
  permission: "read",
  profile: "extended",
  annotations: { title: "Fetch summaries", ...read },
  handler: (ctx, input) => fetchSummary(ctx, input),
});
