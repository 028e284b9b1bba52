import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { SignJWT } from "jose";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type Cluster } from "./support/cluster";
import { callTool, connectMcp, uniqueProjectPath, type ProjectResult } from "./support/mcp";

// Three instances of the built app in token mode on one Postgres database: a token revoked through
// one instance is refused by all of them within a second, and a per-token write limit of N a minute
// holds for the three together (N + k calls spread over them: exactly k refused).
// Postgres only (the embedded database belongs to one process): skipped without E2E_DATABASE_URL.
//
// No time limits: "within a second" is checked on the mechanism, not on how fast anything answers.
// Every request sent one second (plus a margin for the clock's rounding) after the revocation was
// acknowledged must be refused, however long it then takes to answer; the instances are polled
// without pause from before the revocation, so each holds a fresh "not revoked" answer when it lands.

const POSTGRES = process.env.E2E_DATABASE_URL;
const INSTANCES = 3;
/** A fixed test secret (JWT_SECRET needs at least 32 characters). */
const SECRET = "e2e-multi-instance-secret-0123456789abcd";
/** The limit under test (RATE_LIMIT_WRITES_PER_MINUTE) and the calls past it. */
const WRITES_PER_MINUTE = 30;
const EXTRA_WRITES = 7;
/** Write calls in flight at once: enough to finish the burst quickly, few for a 2-core machine. */
const WRITE_CONCURRENCY = 5;
/** The promise: a revoked token is refused everywhere within a second of the revocation. */
const REVOCATION_BOUND_MS = 1_000;
/** Date.now() rounds to the millisecond in the test and in each server: a margin well above that. */
const CLOCK_MARGIN_MS = 100;
/** Pause between one instance's probes while the revocation is watched. */
const PROBE_GAP_MS = 25;
/** Probes each instance must have answered with the token before it is revoked. */
const WARM_PROBES = 3;

let cluster: Cluster | undefined;
let admin: string;
const mcpClients: Client[] = [];

const serverUrl = (instance: number) => cluster!.servers[instance]!.url;

/** A token minted outside Mailroom: same secret, the documented claims (sub, roles, jti, exp). */
function mintOutside(claims: { sub: string; roles: string[] }, secret = SECRET): Promise<string> {
  return new SignJWT({ roles: claims.roles })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(secret));
}

interface TrpcError {
  message: string;
  data?: { code?: string; httpStatus?: number; appCode?: string };
}
interface TrpcAnswer<T> {
  status: number;
  headers: Headers;
  data?: T;
  error?: TrpcError;
}

/** One tRPC call on the wire (no batching, no transformer): a query is a GET with ?input=, a mutation a POST of the input. */
async function trpc<T>(baseUrl: string, path: string, token: string, kind: "query" | "mutation", input: unknown): Promise<TrpcAnswer<T>> {
  const url = new URL(`/api/trpc/${path}`, baseUrl);
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let init: RequestInit = { headers };
  if (kind === "query") url.searchParams.set("input", JSON.stringify(input));
  else init = { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(input) };
  const response = await fetch(url, init);
  const body = (await response.json()) as { result?: { data: T }; error?: TrpcError };
  return { status: response.status, headers: response.headers, data: body.result?.data, error: body.error };
}

/** A tRPC call that must succeed: its data. */
async function trpcOk<T>(baseUrl: string, path: string, token: string, kind: "query" | "mutation", input: unknown): Promise<T> {
  const answer = await trpc<T>(baseUrl, path, token, kind, input);
  if (answer.status !== 200) throw new Error(`${path} on ${baseUrl} answered ${answer.status}: ${JSON.stringify(answer.error)}`);
  return answer.data!;
}

interface CreatedToken {
  id: number;
  jti: string;
  token: string;
  expires_at: string | null;
}

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const connection = new pg.Client({ connectionString: cluster!.databaseUrl });
  await connection.connect();
  try {
    return (await connection.query<T>(text, values)).rows;
  } finally {
    await connection.end();
  }
}

/** Runs `run` over `items`, at most `width` at a time; results in the items' order. */
async function inParallel<T, R>(items: readonly T[], width: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await run(items[index]!);
      }
    }),
  );
  return results;
}

/** One look at whether an instance accepts a token: the status of a read (tRPC system.health). */
interface Probe {
  sentAt: number;
  answeredAt: number;
  status: number;
  message?: string;
}

async function probe(baseUrl: string, token: string): Promise<Probe> {
  const sentAt = Date.now();
  const answer = await trpc(baseUrl, "system.health", token, "query", {});
  return { sentAt, answeredAt: Date.now(), status: answer.status, message: answer.error?.message };
}

describe.skipIf(!POSTGRES || process.env.E2E_BASE_URL)("three instances on one Postgres database, token mode", () => {
  beforeAll(async () => {
    cluster = await startCluster(POSTGRES!, INSTANCES, {
      JWT_SECRET: SECRET,
      RATE_LIMIT_WRITES_PER_MINUTE: String(WRITES_PER_MINUTE),
      // The revocation test polls: reads, and the revoked token's refusals (failed authentications
      // from 127.0.0.1, 429 past their limit), must not be limited here.
      RATE_LIMIT_READS_PER_MINUTE: "1000000",
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: "1000000",
    });
    admin = await mintOutside({ sub: "e2e-admin", roles: ["admin"] });
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail" && cluster) console.error(cluster.output());
  });

  afterAll(async () => {
    for (const mcp of mcpClients) await mcp.close();
    await cluster?.stop();
  });

  it("an admin token minted outside Mailroom with the same secret works on every instance; one signed with another secret does not", async () => {
    for (let instance = 0; instance < INSTANCES; instance += 1) {
      const listed = await trpc<{ tokens: unknown[] }>(serverUrl(instance), "tokens.list", admin, "query", { include_revoked: true });
      expect(listed.status, JSON.stringify(listed.error)).toBe(200);
      expect(Array.isArray(listed.data!.tokens)).toBe(true);
    }
    const forged = await mintOutside({ sub: "e2e-admin", roles: ["admin"] }, "another-secret-0123456789abcdefghijklmnop");
    const refused = await trpc(serverUrl(0), "tokens.list", forged, "query", {});
    expect(refused.status).toBe(401);
    expect(refused.error!.message).toMatch(/signature does not verify/);
  });

  it("a token revoked through instance 1 is refused by all three within a second, though each had just accepted it", async () => {
    const created = await trpcOk<CreatedToken>(serverUrl(0), "tokens.create", admin, "mutation", { name: "e2e-revoked", roles: ["reader"], expires_in_seconds: 3600 });
    const token = created.token;
    for (let instance = 0; instance < INSTANCES; instance += 1) expect((await probe(serverUrl(instance), token)).status).toBe(200);

    // Every instance is probed without pause from before the revocation until it has answered a
    // request sent one bound (plus margin) after the revocation was acknowledged.
    const probes: Probe[][] = cluster!.servers.map(() => []);
    const revocation: { acknowledgedAt?: number } = {};
    const watchers = cluster!.servers.map(async (server, instance) => {
      for (;;) {
        const seen = await probe(server.url, token);
        probes[instance]!.push(seen);
        const { acknowledgedAt } = revocation;
        if (acknowledgedAt !== undefined && seen.sentAt >= acknowledgedAt + REVOCATION_BOUND_MS + CLOCK_MARGIN_MS) return;
        await sleep(PROBE_GAP_MS);
      }
    });
    // Warm: each instance has accepted the token a few times, and keeps doing so while the revocation runs.
    while (probes.some((seen) => seen.length < WARM_PROBES)) await sleep(PROBE_GAP_MS);
    const revokeSentAt = Date.now();
    const revoked = await trpcOk<{ jti: string; revoked_at: string; minted_here: boolean }>(serverUrl(1), "tokens.revoke", admin, "mutation", { jti: created.jti });
    const revokedAt = Date.now();
    revocation.acknowledgedAt = revokedAt;
    expect(revoked).toMatchObject({ jti: created.jti, minted_here: true });
    await Promise.all(watchers);

    // What each instance did, printed before the verdict so a failure shows it too.
    const report = probes.map((seen, instance) => {
      const firstRefused = seen.find((entry) => entry.status !== 200);
      const stale = seen.filter((entry) => entry.status === 200 && entry.answeredAt > revokedAt);
      return (
        `instance ${instance}: ${seen.length} probes; ` +
        (firstRefused ? `first refusal answered ${firstRefused.answeredAt - revokedAt} ms after the revocation was acknowledged` : "no refusal while watched") +
        ` (the revoke call took ${revokedAt - revokeSentAt} ms); ${stale.length} acceptance(s) answered after the revocation` +
        (stale.length ? `, the last one sent ${stale.at(-1)!.sentAt - revokedAt} ms after it` : "")
      );
    });
    console.info(`revocation seen across the cluster:\n  ${report.join("\n  ")}`);

    probes.forEach((seen, instance) => {
      const label = `instance ${instance}`;
      // Warm cache: every answer to a request sent before the revocation accepted the token.
      const before = seen.filter((entry) => entry.sentAt < revokeSentAt);
      expect(before.length, label).toBeGreaterThanOrEqual(WARM_PROBES);
      expect(before.map((entry) => entry.status), `${label} refused the token before it was revoked`).toEqual(before.map(() => 200));
      // The bound: every request sent a second (and the margin) or more after the revocation was
      // acknowledged was refused. An instance's cached "not revoked" was read before the revocation
      // committed, so it is gone a second later: nothing here depends on how fast the answers came.
      const after = seen.filter((entry) => entry.sentAt >= revokedAt + REVOCATION_BOUND_MS + CLOCK_MARGIN_MS);
      expect(after.length, label).toBeGreaterThanOrEqual(1);
      expect(
        after.map((entry) => `${entry.sentAt - revokedAt} ms: ${entry.status}`),
        `${label} accepted the revoked token more than ${REVOCATION_BOUND_MS} ms after the revocation (ms after it the request was sent: status)`,
      ).toEqual(after.map((entry) => `${entry.sentAt - revokedAt} ms: 401`));
      // Refused from the first refusal on, for good, as revoked (401, not a rate limit or anything else).
      const firstRefused = seen.findIndex((entry) => entry.status !== 200);
      expect(firstRefused, label).toBeGreaterThanOrEqual(0);
      for (const entry of seen.slice(firstRefused)) {
        expect(entry.status, `${label}: accepted again after a refusal`).toBe(401);
        expect(entry.message, label).toMatch(/revoked/);
      }
    });

    // Every surface refuses it now: MCP too, with the RFC 6750 challenge naming the reason.
    for (let instance = 0; instance < INSTANCES; instance += 1) {
      const response = await fetch(`${serverUrl(instance)}/api/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/error="invalid_token".*revoked/);
    }
    // Revocation goes by jti: the admin token (another jti) still works, and lists it through instance 2 as revoked then.
    const listed = await trpcOk<{ tokens: { jti: string | null; revoked_at: string | null }[] }>(serverUrl(2), "tokens.list", admin, "query", { include_revoked: true });
    expect(listed.tokens.find((entry) => entry.jti === created.jti)?.revoked_at).toBe(revoked.revoked_at);
  });

  it(`a limit of ${WRITES_PER_MINUTE} writes a minute holds across the three: ${WRITES_PER_MINUTE} + ${EXTRA_WRITES} calls spread over them, exactly ${EXTRA_WRITES} refused`, async () => {
    const total = WRITES_PER_MINUTE + EXTRA_WRITES;
    // Each instance gets fewer than the limit: one counting only its own calls would refuse none.
    expect(Math.ceil(total / INSTANCES)).toBeLessThan(WRITES_PER_MINUTE);

    // A fresh principal (its own jti), minted through instance 2: its window opens with its first write.
    const writer = await trpcOk<CreatedToken>(serverUrl(2), "tokens.create", admin, "mutation", { name: "e2e-writer", roles: ["writer"], expires_in_seconds: 3600 });
    const clients = await Promise.all(cluster!.servers.map((server) => connectMcp(server.url, { authorization: `Bearer ${writer.token}` })));
    mcpClients.push(...clients);
    const prefix = uniqueProjectPath("limit");

    // Call i: instance i mod 3, MCP for even i and tRPC for odd i (all six pairs), a write that
    // leaves a trace: ensure_project of a project of its own.
    type Outcome = { call: number; instance: number; surface: "mcp" | "trpc"; outcome: "written" | "refused" | "other"; detail: string };
    const started = Date.now();
    const outcomes = await inParallel(
      Array.from({ length: total }, (_, call) => call),
      WRITE_CONCURRENCY,
      async (call): Promise<Outcome> => {
        const instance = call % INSTANCES;
        const humanKey = `${prefix}/${call}`;
        const limitMessage = new RegExp(`^Rate limit 'writes' reached: ${WRITES_PER_MINUTE} per minute; retry in \\d+ s\\.$`);
        if (call % 2 === 0) {
          const result: CallToolResult = await callTool(clients[instance]!, "ensure_project", { human_key: humanKey });
          const error = (result.structuredContent as { error?: { type: string; message: string; data?: { limit?: string; retry_after_seconds?: number } } }).error;
          const refused = result.isError && error?.type === "RATE_LIMITED" && error.data?.limit === "writes" && limitMessage.test(error.message) && (error.data.retry_after_seconds ?? 0) > 0;
          const written = !result.isError && (result.structuredContent as unknown as ProjectResult).human_key === humanKey;
          return { call, instance, surface: "mcp", outcome: written ? "written" : refused ? "refused" : "other", detail: JSON.stringify(result.structuredContent) };
        }
        const answer = await trpc<ProjectResult>(serverUrl(instance), "projects.ensure", writer.token, "mutation", { human_key: humanKey });
        const retryAfter = Number(answer.headers.get("retry-after"));
        const refused = answer.status === 429 && answer.error?.data?.appCode === "RATE_LIMITED" && limitMessage.test(answer.error.message) && retryAfter > 0 && retryAfter <= 60;
        const written = answer.status === 200 && answer.data?.human_key === humanKey;
        return { call, instance, surface: "trpc", outcome: written ? "written" : refused ? "refused" : "other", detail: `${answer.status} ${JSON.stringify(answer.error ?? answer.data)}` };
      },
    );
    const elapsed = Date.now() - started;

    const others = outcomes.filter((entry) => entry.outcome === "other");
    const refused = outcomes.filter((entry) => entry.outcome === "refused");
    const written = outcomes.filter((entry) => entry.outcome === "written");
    console.info(
      `${total} writes over ${INSTANCES} instances in ${elapsed} ms: ${written.length} written, ${refused.length} refused ` +
        `(refused per instance: ${cluster!.servers.map((_, instance) => refused.filter((entry) => entry.instance === instance).length).join("/")}; ` +
        `by surface: mcp ${refused.filter((entry) => entry.surface === "mcp").length}, trpc ${refused.filter((entry) => entry.surface === "trpc").length})`,
    );
    expect(others, `calls neither written nor refused by the writes limit: ${JSON.stringify(others)}`).toEqual([]);
    // All the calls fell in one window of the shared counter (it opened at the first of them): the
    // store counted every one. If the burst had outlasted the window, this says so, not the counts.
    const [counter] = await sql<{ points: number; expire: string }>(`SELECT points, expire FROM rate_limits WHERE key LIKE $1`, [`mailroom:writes:%${writer.jti}`]);
    expect(counter, "no shared rate_limits row for the writer: the limit is not kept in Postgres").toBeDefined();
    expect(counter!.points, "the calls did not all fall in one window").toBe(total);

    expect(refused).toHaveLength(EXTRA_WRITES);
    expect(written).toHaveLength(WRITES_PER_MINUTE);
    // A refused call writes nothing: exactly the written calls' projects exist.
    const projects = await sql<{ human_key: string }>(`SELECT human_key FROM projects WHERE human_key LIKE $1`, [`${prefix}/%`]);
    expect(projects.map((row) => row.human_key).sort()).toEqual(written.map((entry) => `${prefix}/${entry.call}`).sort());
  });
});
