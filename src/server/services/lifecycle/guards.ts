import type { Agent, Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";

// What retirement and archiving mean for writers. The send path (send_message, reply_message,
// the macros) calls this before delivering; recipients that are retired are refused by routing.

/**
 * A retired agent cannot send (unretire_agent brings it back) and an archived project takes no
 * new mail (unarchive_project reopens it). Reads stay open in both cases.
 */
export function assertMaySend(project: Pick<Project, "slug" | "archivedAt">, sender: Pick<Agent, "name" | "retiredAt">): void {
  if (project.archivedAt) {
    throw new AppError("PROJECT_ARCHIVED", `Project '${project.slug}' is archived and takes no new mail; unarchive_project reopens it.`, {
      project: project.slug,
    });
  }
  if (sender.retiredAt) {
    throw new AppError("AGENT_RETIRED", `Agent '${sender.name}' is retired and cannot send; unretire_agent brings it back.`, {
      agent: sender.name,
    });
  }
}
