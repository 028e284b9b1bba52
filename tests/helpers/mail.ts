import { invoke } from "@/server/operations/invoke";
import type { Database } from "@/server/db/client";
import { registerAgent } from "@/server/services/agents/register";
import { ensureProject } from "@/server/services/projects/projects";
import type { ServiceConfig, ServiceContext } from "@/server/services/context";
import { serviceContext } from "./context";

export interface TestAgent {
  name: string;
  token: string;
  id: number;
}

/** A project with agents registered under the given names (explicit or adjective+noun). */
export async function projectWithAgents(database: Database, humanKey: string, names: string[], config: Partial<ServiceConfig> = {}) {
  const ctx: ServiceContext = serviceContext(database, config);
  const project = await invoke(ensureProject, ctx, { human_key: humanKey });
  const agents: Record<string, TestAgent> = {};
  for (const name of names) {
    const agent = await invoke(registerAgent, ctx, {
      project_key: humanKey,
      program: "test-suite",
      model: "test-model",
      name,
      task_description: `testing as ${name}`,
      attachments_policy: "auto",
    });
    agents[name] = { name: agent.name, token: agent.registration_token!, id: agent.id };
  }
  return { ctx, project, agents };
}
