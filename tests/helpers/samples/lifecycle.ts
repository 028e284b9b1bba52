import { invoke } from "@/server/operations/invoke";
import { registerAgent } from "@/server/services/agents/register";
import { ensureProject } from "@/server/services/projects/projects";
import type { DomainSamples, SampleBase } from ".";

// Lifecycle samples act on agents and projects of their own: retiring or archiving GreenLake,
// BlueDog or the matrix project would change what every other sample sees.

let serial = 0;

async function newAgent({ ctx, projectKey }: SampleBase, prefix: string): Promise<string> {
  const agent = await invoke(registerAgent, ctx, { project_key: projectKey, program: "matrix", model: "matrix", name: `${prefix}-${++serial}` });
  return agent.name;
}

async function newProject({ ctx }: SampleBase, prefix: string): Promise<string> {
  const project = await invoke(ensureProject, ctx, { human_key: `/matrix/${prefix}-${++serial}` });
  return project.human_key;
}

export const WINDOW_UUID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

export const lifecycleSamples: DomainSamples = {
  expected: {
    deregister_agent: "admin",
    retire_agent: "admin",
    unretire_agent: "admin",
    archive_project: "admin",
    unarchive_project: "admin",
    hard_delete_agent: "admin",
    hard_delete_project: "admin",
    list_window_identities: "read",
    rename_window: "write",
    expire_window: "write",
  },
  samples: async (base) => {
    const { db, projectKey } = base;
    const subject = { project_key: projectKey, agent_name: await newAgent(base, "retiree") };
    const archived = { project_key: await newProject(base, "archivable") };
    const project = await db.prisma.project.findUniqueOrThrow({ where: { humanKey: projectKey } });
    await db.prisma.windowIdentity.create({ data: { projectId: project.id, windowUuid: WINDOW_UUID, displayName: "SilverFox" } });
    const window = { project_key: projectKey, window_uuid: WINDOW_UUID };
    return {
      inputs: {
        deregister_agent: subject,
        retire_agent: subject,
        unretire_agent: subject,
        archive_project: archived,
        unarchive_project: archived,
        hard_delete_agent: { ...subject, confirmation: "I UNDERSTAND" },
        hard_delete_project: { ...archived, confirmation: "I UNDERSTAND" },
        list_window_identities: { project_key: projectKey },
        rename_window: { ...window, new_display_name: "SilverHawk" },
        expire_window: window,
      },
      fresh: {
        hard_delete_agent: async () => ({ project_key: projectKey, agent_name: await newAgent(base, "doomed"), confirmation: "I UNDERSTAND" }),
        hard_delete_project: async () => ({ project_key: await newProject(base, "doomed"), confirmation: "I UNDERSTAND" }),
      },
    };
  },
};
