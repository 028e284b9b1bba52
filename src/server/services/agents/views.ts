import type { Agent } from "@/generated/prisma/client";
import { isoTs } from "../format";

export interface AgentView {
  id: number;
  name: string;
  program: string;
  model: string;
  task_description: string;
  inception_ts: string;
  last_active_ts: string;
  project_id: number;
  attachments_policy: string;
  retired_at?: string;
}

/** The agent dict of mcp_agent_mail: contact_policy and the token hash are never shown. */
export function agentView(agent: Agent): AgentView {
  return {
    id: agent.id,
    name: agent.name,
    program: agent.program,
    model: agent.model,
    task_description: agent.taskDescription,
    inception_ts: isoTs(agent.inceptionTs),
    last_active_ts: isoTs(agent.lastActiveTs),
    project_id: agent.projectId,
    attachments_policy: agent.attachmentsPolicy,
    ...(agent.retiredAt ? { retired_at: isoTs(agent.retiredAt) } : {}),
  };
}
