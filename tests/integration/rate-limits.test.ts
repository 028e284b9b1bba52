import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { SignJWT } from "jose";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RateLimitConfig } from "@/server/auth/rate-limits";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { callOk, connectMcp } from "../helpers/mcp-client";

// Rate limits on the real HTTP surfaces with bearer tokens: writes per token, failed
// authentications per client address (429 with Retry-After past it), tRPC's 429, local mode
// unlimited, and one budget shared by every server: on Postgres, and in Redis with REDIS_URL (run
// when a Redis answers at TEST_REDIS_URL, default redis://127.0.0.1:6379; CI machines have one).

const SECRET = "rate-limit-test-secret-0123456789abcdefghij";
const LIMITS: RateLimitConfig = { reads: 100, writes: 3, search: 0, auth_failures: 3 };
let db: Awaited<ReturnType<typeof openTestDatabase>>;
const servers: TestServer[] = [];
const clients: Client[] = [];
let agents: Record<string, TestAgent>;
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
let redisAnswers = false;

async function pingRedis(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

beforeAll(async () => {
  redisAnswers = await pingRedis();
  db = await openTestDatabase();
  agents = (await projectWithAgents(db, "/limits/p", ["GreenLake", "BlueDog"])).agents;
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all(servers.map((server) => server.close()));
  await db?.close();
});

async function server(limits: RateLimitConfig = LIMITS, mode: "tokens" | "local" = "tokens", redisUrl?: string): Promise<TestServer> {
  const started = await startTestServer(db, { auth: mode === "tokens" ? { mode, secret: SECRET } : { mode }, rateLimits: limits, rateLimitStore: { redisUrl } });
  servers.push(started);
  return started;
}

function token(jti: string): Promise<string> {
  return new SignJWT({ roles: ["writer"] }).setProtectedHeader({ alg: "HS256" }).setSubject("ci").setJti(jti).setExpirationTime("10m").sign(new TextEncoder().encode(SECRET));
}

async function client(url: string, bearer?: string): Promise<Client> {
  const connected = await connectMcp(url, "/api/mcp", bearer ? { authorization: `Bearer ${bearer}` } : {});
  clients.push(connected);
  return connected;
}

function send(mcp: Client, subject: string): Promise<CallToolResult> {
  return mcp.callTool({
    name: "send_message",
    arguments: { project_key: "/limits/p", sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject, body_md: subject },
  }) as Promise<CallToolResult>;
}

function sentCount(prefix: string): Promise<number> {
  return db.prisma.message.count({ where: { subject: { startsWith: prefix } } });
}

describe("rate limits", () => {
  it("writes per token: the call past the limit is refused naming the limit, writes nothing, and leaves reads and other tokens alone", async () => {
    const { url } = await server();
    const mcp = await client(url, await token("writer-a"));
    for (let index = 0; index < 3; index += 1) expect((await send(mcp, `A${index}`)).isError).toBeFalsy();
    const refused = await send(mcp, "A3");
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toMatch(/Rate limit 'writes' reached: 3 per minute; retry in \d+ s\./);
    expect(refused.structuredContent).toMatchObject({ error: { type: "RATE_LIMITED", data: { limit: "writes" } } });
    expect(await sentCount("A")).toBe(3);
    await callOk(mcp, "fetch_inbox", { project_key: "/limits/p", agent_name: "BlueDog", registration_token: agents.BlueDog!.token });
    const other = await client(url, await token("writer-b"));
    expect((await send(other, "B0")).isError).toBeFalsy();

    // tRPC: the same budget, answered with 429 and Retry-After.
    const response = await fetch(`${url}/api/trpc/mail.send`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await token("writer-a")}` },
      body: JSON.stringify({ project_key: "/limits/p", sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: "A4", body_md: "x" }),
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await sentCount("A")).toBe(3);
  });

  it("failed authentications per client address: 401 up to the limit, then 429 with Retry-After; a valid token still works", async () => {
    const { url } = await server();
    const post = (authorization: string) =>
      fetch(`${url}/api/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
    const statuses: number[] = [];
    for (let index = 0; index < 5; index += 1) statuses.push((await post(`Bearer wrong-${index}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const limited = await post("Bearer wrong-again");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { message: string } }).error.message).toMatch(/^Rate limit 'auth_failures' reached: 3 per minute/);
    expect((await post(`Bearer ${await token("valid-after-failures")}`)).status).toBe(200);
  });

  it("local mode is not limited: its one principal is the machine's operator", async () => {
    const { url } = await server({ reads: 1, writes: 1, search: 1, auth_failures: 1 }, "local");
    const mcp = await client(url);
    for (let index = 0; index < 3; index += 1) expect((await send(mcp, `L${index}`)).isError).toBeFalsy();
    expect(await sentCount("L")).toBe(3);
  });

  it.runIf(process.env.TEST_DATABASE_URL)("on Postgres, every server on the database shares one budget: N + k calls spread over two → exactly k refused", async () => {
    const limits = { ...LIMITS, writes: 4 };
    const [first, second] = [await server(limits), await server(limits)];
    const bearer = await token("shared-budget");
    const mcps = [await client(first.url, bearer), await client(second.url, bearer)];
    const results: CallToolResult[] = [];
    for (let index = 0; index < 7; index += 1) results.push(await send(mcps[index % 2]!, `S${index}`));
    expect(results.filter((result) => result.isError)).toHaveLength(3);
    expect(await sentCount("S")).toBe(4);
  });

  it("with REDIS_URL, every server shares one budget in Redis (on either database): N + k calls spread over two → exactly k refused", async ({ skip }) => {
    if (!redisAnswers) skip(`no Redis answers at ${REDIS_URL}`);
    const limits = { ...LIMITS, writes: 4 };
    const [first, second] = [await server(limits, "tokens", REDIS_URL), await server(limits, "tokens", REDIS_URL)];
    // A principal of its own: Redis outlives test runs, and its counters with it (for a minute).
    const bearer = await token(`redis-${Date.now()}-${Math.random()}`);
    const mcps = [await client(first.url, bearer), await client(second.url, bearer)];
    const results: CallToolResult[] = [];
    for (let index = 0; index < 7; index += 1) results.push(await send(mcps[index % 2]!, `R${index}`));
    expect(results.filter((result) => result.isError)).toHaveLength(3);
    expect(await sentCount("R")).toBe(4);
    const redis = new Redis(REDIS_URL);
    try {
      const key = `mailroom:writes:token:${JSON.parse(Buffer.from(bearer.split(".")[1]!, "base64url").toString()).jti}`;
      expect(Number(await redis.get(key))).toBe(7);
    } finally {
      redis.disconnect();
    }
  });

  it("an unreachable Redis does not stop mail: each server counts in memory instead (the insurance limiter)", async () => {
    const { url } = await server({ ...LIMITS, writes: 2 }, "tokens", "redis://127.0.0.1:1");
    const mcp = await client(url, await token("redis-down"));
    const results = [await send(mcp, "D0"), await send(mcp, "D1"), await send(mcp, "D2")];
    expect(results.map((result) => Boolean(result.isError))).toEqual([false, false, true]);
    expect(JSON.stringify(results[2]!.content)).toContain("Rate limit 'writes' reached: 2 per minute");
    expect(await sentCount("D")).toBe(2);
  });
});
