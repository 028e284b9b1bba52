import type { ServiceConfig } from "../context";
import type { HeuristicSummary, SummarySource } from "./summary-heuristics";

// Optional refinement of a heuristic summary by an OpenAI-compatible chat endpoint. Off unless
// LLM_BASE_URL is set; any failure keeps the heuristic summary, with the reason attached.

const TIMEOUT_MS = 20_000;

export interface Refinement {
  summary: Record<string, unknown>;
  model: string | null;
  error?: string;
}

export async function refineSummary(
  config: ServiceConfig,
  heuristic: HeuristicSummary | Record<string, unknown>,
  messages: SummarySource[],
  modelOverride?: string | null,
): Promise<Refinement> {
  const llm = config.llm;
  if (!llm) return { summary: { ...heuristic }, model: null };
  const model = modelOverride || llm.model;
  const transcript = messages
    .slice(-60)
    .map((message) => `### ${message.subject} — ${message.from} (${message.created_ts})\n${message.body_md.slice(0, 2000)}`)
    .join("\n\n");
  try {
    const response = await fetch(new URL("chat/completions", llm.baseUrl.endsWith("/") ? llm.baseUrl : `${llm.baseUrl}/`), {
      method: "POST",
      headers: { "content-type": "application/json", ...(llm.apiKey ? { authorization: `Bearer ${llm.apiKey}` } : {}) },
      signal: AbortSignal.timeout(TIMEOUT_MS),
      body: JSON.stringify({
        model,
        temperature: 0.2,
        response_format: { type: "json_object" },
        messages: [
          {
            role: "system",
            content:
              "You summarise threads of messages between software agents. Answer with one JSON object with keys " +
              "participants, key_points, action_items (arrays of short strings) and, optionally, decisions.",
          },
          { role: "user", content: `Heuristic summary:\n${JSON.stringify(heuristic)}\n\nMessages:\n${transcript}` },
        ],
      }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = (await response.json()) as { choices?: { message?: { content?: string } }[] };
    const refined = JSON.parse(body.choices?.[0]?.message?.content ?? "") as Record<string, unknown>;
    return { summary: { ...heuristic, ...refined }, model };
  } catch (error) {
    return { summary: { ...heuristic }, model: null, error: `LLM refinement skipped: ${(error as Error).message}` };
  }
}
