import type { DomainSamples } from ".";

export const reservationSamples: DomainSamples = {
  expected: {},
  samples: async () => ({ inputs: {} }),
};
