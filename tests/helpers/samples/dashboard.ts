import type { DomainSamples } from ".";

// The overseer's console (tRPC dashboard.*, no MCP surface). dashboard_mail is global: its sample
// is the unified list (no project_key), so that an out-of-scope caller is allowed and sees only
// its own projects' mail. dashboard_force_release uses up an active reservation per allowed call:
// each gets a new one of BlueDog's, live and not stale (BlueDog was active just now), and the
// holder is told (notify_previous defaults to true), so the whole path runs in every cell.

let forced = 0;

export const dashboardSamples: DomainSamples = {
  expected: {
    dashboard_project: "read",
    dashboard_mail: "admin",
    dashboard_receipts: "admin",
    dashboard_force_release: "admin",
  },
  samples: async ({ db, projectKey, agents, messageId }) => {
    const project = await db.prisma.project.findFirstOrThrow({ where: { humanKey: projectKey } });
    const reserve = () =>
      db.prisma.fileReservation.create({
        data: { projectId: project.id, agentId: agents.BlueDog.id, pathPattern: `matrix/forced-${(forced += 1)}/**`, expiresTs: new Date(Date.now() + 3_600_000) },
      });
    const first = await reserve();
    return {
      inputs: {
        dashboard_project: { project_key: projectKey },
        dashboard_mail: { limit: 50 },
        dashboard_receipts: { project_key: projectKey, message_id: messageId },
        dashboard_force_release: { project_key: projectKey, file_reservation_id: first.id, note: "matrix" },
      },
      fresh: {
        dashboard_force_release: async () => ({ project_key: projectKey, file_reservation_id: (await reserve()).id, note: "matrix" }),
      },
    };
  },
};
