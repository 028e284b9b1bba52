import { createHash, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import type { Db } from "@/server/db/client";
import { AppError } from "@/server/errors";
import type { AuthConfig } from "./config";
import type { TokenClaims } from "./jwt";

// Tokens Mailroom mints (HS256 with JWT_SECRET) are stored by id, jti and sha256, never in
// clear: the token is shown once. Revocation is by jti, for minted tokens and for tokens minted
// elsewhere alike (those get a row when revoked). Every instance reads revocations from the
// database, through a cache whose entries live REVOCATION_CACHE_MS: a revoked token is refused
// everywhere within that.

export const REVOCATION_CACHE_MS = 1_000;
const CACHE_LIMIT = 10_000;

export interface MintRequest {
  name: string;
  roles: TokenClaims["roles"];
  projects?: string[];
  agent?: { project: string; name: string; id?: number };
  /** Seconds until it expires; undefined: never (revocation still ends it). */
  expiresInSeconds?: number;
  /** The dashboard user who created it: disabling them revokes it. */
  userId?: number;
}

export interface MintedToken {
  id: number;
  jti: string;
  token: string;
  expires_at: string | null;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Signs a token with the server's secret and records it; refuses when there is no secret to sign with. */
export async function mintToken(db: Db, auth: AuthConfig, request: MintRequest): Promise<MintedToken> {
  if (!auth.secret) {
    throw new AppError("CONFIGURATION_ERROR", "Minting tokens needs JWT_SECRET on the server (tokens from JWT_JWKS_URL are issued by their identity provider).");
  }
  const jti = randomUUID();
  const claims: Record<string, unknown> = { roles: request.roles };
  if (request.projects) claims.projects = request.projects;
  if (request.agent) claims.agent = { project: request.agent.project, name: request.agent.name };
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(request.name).setJti(jti).setIssuedAt();
  if (auth.issuer) jwt = jwt.setIssuer(auth.issuer);
  if (auth.audience) jwt = jwt.setAudience(auth.audience);
  const expiresAt = request.expiresInSeconds ? new Date(Date.now() + request.expiresInSeconds * 1000) : null;
  if (expiresAt) jwt = jwt.setExpirationTime(Math.floor(expiresAt.getTime() / 1000));
  const token = await jwt.sign(new TextEncoder().encode(auth.secret));
  const row = await db.apiToken.create({
    data: {
      name: request.name,
      jti,
      tokenHash: sha256(token),
      roles: request.roles,
      projectScopes: request.projects ?? [],
      agentId: request.agent?.id,
      userId: request.userId,
      expiresAt,
    },
    select: { id: true },
  });
  return { id: row.id, jti, token, expires_at: expiresAt?.toISOString() ?? null };
}

/** What the database says of a jti: unknown (minted elsewhere, never revoked), or its row. */
export interface TokenRecord {
  known: boolean;
  revoked: boolean;
  /** The agent a token minted here was bound to; null once that agent was deleted. */
  agentId: number | null;
}

/** How often the records of tokens in use are re-read, all in one query. */
const REFRESH_MS = 400;
/** A token unused this long is dropped from the cache (and from the refresh). */
const IDLE_MS = 10_000;

interface Entry extends TokenRecord {
  /** Valid until: the time its read started plus REVOCATION_CACHE_MS. */
  until: number;
  seen: number;
}

/**
 * Token records by jti, as of at most REVOCATION_CACHE_MS ago. Records of the tokens in use are
 * re-read together every REFRESH_MS (one query for all of them, however many agents send), so a
 * busy server does not read each token's row every second per token; a token not in the cache, or
 * whose entry has run out because a refresh was late, is read on its own.
 */
export class TokenRecords {
  private readonly entries = new Map<string, Entry>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private refreshing = false;

  async get(db: Db, jti: string): Promise<TokenRecord> {
    const now = Date.now();
    const cached = this.entries.get(jti);
    if (cached && cached.until > now) {
      cached.seen = now;
      return cached;
    }
    const row = await db.apiToken.findUnique({ where: { jti }, select: { revokedAt: true, agentId: true } });
    const record = { known: row !== null, revoked: row?.revokedAt != null, agentId: row?.agentId ?? null };
    if (this.entries.size >= CACHE_LIMIT) this.entries.clear();
    this.entries.set(jti, { ...record, until: now + REVOCATION_CACHE_MS, seen: now });
    this.timer ??= setInterval(() => void this.refresh(db), REFRESH_MS).unref();
    return record;
  }

  private async refresh(db: Db): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    const started = Date.now();
    try {
      for (const [jti, entry] of this.entries) if (started - entry.seen > IDLE_MS) this.entries.delete(jti);
      if (this.entries.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      const jtis = [...this.entries.keys()];
      const rows = await db.apiToken.findMany({ where: { jti: { in: jtis } }, select: { jti: true, revokedAt: true, agentId: true } });
      const found = new Map(rows.map((row) => [row.jti, row]));
      for (const jti of jtis) {
        const entry = this.entries.get(jti);
        if (!entry) continue;
        const row = found.get(jti);
        Object.assign(entry, { known: row !== undefined, revoked: row?.revokedAt != null, agentId: row?.agentId ?? null, until: started + REVOCATION_CACHE_MS });
      }
    } catch {
      // A failed refresh leaves the entries to run out: each token is then read on its own.
    } finally {
      this.refreshing = false;
    }
  }
}
