import type { DomainSamples } from ".";

export const buildSlotSamples: DomainSamples = {
  expected: {
    acquire_build_slot: "write",
    renew_build_slot: "write",
    release_build_slot: "write",
  },
  samples: async ({ projectKey, agents }) => {
    const slot = { project_key: projectKey, agent_name: "GreenLake", registration_token: agents.GreenLake.token, slot: "matrix-build" };
    return {
      inputs: {
        acquire_build_slot: { ...slot, ttl_seconds: 600, exclusive: true },
        renew_build_slot: { ...slot, extend_seconds: 600 },
        release_build_slot: slot,
      },
    };
  },
};
