import { hkdfSync } from "node:crypto";
import { env } from "@/env";

// How callers prove who they are. Local mode (no JWT_SECRET and no JWT_JWKS_URL) is for one
// person on a laptop: the server must listen on a loopback address and every caller is the
// machine's operator. Configuring a secret or a JWKS URL ends it: every caller then needs a bearer
// token or a dashboard session, loopback included.

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  name: string;
  /** Role of an OIDC user without an account; undefined: only existing users sign in. */
  defaultRole?: "reader" | "writer" | "admin";
}

export interface AuthConfig {
  mode: "local" | "tokens";
  /** HS256 secret (JWT_SECRET). */
  secret?: string;
  /** Remote key set (JWT_JWKS_URL). */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Encrypts dashboard session cookies (next-auth): NEXTAUTH_SECRET, or derived from JWT_SECRET. */
  sessionSecret?: string;
  /** How long a dashboard sign-in lasts, in seconds. */
  sessionMaxAgeSeconds?: number;
  /** Session cookies are `Secure` and `__Secure-` named: the server is reached over https (PUBLIC_URL). */
  secureCookies?: boolean;
  oidc?: OidcConfig;
}

/**
 * A key for session cookies derived from JWT_SECRET, so one secret sets up a team server. It is
 * not JWT_SECRET itself: a session key that leaked from the browser side could not sign tokens.
 */
export function deriveSessionSecret(jwtSecret: string): string {
  return Buffer.from(hkdfSync("sha256", jwtSecret, "mailroom", "dashboard sessions", 32)).toString("base64url");
}

export function authConfigFromEnv(): AuthConfig {
  const secured = Boolean(env.JWT_SECRET || env.JWT_JWKS_URL);
  const oidc =
    env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET
      ? { issuer: env.OIDC_ISSUER, clientId: env.OIDC_CLIENT_ID, clientSecret: env.OIDC_CLIENT_SECRET, name: env.OIDC_NAME, defaultRole: env.OIDC_DEFAULT_ROLE }
      : undefined;
  return {
    mode: secured ? "tokens" : "local",
    secret: env.JWT_SECRET,
    jwksUrl: env.JWT_JWKS_URL,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    sessionSecret: env.NEXTAUTH_SECRET ?? (env.JWT_SECRET ? deriveSessionSecret(env.JWT_SECRET) : undefined),
    sessionMaxAgeSeconds: env.SESSION_MAX_AGE_HOURS * 3600,
    secureCookies: env.PUBLIC_URL?.startsWith("https://") ?? false,
    oidc,
  };
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3}|localhost)$/i;

/** Whether a bind address or a peer address is this machine's loopback. */
export function isLoopback(address: string): boolean {
  return LOOPBACK.test(address.replace(/^\[|\]$/g, ""));
}

/** Why the server must not start with these settings, or undefined when it may. */
export function bindRefusal(auth: AuthConfig, hostname: string): string | undefined {
  if (auth.mode !== "local" || isLoopback(hostname)) return undefined;
  return `refusing to listen on ${hostname} in local mode: local mode trusts every caller as admin, so it only listens on loopback (127.0.0.1, ::1). Set JWT_SECRET (openssl rand -hex 32) to require tokens and sign-ins, or set HOSTNAME=127.0.0.1.`;
}

/** What the first lines of the log say about who is trusted. */
export function modeNotice(auth: AuthConfig): string {
  if (auth.mode === "local") {
    return "local mode: no JWT_SECRET or JWT_JWKS_URL is set, so every caller on this machine (loopback) is trusted as admin and the dashboard opens without a sign-in (set JWT_SECRET to require tokens and sign-ins)";
  }
  const keys = [auth.secret ? "HS256 with JWT_SECRET" : "", auth.jwksUrl ? "keys from JWT_JWKS_URL" : ""].filter(Boolean).join(" or ");
  return `bearer tokens (${keys}) or a dashboard sign-in required${auth.oidc ? `; dashboard sign-in also through ${auth.oidc.issuer}` : ""}`;
}
