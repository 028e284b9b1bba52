import Redis from "ioredis";
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Database } from "@/server/db/client";
import { AppError } from "@/server/errors";

// Rate limits per operation class, keyed by principal (a token's jti or subject), and of failed
// authentications keyed by client address. With REDIS_URL the counters live in Redis; else on
// Postgres in `rate_limits`; either way every instance counts against the same budget. On the
// embedded database (one process), in memory. A store that fails lets calls through on an in-memory count (the insurance limiter):
// a broken limiter must not stop mail. Local mode has one principal, the machine's operator, and
// is not limited.

export const LIMIT_CLASSES = ["reads", "writes", "search", "auth_failures"] as const;
export type LimitClass = (typeof LIMIT_CLASSES)[number];

/** Calls allowed per minute for each class; 0 turns the class off. */
export type RateLimitConfig = Record<LimitClass, number>;

const WINDOW_S = 60;

/** Where counters are kept beyond the database's choice: Redis, when REDIS_URL is set. */
export interface RateLimitStore {
  redisUrl?: string;
}

export interface RateLimits {
  /** Counts one call of `limit` for `key`; RATE_LIMITED (with retry_after_seconds) once over. */
  consume(limit: LimitClass, key: string): Promise<void>;
  /** RATE_LIMITED when `key` has no call of `limit` left; counts nothing. */
  check(limit: LimitClass, key: string): Promise<void>;
  /**
   * Gives back one call counted by `consume`: a sign-in counts as a failure before its password is
   * checked (so concurrent guesses cannot all pass a check first), and a right one is given back.
   */
  refund(limit: LimitClass, key: string): Promise<void>;
  /** Closes the store's connection (Redis); the database's pool is the database's to close. */
  close(): Promise<void>;
}

export function createRateLimits(config: RateLimitConfig, database: Pick<Database, "kind" | "pool">, store: RateLimitStore = {}): RateLimits {
  const limiters = new Map<LimitClass, RateLimiterAbstract>();
  const active = LIMIT_CLASSES.filter((limit) => config[limit] > 0);
  // No offline queue: while Redis is unreachable, calls fail at once and the insurance limiter
  // counts instead of requests waiting for a reconnect.
  const redis = store.redisUrl && active.length ? new Redis(store.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false }) : undefined;
  // An unreachable Redis is reported by the insurance limiter taking over, not by an error per retry.
  redis?.on("error", () => {});
  for (const limit of active) {
    const options = { keyPrefix: `mailroom:${limit}`, points: config[limit], duration: WINDOW_S };
    const insuranceLimiter = new RateLimiterMemory(options);
    limiters.set(
      limit,
      redis
        ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter })
        : database.kind === "postgres" && database.pool
          ? new RateLimiterPostgres({ ...options, storeClient: database.pool, tableName: "rate_limits", tableCreated: true, clearExpiredByTimeout: true, insuranceLimiter })
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
    async refund(limit, key) {
      await limiters.get(limit)?.reward(key, 1).catch(() => undefined);
    },
    async close() {
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * The key failed authentications count against for a client address: IPv6 clients are keyed by
 * their /64, which one host can usually rotate through at will.
 */
export function clientKey(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
  if (!plain.includes(":")) return plain;
  const [head = "", tail] = plain.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups.slice(0, 4).join(":")}::/64`;
}

/** The class an operation's calls count against. */
export function limitClassOf(operation: { name: string; kind: "query" | "mutation" }): LimitClass {
  if (operation.name === "search_messages" || operation.name === "dashboard_search") return "search";
  return operation.kind === "mutation" ? "writes" : "reads";
}
