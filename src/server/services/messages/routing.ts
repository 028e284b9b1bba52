import type { Agent, Project } from "@/generated/prisma/client";
import { AppError, quote } from "@/server/errors";
import type { ServiceContext } from "../context";
import { detectNameMistake, sanitizeAgentName } from "../agents/names";
import { resolveProject } from "../projects/projects";
import { didYouMean, suggest } from "../similarity";

// Turns recipient strings into agents, grouped by the project each delivery lands in (§3.3):
// plain names resolve in the sender's project (or through an approved contact link elsewhere),
// `project:<slug>#Name` and `Name@<project>` address another project explicitly. Whether each
// recipient may be reached is the contact policy's business (../contacts/enforce.ts).

export type RecipientKind = "to" | "cc" | "bcc";

export interface RoutedDelivery {
  project: Project;
  recipients: { agent: Agent; kind: RecipientKind }[];
}

const KIND_RANK: Record<RecipientKind, number> = { to: 0, cc: 1, bcc: 2 };

export function parseAddress(value: string): { name: string; projectIdent?: string } {
  const explicit = /^project:([^#]+)#(.+)$/.exec(value);
  if (explicit) return { projectIdent: explicit[1]!.trim(), name: explicit[2]!.trim() };
  const at = /^([^@\s]+)@([^@\s]+)$/.exec(value);
  if (at) return { name: at[1]!, projectIdent: at[2]! };
  return { name: value };
}

/** The name as written and its sanitised form (`Blue Lake` → `bluelake`), lower-cased. */
function nameKeys(name: string): string[] {
  return [...new Set([name.toLowerCase(), (sanitizeAgentName(name) ?? name).toLowerCase()])];
}

async function findByName(ctx: ServiceContext, projectId: number, name: string): Promise<Agent | null> {
  return ctx.db.agent.findFirst({ where: { projectId, nameKey: { in: nameKeys(name) } } });
}

/** An agent elsewhere that the sender holds an approved, unexpired contact link to. */
async function findThroughContactLink(ctx: ServiceContext, sender: Agent, name: string): Promise<Agent | null> {
  const link = await ctx.db.agentLink.findFirst({
    where: {
      aAgentId: sender.id,
      status: "approved",
      expiresTs: { gt: new Date() },
      bAgent: { nameKey: name.toLowerCase() },
    },
    include: { bAgent: true },
    orderBy: { updatedTs: "desc" },
  });
  return link?.bAgent ?? null;
}

export async function routeRecipients(
  ctx: ServiceContext,
  senderProject: Project,
  sender: Agent,
  lists: Record<RecipientKind, string[]>,
): Promise<RoutedDelivery[]> {
  const byAgent = new Map<number, { agent: Agent; kind: RecipientKind; project: Project }>();
  const unresolved: string[] = [];
  const projects = new Map<number, Project>([[senderProject.id, senderProject]]);

  // Plain names are looked up in the sender's project in one query, however many there are.
  const plainKeys = [...new Set(Object.values(lists).flat().map(parseAddress).filter((a) => !a.projectIdent).flatMap((a) => nameKeys(a.name)))];
  const localAgents = plainKeys.length
    ? await ctx.db.agent.findMany({ where: { projectId: senderProject.id, nameKey: { in: plainKeys } } })
    : [];
  const localByKey = new Map(localAgents.map((agent) => [agent.nameKey, agent]));

  for (const kind of ["to", "cc", "bcc"] as const) {
    for (const raw of lists[kind]) {
      const address = parseAddress(raw);
      let agent: Agent | null = null;
      let project = senderProject;
      if (address.projectIdent) {
        try {
          project = await resolveProject(ctx, address.projectIdent);
        } catch (error) {
          if (error instanceof AppError && error.code === "NOT_FOUND") {
            unresolved.push(raw);
            continue;
          }
          throw error;
        }
        agent = await findByName(ctx, project.id, address.name);
      } else {
        agent = nameKeys(address.name).map((key) => localByKey.get(key)).find(Boolean) ?? null;
        if (!agent) {
          agent = await findThroughContactLink(ctx, sender, address.name);
          if (agent) project = projects.get(agent.projectId) ?? (await ctx.db.project.findUniqueOrThrow({ where: { id: agent.projectId } }));
        }
      }
      if (!agent) {
        unresolved.push(raw);
        continue;
      }
      projects.set(project.id, project);
      const existing = byAgent.get(agent.id);
      if (!existing || KIND_RANK[kind] < KIND_RANK[existing.kind]) byAgent.set(agent.id, { agent, kind, project });
    }
  }

  if (unresolved.length) await throwUnresolved(ctx, senderProject, unresolved);

  const deliveries = new Map<number, RoutedDelivery>();
  for (const { agent, kind, project } of byAgent.values()) {
    const delivery = deliveries.get(project.id) ?? { project, recipients: [] };
    delivery.recipients.push({ agent, kind });
    deliveries.set(project.id, delivery);
  }
  // The sender's own project first, then the others in the order they were addressed.
  return [...deliveries.values()].sort((a, b) => Number(b.project.id === senderProject.id) - Number(a.project.id === senderProject.id));
}

/** Unresolved recipients an error names (and suggests alternatives for). */
const MAX_REPORTED = 5;

async function throwUnresolved(ctx: ServiceContext, project: Project, unresolved: string[]): Promise<never> {
  for (const raw of unresolved) {
    // `bob@x.com` parses as Name@project; when no such project exists, judge the whole string
    // first so an email address is reported as one (not as the Unix username `bob`).
    const address = parseAddress(raw);
    const whole = address.projectIdent !== undefined && !raw.startsWith("project:") ? detectNameMistake(raw) : undefined;
    const mistake = whole ?? detectNameMistake(address.name);
    if (mistake) throw new AppError(mistake.type, mistake.message, { recipient: quote(raw) });
  }
  // Suggestions cost an edit distance per known name: a few unresolved names are enough to help.
  const shown = unresolved.slice(0, MAX_REPORTED);
  const names = await ctx.db.agent.findMany({ where: { projectId: project.id }, select: { name: true }, take: 1000 });
  const hints = shown.flatMap((raw) => suggest(parseAddress(raw).name, names.map((n) => n.name), 2));
  throw new AppError(
    "RECIPIENT_NOT_FOUND",
    `Unable to send message: recipients ${quote(unresolved.join(", "))} are not registered in project '${project.slug}' ` +
      `(and no approved contact link reaches them). Use resource://agents/${project.slug} to list agents.${didYouMean([...new Set(hints)])}`,
    { recipients: shown.map(quote) },
  );
}
