import { env } from "@/env";

// How callers prove who they are. Local mode (no JWT_SECRET and no JWT_JWKS_URL) is for one
// person on a laptop: the server listens on 127.0.0.1 by default and every caller is the
// machine's operator. Configuring a secret or a JWKS URL ends it: every caller then needs a bearer
// token, loopback included.

export interface AuthConfig {
  mode: "local" | "tokens";
  /** HS256 secret (JWT_SECRET). */
  secret?: string;
  /** Remote key set (JWT_JWKS_URL). */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

export function authConfigFromEnv(): AuthConfig {
  const secured = Boolean(env.JWT_SECRET || env.JWT_JWKS_URL);
  return { mode: secured ? "tokens" : "local", secret: env.JWT_SECRET, jwksUrl: env.JWT_JWKS_URL, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE };
}

/** What the first lines of the log say about who is trusted. */
export function modeNotice(auth: AuthConfig): string {
  if (auth.mode === "local") {
    return "local mode: no JWT_SECRET or JWT_JWKS_URL is set, so every caller that reaches this server is trusted as admin (set JWT_SECRET to require tokens)";
  }
  return `bearer tokens required (${auth.secret ? "HS256 with JWT_SECRET" : ""}${auth.secret && auth.jwksUrl ? " or " : ""}${auth.jwksUrl ? "keys from JWT_JWKS_URL" : ""})`;
}
