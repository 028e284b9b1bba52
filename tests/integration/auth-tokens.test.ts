import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { createTokenVerifier } from "@/server/auth/jwt";
import { REVOCATION_CACHE_MS } from "@/server/auth/tokens";
import { invoke } from "@/server/operations/invoke";
import { hardDeleteAgent } from "@/server/services/lifecycle/agents";
import { createToken, listTokens, revokeToken } from "@/server/services/tokens/operations";
import { serviceContext } from "../helpers/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";
import { waitFor } from "../e2e/support/archive-git";

// Bearer tokens (JWT_SECRET, HS256) on the real MCP endpoint over HTTP with the MCP SDK client:
// tokens minted here with jose, as any outside tool would, with the documented claims. Missing
// and bad tokens get 401 with a WWW-Authenticate challenge; roles gate operations and tools/list;
// project scopes confine calls; a token bound to an agent acts as it without sender_token.

const SECRET = "test-secret-for-bearer-tokens-0123456789abcdef";
const AUDIENCE = "mailroom-tests";
let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
const clients: Client[] = [];
let alpha: { humanKey: string; agents: Record<string, TestAgent> };

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db, { auth: { mode: "tokens", secret: SECRET, audience: AUDIENCE } });
  const registered = await projectWithAgents(db, "/auth/alpha", ["GreenLake", "BlueDog"]);
  alpha = { humanKey: "/auth/alpha", agents: registered.agents };
  await projectWithAgents(db, "/auth/beta", ["RedFox"]);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
  await db?.close();
});

async function mint(claims: JWTPayload, options: { secret?: string; expiresIn?: string | number; audience?: string | null } = {}): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime(options.expiresIn ?? "10m");
  if (options.audience !== null) jwt = jwt.setAudience(options.audience ?? AUDIENCE);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

async function client(token: string): Promise<Client> {
  const connected = await connectMcp(server.url, "/api/mcp", { authorization: `Bearer ${token}` });
  clients.push(connected);
  return connected;
}

function post(headers: Record<string, string>): Promise<Response> {
  return fetch(`${server.url}/api/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
}

async function messageCount(): Promise<number> {
  return db.prisma.message.count();
}

describe("requests without a valid token", () => {
  it("no Authorization header: 401 with a Bearer challenge", async () => {
    const response = await post({});
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="mailroom"');
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      "This server requires a bearer token (send the header Authorization: Bearer <token>) or a dashboard sign-in.",
    );
  });

  const cases: [string, () => Promise<string>, string][] = [
    ["expired", () => mint({ sub: "ci", roles: ["writer"] }, { expiresIn: Math.floor(Date.now() / 1000) - 120 }), "it has expired"],
    ["signed with another secret", () => mint({ sub: "ci", roles: ["writer"] }, { secret: "another-secret-that-is-long-enough-0123456789" }), "its signature does not verify"],
    ["for another audience", () => mint({ sub: "ci", roles: ["writer"] }, { audience: "someone-else" }), "wrong audience"],
    ["without an audience", () => mint({ sub: "ci", roles: ["writer"] }, { audience: null }), "wrong audience"],
    ["with an unknown role", () => mint({ sub: "ci", roles: ["root"] }), "claim 'roles.0'"],
    ["without roles", () => mint({ sub: "ci" }), "claim 'roles'"],
    ["unsigned (alg none)", async () => `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"sub":"ci","roles":["admin"]}').toString("base64url")}.`, "its signing algorithm is not accepted"],
    ["not a JWT", async () => "hello", "it is not a well-formed JWT"],
    ["too long", async () => "a".repeat(9000), "longer than 8192 characters"],
  ];
  it.each(cases)("a token %s: 401, error=invalid_token, and why", async (_, token, reason) => {
    const response = await post({ authorization: `Bearer ${await token()}` });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="mailroom", error="invalid_token", error_description="Invalid bearer token: /);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(reason);
  });

  it("another scheme: 401", async () => {
    const response = await post({ authorization: "Basic dXNlcjpwYXNz" });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe("The Authorization header must be of the form Bearer <token>.");
  });
});

describe("roles and scopes", () => {
  it("a writer token minted outside Mailroom sends; a reader sees no write tools and is refused, writing nothing", async () => {
    const writer = await client(await mint({ sub: "ci-writer", roles: ["writer"], jti: "w-1" }));
    const sent = await callOk<{ count: number }>(writer, "send_message", {
      project_key: alpha.humanKey,
      sender_name: "GreenLake",
      sender_token: alpha.agents.GreenLake!.token,
      to: ["BlueDog"],
      subject: "With a token",
      body_md: "hello",
    });
    expect(sent.count).toBe(1);

    const reader = await client(await mint({ sub: "ci-reader", roles: ["reader"] }));
    const names = (await reader.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain("fetch_inbox");
    expect(names).not.toContain("send_message");
    const before = await messageCount();
    const result = (await reader.callTool({
      name: "send_message",
      arguments: { project_key: alpha.humanKey, sender_name: "GreenLake", sender_token: alpha.agents.GreenLake!.token, to: ["BlueDog"], subject: "No", body_md: "no" },
    })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("send_message needs the write role.");
    expect(await messageCount()).toBe(before);
    const inbox = await callOk<{ result: { subject: string }[] }>(reader, "fetch_inbox", { project_key: alpha.humanKey, agent_name: "BlueDog", registration_token: alpha.agents.BlueDog!.token });
    expect(inbox.result.map((message) => message.subject)).toContain("With a token");
  });

  it("admin-only operations need the admin role", async () => {
    const writer = await client(await mint({ sub: "ci-writer-2", roles: ["writer"] }));
    expect((await writer.listTools()).tools.map((tool) => tool.name)).not.toContain("force_release_file_reservation");
    const admin = await client(await mint({ sub: "ci-admin", roles: ["admin"] }));
    expect((await admin.listTools()).tools.map((tool) => tool.name)).toContain("force_release_file_reservation");
  });

  it("a token scoped to one project cannot reach another, by slug or human key", async () => {
    const scoped = await client(await mint({ sub: "ci-scoped", roles: ["writer"], projects: ["/auth/alpha"] }));
    await callOk(scoped, "fetch_inbox", { project_key: alpha.humanKey, agent_name: "BlueDog", registration_token: alpha.agents.BlueDog!.token });
    const refused = await callError(scoped, "fetch_inbox", { project_key: "/auth/beta", agent_name: "RedFox" });
    expect(refused).toContain("outside this credential's project scopes");
    const created = await callError(scoped, "ensure_project", { human_key: "/auth/gamma" });
    expect(created).toContain("outside this credential's project scopes");
    expect(await db.prisma.project.count({ where: { humanKey: "/auth/gamma" } })).toBe(0);
  });
});

describe("a token bound to an agent", () => {
  it("acts as its agent without sender_token; the agent must exist", async () => {
    const bound = await client(await mint({ sub: "agent:GreenLake", roles: ["writer"], agent: { project: "/auth/alpha", name: "GreenLake" } }));
    const sent = await callOk<{ count: number }>(bound, "send_message", { project_key: alpha.humanKey, sender_name: "GreenLake", to: ["BlueDog"], subject: "Bound", body_md: "no sender_token" });
    expect(sent.count).toBe(1);
    // Another agent still needs its own token.
    expect(await callError(bound, "send_message", { project_key: alpha.humanKey, sender_name: "BlueDog", to: ["GreenLake"], subject: "x", body_md: "x" })).toContain("requires sender_token");

    const response = await post({ authorization: `Bearer ${await mint({ sub: "ghost", roles: ["writer"], agent: { project: "/auth/alpha", name: "NoSuchAgent" } })}` });
    expect(response.status).toBe(401);
    const outside = await post({ authorization: `Bearer ${await mint({ sub: "x", roles: ["writer"], projects: ["/auth/beta"], agent: { project: "/auth/alpha", name: "GreenLake" } })}` });
    expect(outside.status).toBe(401);
  });
});

describe("keys from JWT_JWKS_URL", () => {
  it("verifies tokens signed by the key set's keys, with issuer and audience; refuses HS256 and strangers", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const stranger = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    let fetches = 0;
    const jwksServer = createServer((_, response) => {
      fetches += 1;
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
      const verify = createTokenVerifier({ mode: "tokens", jwksUrl: url, issuer: "https://idp.example", audience: "mailroom" });
      const sign = (key: CryptoKey, claims: JWTPayload, issuer = "https://idp.example") =>
        new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(issuer).setAudience("mailroom").setExpirationTime("5m").sign(key);

      const verified = await verify(await sign(privateKey, { sub: "ci", roles: ["reader"], projects: ["/auth/alpha"] }));
      expect(verified.claims).toMatchObject({ sub: "ci", projects: ["/auth/alpha"] });
      expect([...verified.roles]).toEqual(["read"]);
      await verify(await sign(privateKey, { sub: "ci", roles: ["admin"] }));
      expect(fetches).toBe(1);

      await expect(verify(await sign(privateKey, { sub: "ci", roles: ["reader"] }, "https://other.example"))).rejects.toThrow("wrong issuer");
      await expect(verify(await sign(stranger.privateKey, { sub: "ci", roles: ["reader"] }))).rejects.toThrow("its signature does not verify");
      // Without JWT_SECRET an HS256 token is never accepted, whatever it was signed with.
      await expect(verify(await mint({ sub: "ci", roles: ["admin"] }))).rejects.toThrow("its signing algorithm is not accepted");
      // An outside issuer's token must expire.
      const endless = await new SignJWT({ sub: "ci", roles: ["reader"] }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer("https://idp.example").setAudience("mailroom").sign(privateKey);
      await expect(verify(endless)).rejects.toThrow("it has no exp (expiry) claim");
    } finally {
      jwksServer.closeAllConnections();
      await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
    }
  });

  it("a key set that cannot be read is AUTH_UNAVAILABLE, not a bad token", async () => {
    const down = createServer((_, response) => response.writeHead(502).end("bad gateway"));
    await new Promise<void>((resolve) => down.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(down.address() as AddressInfo).port}/jwks.json`;
      const verify = createTokenVerifier({ mode: "tokens", jwksUrl: url, issuer: "https://idp.example", audience: "mailroom" });
      const { privateKey } = await generateKeyPair("ES256");
      const token = await new SignJWT({ sub: "ci", roles: ["reader"] }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer("https://idp.example").setAudience("mailroom").setExpirationTime("5m").sign(privateKey);
      await expect(verify(token)).rejects.toMatchObject({ code: "AUTH_UNAVAILABLE" });
    } finally {
      down.closeAllConnections();
      await new Promise<void>((resolve) => down.close(() => resolve()));
    }
  });
});

describe("tokens minted and revoked by Mailroom", () => {
  const admin = () => serviceContext(db, { auth: { mode: "tokens", secret: SECRET, audience: AUDIENCE } });

  it("create_token returns a working token once, list_tokens shows it without it, revoke_token ends it on the server within a second", async () => {
    const created = await invoke(createToken, admin(), { name: "ci-bot", roles: ["reader"], projects: ["/auth/alpha"], expires_in_seconds: 3600 });
    expect(decodeJwt(created.token)).toMatchObject({ sub: "ci-bot", roles: ["reader"], projects: ["/auth/alpha"], jti: created.jti, aud: AUDIENCE });
    const bot = await client(created.token);
    expect((await bot.listTools()).tools.map((tool) => tool.name)).toContain("fetch_inbox");

    const listed = await invoke(listTokens, admin(), { include_revoked: false, limit: 100 });
    const entry = listed.tokens.find((token) => token.jti === created.jti)!;
    expect(entry).toMatchObject({ id: created.id, name: "ci-bot", roles: ["reader"], projects: ["/auth/alpha"], revoked_at: null });
    expect(JSON.stringify(listed)).not.toContain(created.token);
    const stored = await db.prisma.apiToken.findUniqueOrThrow({ where: { id: created.id } });
    expect(stored.tokenHash).toMatch(/^[0-9a-f]{64}$/);

    const revoked = await invoke(revokeToken, admin(), { jti: created.jti });
    expect(revoked).toMatchObject({ jti: created.jti, minted_here: true });
    const refusal = await waitFor("the revocation to reach the server", async () => {
      const response = await post({ authorization: `Bearer ${created.token}` });
      return response.status === 401 ? ((await response.json()) as { error: { message: string } }).error.message : undefined;
    }, 3_000, 100);
    expect(refusal).toBe("Invalid bearer token: it has been revoked.");
    expect((await invoke(listTokens, admin(), { include_revoked: false, limit: 100 })).tokens.map((token) => token.jti)).not.toContain(created.jti);
  });

  it("tokens in constant use (their records re-read together in the background) are refused within a second of revocation; the others go on", async () => {
    const [kept, ended] = [
      await invoke(createToken, admin(), { name: "kept", roles: ["reader"], expires_in_seconds: 3600 }),
      await invoke(createToken, admin(), { name: "ended", roles: ["reader"], expires_in_seconds: 3600 }),
    ];
    const answers: { token: "kept" | "ended"; sentAt: number; status: number }[] = [];
    let revokedAt = Infinity;
    const use = async (name: "kept" | "ended", token: string, until: () => boolean) => {
      while (!until()) {
        const sentAt = Date.now();
        answers.push({ token: name, sentAt, status: (await post({ authorization: `Bearer ${token}` })).status });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const done = () => Date.now() > revokedAt + 1_600;
    const users = [use("kept", kept.token, done), use("ended", ended.token, done)];
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await invoke(revokeToken, admin(), { jti: ended.jti });
    revokedAt = Date.now();
    await Promise.all(users);
    expect(answers.filter((answer) => answer.token === "kept").every((answer) => answer.status === 200)).toBe(true);
    const before = answers.filter((answer) => answer.token === "ended" && answer.sentAt < revokedAt - 100);
    expect(before.length).toBeGreaterThan(5);
    expect(before.every((answer) => answer.status === 200)).toBe(true);
    const after = answers.filter((answer) => answer.token === "ended" && answer.sentAt >= revokedAt + REVOCATION_CACHE_MS + 100);
    expect(after.length).toBeGreaterThan(0);
    expect(after.map((answer) => answer.status)).toEqual(after.map(() => 401));
  });

  it("revokes a token minted elsewhere by its jti", async () => {
    const outside = await mint({ sub: "outside", roles: ["writer"], jti: "outside-jti-1" });
    expect((await post({ authorization: `Bearer ${outside}` })).status).toBe(200);
    expect(await invoke(revokeToken, admin(), { jti: "outside-jti-1" })).toMatchObject({ minted_here: false });
    await waitFor("the revocation", async () => (await post({ authorization: `Bearer ${outside}` })).status === 401 || undefined, 3_000, 100);
  });

  it("refuses to mint without JWT_SECRET, and binds to agents that exist", async () => {
    await expect(invoke(createToken, serviceContext(db), { name: "x", roles: ["reader"] })).rejects.toThrow("Minting tokens needs JWT_SECRET");
    await expect(invoke(createToken, admin(), { name: "x", roles: ["writer"], agent: { project: "/auth/alpha", name: "NoSuchAgent" } })).rejects.toThrow("not found");
  });

  it("register_agent returns a bearer token bound to the new agent, which then needs no sender_token", async () => {
    const writer = await client(await mint({ sub: "ci-registrar", roles: ["writer"] }, { expiresIn: "60d" }));
    const registered = await callOk<{ name: string; bearer_token: string }>(writer, "register_agent", { project_key: "/auth/alpha", program: "codex", model: "gpt", name: "SilverOwl" });
    const claims = decodeJwt(registered.bearer_token);
    expect(claims).toMatchObject({ roles: ["writer"], projects: ["auth-alpha"], agent: { project: "auth-alpha", name: "SilverOwl" } });
    expect(claims.exp! - claims.iat!).toBe(30 * 86_400);
    const owl = await client(registered.bearer_token);
    const sent = await callOk<{ count: number }>(owl, "send_message", { project_key: "/auth/alpha", sender_name: "SilverOwl", to: ["BlueDog"], subject: "Owl", body_md: "hoot" });
    expect(sent.count).toBe(1);
    expect(await callError(owl, "fetch_inbox", { project_key: "/auth/beta", agent_name: "RedFox" })).toContain("outside this credential's project scopes");
  });

  it("a bound token never outlives the caller's, and registering again revokes the agent's earlier one", async () => {
    const shortLived = await client(await mint({ sub: "ci-short", roles: ["writer"], jti: "short-1" }, { expiresIn: "10m" }));
    const first = await callOk<{ bearer_token: string }>(shortLived, "register_agent", { project_key: "/auth/alpha", program: "codex", model: "gpt", name: "AmberElk" });
    const claims = decodeJwt(first.bearer_token);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(600);
    // The bound token re-registers its own agent: the new one expires no later, the old one is revoked.
    const elk = await client(first.bearer_token);
    const second = await callOk<{ bearer_token: string }>(elk, "register_agent", { project_key: "/auth/alpha", program: "codex", model: "gpt", name: "AmberElk" });
    expect(decodeJwt(second.bearer_token).exp!).toBeLessThanOrEqual(claims.exp!);
    await waitFor("the earlier bound token to be refused", async () => (await post({ authorization: `Bearer ${first.bearer_token}` })).status === 401 || undefined, 3_000, 100);
    expect((await post({ authorization: `Bearer ${second.bearer_token}` })).status).toBe(200);
  });

  it("a deleted agent's token does not pass for a new agent of the same name", async () => {
    const writer = await client(await mint({ sub: "ci-registrar-2", roles: ["writer"] }));
    const before = await callOk<{ bearer_token: string }>(writer, "register_agent", { project_key: "/auth/alpha", program: "codex", model: "gpt", name: "CopperFox" });
    await invoke(hardDeleteAgent, admin(), { project_key: "/auth/alpha", agent_name: "CopperFox", confirmation: "I UNDERSTAND" });
    await callOk(writer, "register_agent", { project_key: "/auth/alpha", program: "codex", model: "gpt", name: "CopperFox" });
    const response = await waitFor("the old token's refusal", async () => {
      const answer = await post({ authorization: `Bearer ${before.bearer_token}` });
      return answer.status === 401 ? answer : undefined;
    }, 3_000, 100);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe("Invalid bearer token: the agent it was bound to no longer exists.");
  });

  it("refuses a bound agent outside the token's projects; 401 challenges stay plain ASCII", async () => {
    await expect(invoke(createToken, admin(), { name: "x", roles: ["writer"], projects: ["/auth/beta"], agent: { project: "/auth/alpha", name: "GreenLake" } })).rejects.toThrow(
      "must be one of the token's projects",
    );
    const response = await post({ authorization: `Bearer ${await mint({ sub: "x", roles: ["writer"], agent: { project: "/auth/alpha", name: "Ünïcödé\"Name" } })}` });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^[\x20-\x7e]+$/);
  });
});
