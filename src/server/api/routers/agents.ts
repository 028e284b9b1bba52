import { createAgentIdentityInput, listAgentsInput, registerAgentInput, whoisInput } from "@/server/schemas/agents";
import { listAgents, whois } from "@/server/services/agents/queries";
import { createAgentIdentity, registerAgent } from "@/server/services/agents/register";
import { readProcedure, router, writeProcedure } from "../trpc";

export const agentsRouter = router({
  list: readProcedure.input(listAgentsInput).query(({ ctx, input }) => listAgents(ctx, input)),
  whois: readProcedure.input(whoisInput).query(({ ctx, input }) => whois(ctx, input)),
  register: writeProcedure.input(registerAgentInput).mutation(({ ctx, input }) => registerAgent(ctx, input)),
  createIdentity: writeProcedure.input(createAgentIdentityInput).mutation(({ ctx, input }) => createAgentIdentity(ctx, input)),
});
