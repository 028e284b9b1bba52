import type { DomainSamples } from ".";

export const buildSlotSamples: DomainSamples = {
  expected: {},
  samples: async () => ({ inputs: {} }),
};
