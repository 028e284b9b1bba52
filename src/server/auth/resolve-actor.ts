import type { Db } from "@/server/db/client";
import { AppError } from "@/server/errors";
import { LOCAL_OPERATOR, canAccessProject, type Actor } from "./actor";
import { isLoopback, type AuthConfig } from "./config";
import { CLIENT_ADDRESS_HEADER } from "@/server/http/client-address";
import { createTokenVerifier, type TokenClaims } from "./jwt";
import { createSessionReader, readCookie, sessionCookieName } from "./sessions";
import { TokenRecords } from "./tokens";

/**
 * The one place that decides who is calling, for MCP, tRPC, SSE and plain routes alike. `db` is
 * needed for tokens bound to an agent (the agent is looked up by project and name).
 */
export type ActorResolver = (request: Request, db: Db) => Promise<Actor>;

const BEARER = /^Bearer +(\S+) *$/i;

function unauthenticated(message: string): AppError {
  return new AppError("AUTHENTICATION_REQUIRED", message, { field: "authorization" });
}

/**
 * How long a bound agent's lookup is reused. A token minted here also names its agent's id, which
 * the revocation check re-reads within a second (so a deleted agent's token fails within one); a
 * token minted elsewhere binds by name, and follows a re-registered name within this.
 */
const BOUND_AGENT_CACHE_MS = 5_000;
const CACHE_LIMIT = 10_000;

interface BoundLookup {
  project: { id: number; slug: string; humanKey: string } | null;
  agent: { id: number; name: string } | null;
}

/**
 * The agent a token is bound to; it must exist and lie within the token's projects. Lookups are
 * reused for BOUND_AGENT_CACHE_MS: an agent sending a stream of mail would otherwise pay two
 * queries per call for a row that almost never changes (docs/benchmarks.md, token mode).
 */
function boundAgents(): (db: Db, claim: NonNullable<TokenClaims["agent"]>, scopes: Actor["projectScopes"]) => Promise<NonNullable<Actor["agent"]>> {
  const cache = new Map<string, BoundLookup & { until: number }>();
  const lookUp = async (db: Db, claim: NonNullable<TokenClaims["agent"]>): Promise<BoundLookup> => {
    const key = `${claim.project}\u0000${claim.name.trim().toLowerCase()}`;
    const now = Date.now();
    const cached = cache.get(key);
    if (cached && cached.until > now) return cached;
    const row = await db.agent.findFirst({
      where: { nameKey: claim.name.trim().toLowerCase(), project: { OR: [{ slug: claim.project }, { humanKey: claim.project }] } },
      select: { id: true, name: true, project: { select: { id: true, slug: true, humanKey: true } } },
    });
    const found: BoundLookup = row ? { project: row.project, agent: { id: row.id, name: row.name } } : { project: null, agent: null };
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, { ...found, until: now + BOUND_AGENT_CACHE_MS });
    return found;
  };
  return async (db, claim, scopes) => {
    const { project, agent } = await lookUp(db, claim);
    if (!project || !agent) throw unauthenticated(`Invalid bearer token: it is bound to agent '${claim.name}' in project '${claim.project}', which does not exist.`);
    if (!canAccessProject({ ...LOCAL_OPERATOR, projectScopes: scopes }, project)) {
      throw unauthenticated("Invalid bearer token: its agent's project is outside its projects claim.");
    }
    return { id: agent.id, projectId: project.id, name: agent.name };
  };
}

export function createActorResolver(auth: AuthConfig): ActorResolver {
  if (auth.mode === "local") {
    // Bearer credentials are refused rather than ignored, so a client that believes it is
    // authenticating finds out it is not.
    return async (request) => {
      // Behind a proxy on this machine every caller looks local: local mode is for a laptop, and
      // bindRefusal keeps it off any other interface. The header is absent under `next dev`.
      const address = request.headers.get(CLIENT_ADDRESS_HEADER);
      if (address && !isLoopback(address)) {
        throw new AppError("FORBIDDEN", "This server is in local mode and answers this machine only; set JWT_SECRET to serve other machines.");
      }
      if (request.headers.get("authorization")) {
        throw unauthenticated("Bearer credentials are not accepted by this server (local mode: no JWT_SECRET is set); remove the Authorization header.");
      }
      return LOCAL_OPERATOR;
    };
  }
  const verify = createTokenVerifier(auth);
  const records = new TokenRecords();
  const readSession = createSessionReader(auth);
  const boundAgent = boundAgents();
  return async (request, db) => {
    const authorization = request.headers.get("authorization");
    if (!authorization) {
      const cookie = readCookie(request.headers.get("cookie"), sessionCookieName(auth));
      if (cookie) return readSession(cookie, db);
      throw unauthenticated("This server requires a bearer token (send the header Authorization: Bearer <token>) or a dashboard sign-in.");
    }
    const match = BEARER.exec(authorization);
    if (!match) throw unauthenticated("The Authorization header must be of the form Bearer <token>.");
    const { claims, roles } = await verify(match[1]!);
    const record = claims.jti ? await records.get(db, claims.jti) : undefined;
    if (record?.revoked) throw unauthenticated("Invalid bearer token: it has been revoked.");
    const projectScopes = claims.projects ?? "*";
    const actor: Actor = { principal: `token:${claims.jti ?? claims.sub}`, kind: "token", roles, projectScopes, expiresAt: claims.exp };
    if (claims.agent) {
      actor.agent = await boundAgent(db, claims.agent, projectScopes);
      // A token minted here names its agent by id too: a deleted agent's token does not pass for
      // a later agent registered under the same name.
      if (record?.known && record.agentId !== actor.agent.id) throw unauthenticated("Invalid bearer token: the agent it was bound to no longer exists.");
    }
    return actor;
  };
}
