import type { DomainSamples } from ".";

export const productSamples: DomainSamples = {
  expected: {},
  samples: async () => ({ inputs: {} }),
};
