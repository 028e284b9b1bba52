// The heuristic thread summary of mcp_agent_mail: no model, just the structure agents write in
// Markdown (bullets, checkboxes, TODO markers, @mentions, `code/paths`).

export interface SummarySource {
  id: number;
  subject: string;
  body_md: string;
  from: string;
  created_ts: string;
}

export interface HeuristicSummary {
  participants: string[];
  key_points: string[];
  action_items: string[];
  total_messages: number;
  open_actions: number;
  done_actions: number;
  mentions: { name: string; count: number }[];
  code_references: string[];
}

const BULLET = /^(?:[-*+]|[1-5]\.)\s+(.*)$/;
const CHECKBOX = /^(?:[-*+]\s+)?\[( |x|X)\]\s+(.*)$/;
const ACTION_WORDS = /\b(TODO|ACTION|FIXME|NEXT|BLOCKED)\b/;

export function summarize(messages: SummarySource[], caps = { keyPoints: 10, actionItems: 10 }): HeuristicSummary {
  const keyPoints: string[] = [];
  const actionItems: string[] = [];
  const mentions = new Map<string, number>();
  const codeReferences = new Set<string>();
  let open = 0;
  let done = 0;
  for (const message of messages) {
    for (const rawLine of message.body_md.split(/\r?\n/)) {
      const line = rawLine.trim();
      if (!line) continue;
      const checkbox = CHECKBOX.exec(line);
      if (checkbox) {
        if (checkbox[1] === " ") open += 1;
        else done += 1;
        if (actionItems.length < caps.actionItems) actionItems.push(checkbox[2]!.trim());
      } else if (ACTION_WORDS.test(line) && actionItems.length < caps.actionItems) {
        actionItems.push(line.replace(BULLET, "$1").trim());
      }
      const bullet = BULLET.exec(line);
      if (bullet && keyPoints.length < caps.keyPoints) {
        keyPoints.push(bullet[1]!.replace(/^\[( |x|X)\]\s+/, "").trim());
      }
    }
    // A mention ends on a letter or digit: "thanks @RedFox." mentions RedFox, not "RedFox.".
    for (const match of message.body_md.matchAll(/(?:^|[^\w@])@([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/g)) {
      mentions.set(match[1]!, (mentions.get(match[1]!) ?? 0) + 1);
    }
    for (const match of message.body_md.matchAll(/`([^`\n]+)`/g)) {
      const snippet = match[1]!;
      if (codeReferences.size < 10 && /\/|\.py\b|\.ts\b|\.md\b/.test(snippet)) codeReferences.add(snippet);
    }
  }
  return {
    participants: [...new Set(messages.map((message) => message.from))].sort(),
    key_points: keyPoints,
    action_items: actionItems,
    total_messages: messages.length,
    open_actions: open,
    done_actions: done,
    mentions: [...mentions.entries()]
      .map(([name, count]) => ({ name, count }))
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
      .slice(0, 10),
    code_references: [...codeReferences],
  };
}
