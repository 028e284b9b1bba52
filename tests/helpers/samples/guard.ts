import type { DomainSamples } from ".";

export const guardSamples: DomainSamples = {
  expected: {},
  samples: async () => ({ inputs: {} }),
};
