import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import { AppError } from "@/server/errors";
import type { Role } from "./actor";
import type { AuthConfig } from "./config";

// Bearer tokens for agents and tools: JWTs signed with JWT_SECRET (HS256) or by keys from
// JWT_JWKS_URL (fetched once, cached, fetched again when a token names a key it has not seen:
// rotation). The claims are a contract outside tools rely on: `sub`, `roles` (reader, writer,
// admin), `projects` (slugs or human keys; absent means all), `agent` ({project, name}), `jti`,
// `exp`. A token minted elsewhere with the same secret and these claims works here.

/** Asymmetric algorithms a JWKS may use; HS256 only with the shared secret, never from a key set. */
const JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];
/** Clock skew allowed between the token's issuer and this server. */
const CLOCK_TOLERANCE_S = 30;
/** Longer bearer values are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;

export const TOKEN_ROLES = ["reader", "writer", "admin"] as const;
const ROLE_OF: Record<(typeof TOKEN_ROLES)[number], Role> = { reader: "read", writer: "write", admin: "admin" };

export const tokenClaims = z.object({
  sub: z.string().min(1).max(200),
  roles: z.array(z.enum(TOKEN_ROLES)).min(1).max(3),
  projects: z.array(z.string().min(1).max(500)).max(1000).optional(),
  agent: z.strictObject({ project: z.string().min(1).max(500), name: z.string().min(1).max(128) }).optional(),
  jti: z.string().min(1).max(200).optional(),
  exp: z.number().int().optional(),
});

export type TokenClaims = z.infer<typeof tokenClaims>;

export interface VerifiedToken {
  claims: TokenClaims;
  roles: Set<Role>;
}

export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

function invalid(reason: string): AppError {
  return new AppError("AUTHENTICATION_REQUIRED", `Invalid bearer token: ${reason}.`, { field: "authorization" });
}

/** One line a client can act on, never the token or the key. */
function describe(error: unknown): AppError {
  const code = (error as { code?: string }).code;
  const claim = (error as { claim?: string }).claim;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return invalid("it has expired");
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return invalid("its signature does not verify");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return invalid(claim === "aud" ? "wrong audience" : claim === "iss" ? "wrong issuer" : claim === "exp" ? "it has no exp (expiry) claim" : `the ${claim ?? "unspecified"} claim is not valid now`);
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return invalid("its signing algorithm is not accepted");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return invalid("no key of JWT_JWKS_URL matches it");
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
      return new AppError("AUTH_UNAVAILABLE", "The token's key set (JWT_JWKS_URL) cannot be read right now; try again.");
    default:
      return invalid("it is not a well-formed JWT");
  }
}

export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  const secret = config.secret ? new TextEncoder().encode(config.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = config.jwksUrl ? createRemoteJWKSet(new URL(config.jwksUrl)) : undefined;
  const options = { issuer: config.issuer, audience: config.audience, clockTolerance: CLOCK_TOLERANCE_S };

  async function verifyPayload(token: string): Promise<JWTPayload> {
    // The header decides which key applies: HS256 is only ever checked against the secret.
    const header = token.split(".", 1)[0] ?? "";
    let alg: unknown;
    try {
      alg = (JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as { alg?: unknown }).alg;
    } catch {
      throw invalid("it is not a well-formed JWT");
    }
    if (alg === "HS256" && secret) return (await jwtVerify(token, secret, { ...options, algorithms: ["HS256"] })).payload;
    if (jwks && typeof alg === "string" && JWKS_ALGORITHMS.includes(alg)) {
      try {
        // An outside issuer's tokens must expire: Mailroom cannot revoke what it never saw minted.
        return (await jwtVerify(token, jwks, { ...options, algorithms: JWKS_ALGORITHMS, requiredClaims: ["exp"] })).payload;
      } catch (error) {
        // The key set could not be fetched or read (network, HTTP status, not JSON): the identity
        // provider's trouble, not a bad token.
        const code = (error as { code?: string }).code;
        if (code === undefined || code === "ERR_JOSE_GENERIC") throw new AppError("AUTH_UNAVAILABLE", "The token's key set (JWT_JWKS_URL) cannot be read right now; try again.");
        throw error;
      }
    }
    throw invalid("its signing algorithm is not accepted");
  }

  return async (token) => {
    if (token.length > MAX_TOKEN_LENGTH) throw invalid(`longer than ${MAX_TOKEN_LENGTH} characters`);
    let payload: JWTPayload;
    try {
      payload = await verifyPayload(token);
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw describe(error);
    }
    const parsed = tokenClaims.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw invalid(`claim '${issue.path.join(".") || "(payload)"}' ${issue.message}`);
    }
    return { claims: parsed.data, roles: new Set(parsed.data.roles.map((role) => ROLE_OF[role])) };
  };
}
