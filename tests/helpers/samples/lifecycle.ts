import type { DomainSamples } from ".";

export const lifecycleSamples: DomainSamples = {
  expected: {},
  samples: async () => ({ inputs: {} }),
};
