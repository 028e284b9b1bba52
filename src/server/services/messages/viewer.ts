import type { Agent } from "@/generated/prisma/client";
import { hasRole } from "@/server/auth/actor";
import { AppError } from "@/server/errors";
import type { RecipientRow } from "@/server/db/mail-sql";
import type { ServiceContext } from "../context";

/** Whose eyes a read goes through: an authenticated agent sees its own mail only. */
export type Viewer = { kind: "agent"; agent: Agent } | { kind: "operator" };

export function viewerId(viewer: Viewer): number | null {
  return viewer.kind === "agent" ? viewer.agent.id : null;
}

/** The human overseer's view of a whole project (dashboard); needs the admin role. */
export function operatorViewer(ctx: ServiceContext): Viewer {
  if (!hasRole(ctx.actor, "admin")) throw new AppError("FORBIDDEN", "Reading every agent's mail needs the admin role.");
  return { kind: "operator" };
}

/**
 * to/cc/bcc names of one message as this viewer may see them: bcc names are shown to the sender
 * and the operator; a bcc recipient sees only itself; to/cc recipients see no bcc at all.
 */
export function recipientLists(rows: RecipientRow[], senderId: number, viewer: Viewer) {
  const seesAllBcc = viewer.kind === "operator" || viewer.agent.id === senderId;
  const to: string[] = [];
  const cc: string[] = [];
  const bcc: string[] = [];
  for (const row of rows) {
    if (row.kind === "to") to.push(row.name);
    else if (row.kind === "cc") cc.push(row.name);
    else if (seesAllBcc || (viewer.kind === "agent" && viewer.agent.id === row.agent_id)) bcc.push(row.name);
  }
  return { to, cc, bcc };
}

export function groupByMessage(rows: RecipientRow[]): Map<number, RecipientRow[]> {
  const grouped = new Map<number, RecipientRow[]>();
  for (const row of rows) {
    const list = grouped.get(row.message_id);
    if (list) list.push(row);
    else grouped.set(row.message_id, [row]);
  }
  return grouped;
}
