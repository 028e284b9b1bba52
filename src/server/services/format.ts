// Wire formats shared by every result: timestamps as ISO-8601 UTC with an explicit +00:00 offset,
// the form mcp_agent_mail clients parse.

export function isoTs(date: Date): string {
  return date.toISOString().replace(/Z$/, "+00:00");
}

export function isoTsOrNull(date: Date | null | undefined): string | null {
  return date ? isoTs(date) : null;
}
