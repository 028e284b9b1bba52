import type { DomainSamples } from ".";

export const toolingSamples: DomainSamples = {
  expected: {
    "resource://tooling/directory": "read",
    "resource://tooling/schemas": "read",
    "resource://tooling/metrics": "read",
    "resource://tooling/locks": "read",
    "resource://tooling/capabilities": "read",
    "resource://tooling/recent": "read",
    "resource://identity": "read",
  },
  samples: async ({ projectKey }) => ({
    inputs: {
      "resource://tooling/directory": {},
      "resource://tooling/schemas": {},
      "resource://tooling/metrics": {},
      "resource://tooling/locks": {},
      "resource://tooling/capabilities": { agent: "GreenLake", project: projectKey },
      "resource://tooling/recent": { window_seconds: "300", agent: "GreenLake", project: projectKey },
      "resource://identity": { project_key: projectKey },
    },
  }),
};
