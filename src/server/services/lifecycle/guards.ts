import type { Agent, Project } from "@/generated/prisma/client";
import { AppError } from "@/server/errors";

// What retirement and archiving mean for writers. Every delivery (send_message, reply_message,
// the macros, overseer mail, contact-request mail) passes through these checks in deliver();
// retired recipients are refused by contact enforcement (contacts/enforce.ts).

/** An archived project takes no new mail, as sender's project or as a cross-project target. */
export function assertProjectOpen(project: Pick<Project, "slug" | "archivedAt">): void {
  if (project.archivedAt) {
    throw new AppError("PROJECT_ARCHIVED", `Project '${project.slug}' is archived and takes no new mail; unarchive_project reopens it.`, {
      project: project.slug,
    });
  }
}

/**
 * A retired agent cannot send (unretire_agent brings it back) and an archived project takes no
 * new mail (unarchive_project reopens it). Reads stay open in both cases.
 */
export function assertMaySend(project: Pick<Project, "slug" | "archivedAt">, sender: Pick<Agent, "name" | "retiredAt">): void {
  assertProjectOpen(project);
  if (sender.retiredAt) {
    throw new AppError("AGENT_RETIRED", `Agent '${sender.name}' is retired and cannot send; unretire_agent brings it back.`, {
      agent: sender.name,
    });
  }
}
