import type { DomainSamples } from ".";

// GreenLake reserves and renews its own paths (repeatable: a re-reservation updates the same row).
// force_release targets a reservation of BlueDog's that has already ended, which succeeds every
// time (`already_released`) without depending on anyone's activity.
export const reservationSamples: DomainSamples = {
  expected: {
    file_reservation_paths: "write",
    check_file_reservation_conflicts: "read",
    release_file_reservations: "write",
    renew_file_reservations: "write",
    force_release_file_reservation: "admin",
    "resource://file_reservations": "read",
  },
  samples: async ({ db, projectKey, agents }) => {
    const project = await db.prisma.project.findFirstOrThrow({ where: { humanKey: projectKey } });
    const ended = await db.prisma.fileReservation.create({
      data: { projectId: project.id, agentId: agents.BlueDog.id, pathPattern: "matrix/old/**", expiresTs: new Date(Date.now() - 60_000), releasedTs: new Date() },
    });
    const green = { project_key: projectKey, agent_name: "GreenLake", registration_token: agents.GreenLake.token };
    return {
      inputs: {
        file_reservation_paths: { ...green, paths: ["matrix/src/**", "tool://matrix-deploy"], ttl_seconds: 600, reason: "matrix" },
        check_file_reservation_conflicts: { ...green, paths: ["matrix/src/app.py"] },
        release_file_reservations: { ...green, paths: ["matrix/none/**"] },
        renew_file_reservations: { ...green, extend_seconds: 120 },
        force_release_file_reservation: { ...green, file_reservation_id: ended.id, notify_previous: false },
        "resource://file_reservations": { project_key: projectKey, active_only: false },
      },
    };
  },
};
