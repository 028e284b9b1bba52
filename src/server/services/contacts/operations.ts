import type { Agent, Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import {
  contactListOutput,
  contactPolicyOutput,
  contactRequestOutput,
  listContactsInput,
  requestContactInput,
  respondContactInput,
  respondContactOutput,
  setContactPolicyInput,
  type RequestContactInput,
  type RespondContactInput,
} from "@/server/schemas/contacts";
import { requireAgent } from "../agents/authenticate";
import type { AgentContext } from "../context";
import { isoTs, isoTsOrNull } from "../format";
import { parseAddress } from "../messages/routing";
import { resolveProject } from "../projects/projects";
import { denyLink, upsertApproval } from "./links";
import { linkExpiry, normalizePolicy } from "./policy";
import { fileContactRequest } from "./request";

// Contacts: directed links between agents (A→B approved lets A write to B) and each agent's
// contact policy. Enforcement on sends lives in ./enforce.ts.

const LIST_MAX = 1000;

async function locate(
  ctx: AgentContext,
  name: string,
  projectIdent: string | null | undefined,
  fields: { agent: string; project: string },
): Promise<{ agent: Agent; project: Project }> {
  const project = projectIdent ? await resolveProject(ctx, projectIdent, fields.project) : ctx.project;
  return { agent: await requireAgent(ctx.db, project, name, fields.agent), project };
}

function refuseSelf(a: Agent, b: Agent): void {
  if (a.id === b.id) {
    throw new AppError("INVALID_ARGUMENT", `Contact is between two agents; '${a.name}' does not allow self-contact (it may always mail itself).`, {
      field: "to_agent",
    });
  }
}

export const requestContact = defineOperation({
  name: "request_contact",
  description:
    "Ask another agent (any project: project:<slug>#Name) for permission to message it: a pending link and an ack-required 'Contact request from <you>' mail.",
  input: requestContactInput,
  output: contactRequestOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  fields: { agent: "from_agent" },
  tool: { profile: "extended", title: "Request contact" },
  async handler(ctx, input: RequestContactInput) {
    const address = parseAddress(input.to_agent);
    const target = await locate(ctx, address.name, address.projectIdent ?? input.to_project, {
      agent: "to_agent",
      project: address.projectIdent ? "to_agent" : "to_project",
    });
    refuseSelf(ctx.agent, target.agent);
    return fileContactRequest(ctx, {
      from: ctx.agent,
      fromProject: ctx.project,
      to: target.agent,
      toProject: target.project,
      reason: input.reason,
      ttlSeconds: input.ttl_seconds,
    });
  },
});

export const respondContact = defineOperation({
  name: "respond_contact",
  description: "Approve (accept=true) or block a contact request from from_agent to you (to_agent). Approval lasts ttl_seconds (default 30 days).",
  input: respondContactInput,
  output: respondContactOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  fields: { agent: "to_agent" },
  tool: { profile: "extended", title: "Respond to contact" },
  async handler(ctx, input: RespondContactInput) {
    const requester = await locate(ctx, input.from_agent, input.from_project, { agent: "from_agent", project: "from_project" });
    refuseSelf(ctx.agent, requester.agent);
    const now = new Date();
    if (input.accept) {
      const expires = await upsertApproval(ctx.db, requester.agent, ctx.agent, linkExpiry(now, input.ttl_seconds), now);
      return { from: requester.agent.name, to: ctx.agent.name, approved: true, expires_ts: isoTsOrNull(expires), updated: 1 };
    }
    const updated = await denyLink(ctx.db, requester.agent, ctx.agent, now);
    return { from: requester.agent.name, to: ctx.agent.name, approved: false, expires_ts: null, updated };
  },
});

export const listContacts = defineOperation({
  name: "list_contacts",
  description: "Your outbound contact links, newest first: {to, to_project, status, is_expired, allows_messaging, reason, updated_ts, expires_ts}.",
  input: listContactsInput,
  output: contactListOutput,
  permission: "read",
  kind: "query",
  scope: "agent",
  tool: { profile: "extended", title: "List contacts" },
  async handler(ctx) {
    const links = await ctx.db.agentLink.findMany({
      where: { aAgentId: ctx.agent.id },
      include: { bAgent: { select: { name: true, project: { select: { humanKey: true } } } } },
      orderBy: [{ updatedTs: "desc" }, { id: "desc" }],
      take: LIST_MAX,
    });
    const now = new Date();
    return links.map((link) => {
      const expired = link.expiresTs !== null && link.expiresTs <= now;
      return {
        to: link.bAgent.name,
        to_project: link.bAgent.project.humanKey,
        status: link.status,
        is_expired: expired,
        allows_messaging: link.status === "approved" && link.expiresTs !== null && !expired,
        reason: link.reason,
        updated_ts: isoTs(link.updatedTs),
        expires_ts: isoTsOrNull(link.expiresTs),
      };
    });
  },
});

export const setContactPolicy = defineOperation({
  name: "set_contact_policy",
  description: "Who may message you: open (anyone), auto (default: links, recent contact, shared threads), contacts_only, block_all (nobody).",
  input: setContactPolicyInput,
  output: contactPolicyOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "extended", title: "Set contact policy", idempotent: true },
  async handler(ctx, input) {
    const policy = normalizePolicy(input.policy);
    await ctx.db.agent.update({ where: { id: ctx.agent.id }, data: { contactPolicy: policy } });
    return { agent: ctx.agent.name, policy };
  },
});

export const contactOperations = { requestContact, respondContact, listContacts, setContactPolicy } as const;
