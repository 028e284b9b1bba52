import type { DomainSamples } from ".";

/** The matrix server's token secret: create_token needs one to sign with. */
export const MATRIX_JWT_SECRET = "permission-matrix-secret-0123456789abcdef";

let revoked = 0;

export const tokenSamples: DomainSamples = {
  expected: {
    create_token: "admin",
    list_tokens: "admin",
    revoke_token: "admin",
  },
  samples: async ({ projectKey }) => ({
    inputs: {
      create_token: { name: "matrix", roles: ["reader"], projects: [projectKey], agent: { project: projectKey, name: "GreenLake" }, expires_in_seconds: 3600 },
      list_tokens: { include_revoked: true },
      revoke_token: { jti: "matrix-jti" },
    },
    // Revoking twice is harmless, but each allowed call should change something: a new jti each time.
    fresh: { revoke_token: async () => ({ jti: `matrix-jti-${(revoked += 1)}` }) },
  }),
};
