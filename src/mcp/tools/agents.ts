import { createAgentIdentityInput, registerAgentInput, whoisInput } from "@/server/schemas/agents";
import { whois } from "@/server/services/agents/queries";
import { createAgentIdentity, registerAgent } from "@/server/services/agents/register";
import { defineTool } from "../registry";

export const registerAgentTool = defineTool({
  name: "register_agent",
  description:
    "Register your agent identity in a project (or update it). Returns the agent and registration_token: keep the token, every agent-scoped call needs it.",
  input: registerAgentInput,
  permission: "write",
  profile: "core",
  annotations: { title: "Register agent", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  handler: (ctx, input) => registerAgent(ctx, input),
});

export const createAgentIdentityTool = defineTool({
  name: "create_agent_identity",
  description: "Always create a new agent identity (name_hint used if valid and free). Returns the agent and its registration_token.",
  input: createAgentIdentityInput,
  permission: "write",
  profile: "extended",
  annotations: { title: "Create agent identity", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  handler: (ctx, input) => createAgentIdentity(ctx, input),
});

export const whoisTool = defineTool({
  name: "whois",
  description: "Profile of an agent; authenticates as that agent (pass its registration_token).",
  input: whoisInput,
  permission: "read",
  profile: "core",
  annotations: { title: "Who is", readOnlyHint: true, openWorldHint: false },
  handler: (ctx, input) => whois(ctx, input),
});
