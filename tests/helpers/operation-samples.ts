import type { Database } from "@/server/db/client";
import { invoke } from "@/server/operations/invoke";
import { sendMessage } from "@/server/services/messages/send";
import { projectWithAgents } from "./mail";
import { domainSamples, type OperationSamples } from "./samples";

/**
 * A project with two agents (GreenLake, BlueDog) and one message between them, and a valid input
 * for every registered operation against it, keyed by operation name. A call with its sample
 * succeeds for a caller with the operation's role (the permission matrix relies on it).
 */
export async function operationSamples(db: Database, projectKey: string): Promise<OperationSamples> {
  const { ctx, agents } = await projectWithAgents(db, projectKey, ["GreenLake", "BlueDog"]);
  const green = { agent_name: "GreenLake", registration_token: agents.GreenLake!.token };
  const blue = { agent_name: "BlueDog", registration_token: agents.BlueDog!.token };
  const sent = await invoke(sendMessage, ctx, {
    project_key: projectKey,
    sender_name: "GreenLake",
    sender_token: agents.GreenLake!.token,
    to: ["BlueDog"],
    subject: "matrix kickoff",
    body_md: "matrix body",
    thread_id: "MATRIX-1",
    topic: "matrix",
    ack_required: true,
  });
  const messageId = sent.deliveries[0]!.payload.id;
  const p = { project_key: projectKey };
  const asResource = (who: { agent_name: string; registration_token: string }) => ({ agent: who.agent_name, project: projectKey, agent_token: who.registration_token });
  const core: Record<string, Record<string, unknown>> = {
    health_check: {},
    "resource://config/environment": {},
    ensure_project: { human_key: projectKey },
    "resource://projects": {},
    "resource://project": p,
    projects_overview: {},
    register_agent: { ...p, program: "matrix", model: "m", name: "GreenLake", registration_token: agents.GreenLake!.token },
    create_agent_identity: { ...p, program: "matrix", model: "m" },
    whois: { ...p, ...green },
    "resource://agents": p,
    send_message: { ...p, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: "s", body_md: "b" },
    reply_message: { ...p, message_id: messageId, sender_name: "BlueDog", sender_token: agents.BlueDog!.token, body_md: "re" },
    fetch_inbox: { ...p, ...blue },
    wait_for_mail: { ...p, ...blue, timeout_seconds: 0 },
    mark_message_read: { ...p, ...blue, message_id: messageId },
    acknowledge_message: { ...p, ...blue, message_id: messageId },
    fetch_topic: { ...p, ...blue, topic_name: "matrix" },
    get_message_receipts: { ...p, ...green, message_id: messageId },
    search_messages: { ...p, ...blue, query: "matrix" },
    summarize_thread: { ...p, ...blue, thread_id: "MATRIX-1", llm_mode: false },
    summarize_recent: { ...p, ...blue, llm_mode: false },
    fetch_summary: { ...p, ...blue },
    purge_old_messages: { ...p, dry_run: true },
    "resource://inbox": asResource(blue),
    "resource://outbox": asResource(green),
    "resource://mailbox": asResource(blue),
    "resource://views/unread": asResource(blue),
    "resource://views/pending": asResource(blue),
    "resource://message": { message_id: messageId, ...asResource(blue) },
    "resource://thread": { thread_id: "MATRIX-1", ...asResource(blue) },
    "resource://views/urgent-unread": asResource(blue),
    "resource://views/ack-required": asResource(blue),
    "resource://views/acks-stale": asResource(blue),
    "resource://views/ack-overdue": asResource(blue),
    dashboard_inbox: { ...p, agent_name: "BlueDog" },
    dashboard_outbox: { ...p, agent_name: "GreenLake" },
    dashboard_thread: { ...p, thread_id: "MATRIX-1" },
    dashboard_message: { ...p, message_id: messageId },
    dashboard_search: { ...p, query: "matrix" },
    overseer_send: { ...p, recipients: ["BlueDog"], subject: "from the overseer", body_md: "hello" },
  };
  const base = { db, ctx, projectKey, agents: { GreenLake: agents.GreenLake!, BlueDog: agents.BlueDog! }, messageId, threadId: "MATRIX-1" };
  const inputs: Record<string, Record<string, unknown>> = { ...core };
  const fresh: OperationSamples["fresh"] = {};
  for (const domain of domainSamples) {
    const extra = await domain.samples(base);
    Object.assign(inputs, extra.inputs);
    Object.assign(fresh, extra.fresh ?? {});
  }
  return { inputs, fresh };
}
