import type { DomainSamples } from ".";

export const toolingSamples: DomainSamples = {
  expected: {},
  samples: async () => ({ inputs: {} }),
};
