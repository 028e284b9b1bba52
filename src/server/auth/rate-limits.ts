import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Database } from "@/server/db/client";
import { AppError } from "@/server/errors";

// Rate limits per operation class, keyed by principal (a token's jti or subject), and of failed
// authentications keyed by client address. On Postgres the counters live in `rate_limits`, so
// every instance on the database counts against the same budget; on the embedded database, in
// memory. A store that fails lets calls through on an in-memory count (the insurance limiter):
// a broken limiter must not stop mail. Local mode has one principal, the machine's operator, and
// is not limited.

export const LIMIT_CLASSES = ["reads", "writes", "search", "auth_failures"] as const;
export type LimitClass = (typeof LIMIT_CLASSES)[number];

/** Calls allowed per minute for each class; 0 turns the class off. */
export type RateLimitConfig = Record<LimitClass, number>;

const WINDOW_S = 60;

export interface RateLimits {
  /** Counts one call of `limit` for `key`; RATE_LIMITED (with retry_after_seconds) once over. */
  consume(limit: LimitClass, key: string): Promise<void>;
  /** RATE_LIMITED when `key` has no call of `limit` left; counts nothing (a login checks before it hashes). */
  check(limit: LimitClass, key: string): Promise<void>;
}

export function createRateLimits(config: RateLimitConfig, database: Pick<Database, "kind" | "pool">): RateLimits {
  const limiters = new Map<LimitClass, RateLimiterAbstract>();
  for (const limit of LIMIT_CLASSES) {
    const points = config[limit];
    if (points <= 0) continue;
    const options = { keyPrefix: `mailroom:${limit}`, points, duration: WINDOW_S };
    limiters.set(
      limit,
      database.kind === "postgres" && database.pool
        ? new RateLimiterPostgres({ ...options, storeClient: database.pool, tableName: "rate_limits", tableCreated: true, clearExpiredByTimeout: true, insuranceLimiter: new RateLimiterMemory(options) })
        : new RateLimiterMemory(options),
    );
  }
  const limited = (limit: LimitClass, state: RateLimiterRes) => {
    const retry = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
    return new AppError("RATE_LIMITED", `Rate limit '${limit}' reached: ${config[limit]} per minute; retry in ${retry} s.`, { limit, retry_after_seconds: retry });
  };
  return {
    async consume(limit, key) {
      const limiter = limiters.get(limit);
      if (!limiter) return;
      try {
        await limiter.consume(key);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        throw limited(limit, rejection);
      }
    },
    async check(limit, key) {
      const limiter = limiters.get(limit);
      // A store that cannot be read lets the attempt through, as consume's insurance does.
      const state = limiter ? await limiter.get(key).catch(() => null) : null;
      if (state && state.consumedPoints >= config[limit]) throw limited(limit, state);
    },
  };
}

/** The class an operation's calls count against. */
export function limitClassOf(operation: { name: string; kind: "query" | "mutation" }): LimitClass {
  if (operation.name === "search_messages" || operation.name === "dashboard_search") return "search";
  return operation.kind === "mutation" ? "writes" : "reads";
}
