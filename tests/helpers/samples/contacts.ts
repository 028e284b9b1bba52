import type { DomainSamples } from ".";

export const contactSamples: DomainSamples = {
  expected: {},
  samples: async () => ({ inputs: {} }),
};
