import type { DomainSamples } from ".";

export const macroSamples: DomainSamples = {
  expected: {},
  samples: async () => ({ inputs: {} }),
};
