import { createHash, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveSessionSecret, type AuthConfig, type OidcConfig } from "@/server/auth/config";
import { createUser } from "@/server/services/users/accounts";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";

// Dashboard sign-in through OpenID Connect (OIDC_ISSUER), against a small identity provider run
// here: discovery, the authorization redirect with state and PKCE, the code exchange (the provider
// checks the PKCE verifier and the client's secret), and an RS256 ID token checked against its
// JWKS. The identity maps to the user with the same verified email; an unknown email is refused,
// or created with OIDC_DEFAULT_ROLE.

const SECRET = "test-secret-for-oidc-sign-in-0123456789abcdef";
const CLIENT = { id: "mailroom", secret: "client-secret-0123456789" };

interface Identity {
  sub: string;
  email: string;
  email_verified?: boolean;
  name?: string;
}

/** The identity provider: one identity per issued code. */
class IdentityProvider {
  url = "";
  private server?: Server;
  private key?: CryptoKey;
  private jwk?: JWK;
  /** code → the identity it stands for and the PKCE challenge it was issued against. */
  readonly codes = new Map<string, { identity: Identity; challenge: string }>();
  readonly tokenRequests: URLSearchParams[] = [];

  async start(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    this.key = privateKey as CryptoKey;
    this.jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", this.url);
      const send = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (url.pathname === "/.well-known/openid-configuration") {
        return send(200, {
          issuer: this.url,
          authorization_endpoint: `${this.url}/authorize`,
          token_endpoint: `${this.url}/token`,
          jwks_uri: `${this.url}/jwks`,
          response_types_supported: ["code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
          token_endpoint_auth_methods_supported: ["client_secret_basic"],
        });
      }
      if (url.pathname === "/jwks") return send(200, { keys: [this.jwk] });
      if (url.pathname === "/token" && req.method === "POST") {
        let text = "";
        req.on("data", (chunk: Buffer) => (text += chunk.toString()));
        req.on("end", () => void this.token(req.headers.authorization, new URLSearchParams(text)).then(([status, body]) => send(status, body)));
        return;
      }
      send(404, { error: "not_found" });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The code exchange: the client's secret, the code, and the PKCE verifier must all match. */
  private async token(authorization: string | undefined, params: URLSearchParams): Promise<[number, unknown]> {
    this.tokenRequests.push(params);
    const basic = `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString("base64")}`;
    if (authorization !== basic) return [401, { error: "invalid_client" }];
    const grant = this.codes.get(params.get("code") ?? "");
    const verifier = params.get("code_verifier") ?? "";
    if (!grant || createHash("sha256").update(verifier).digest("base64url") !== grant.challenge) return [400, { error: "invalid_grant" }];
    this.codes.delete(params.get("code")!);
    const idToken = await new SignJWT({ ...grant.identity })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer(this.url)
      .setAudience(CLIENT.id)
      .setSubject(grant.identity.sub)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(this.key!);
    return [200, { access_token: randomUUID(), token_type: "Bearer", expires_in: 300, id_token: idToken }];
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** One browser's cookies against one Mailroom server. */
class Jar {
  readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set("cookie", [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    const response = await fetch(new URL(path, this.base), { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(";")[0]!;
      const index = pair.indexOf("=");
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || index === pair.length - 1) this.cookies.delete(pair.slice(0, index));
      else this.cookies.set(pair.slice(0, index), pair.slice(index + 1));
    }
    return response;
  }
}

const idp = new IdentityProvider();
let db: Awaited<ReturnType<typeof openTestDatabase>>;
const servers: TestServer[] = [];

beforeAll(async () => {
  await idp.start();
  db = await openTestDatabase();
  await createUser(db.prisma, { email: "ada@example.test", name: "Ada", role: "admin" });
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await db?.close();
  await idp.stop();
});

async function mailroom(oidc: Partial<OidcConfig> = {}): Promise<TestServer> {
  const auth: AuthConfig = {
    mode: "tokens",
    secret: SECRET,
    sessionSecret: deriveSessionSecret(SECRET),
    oidc: { issuer: idp.url, clientId: CLIENT.id, clientSecret: CLIENT.secret, name: "Example SSO", ...oidc },
  };
  const server = await startTestServer(db, { auth, rateLimits: { reads: 0, writes: 0, search: 0, auth_failures: 0 } });
  servers.push(server);
  return server;
}

/**
 * The browser's side of the flow: start the sign-in, follow the redirect to the provider (which
 * issues `identity` a code), and come back to Mailroom's callback with it.
 */
async function signInThroughProvider(server: TestServer, identity: Identity): Promise<{ jar: Jar; landed: string }> {
  const jar = new Jar(server.url);
  const { csrfToken } = (await (await jar.fetch("/api/auth/csrf")).json()) as { csrfToken: string };
  const started = await jar.fetch("/api/auth/signin/oidc", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrfToken, callbackUrl: "/", json: "true" }),
  });
  const authorize = new URL(((await started.json()) as { url: string }).url);
  expect(authorize.origin + authorize.pathname).toBe(`${idp.url}/authorize`);
  expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
    client_id: CLIENT.id,
    response_type: "code",
    scope: "openid email profile",
    redirect_uri: `${server.url}/api/auth/callback/oidc`,
    code_challenge_method: "S256",
  });
  const code = randomUUID();
  idp.codes.set(code, { identity, challenge: authorize.searchParams.get("code_challenge")! });
  const callback = await jar.fetch(`/api/auth/callback/oidc?${new URLSearchParams({ code, state: authorize.searchParams.get("state")! })}`);
  expect(callback.status).toBe(302);
  let landed = callback.headers.get("location")!;
  // A refusal goes through next-auth's error route, which sends the browser on to the sign-in page.
  if (landed.startsWith(`${server.url}/api/auth/error`)) landed = (await jar.fetch(landed.slice(server.url.length))).headers.get("location")!;
  return { jar, landed };
}

async function sessionUser(jar: Jar): Promise<{ email?: string; role?: string } | undefined> {
  return ((await (await jar.fetch("/api/auth/session")).json()) as { user?: { email?: string; role?: string } }).user;
}

describe("sign-in through OIDC", () => {
  it("lists the provider for the sign-in page's button", async () => {
    const server = await mailroom();
    const providers = (await (await fetch(`${server.url}/api/auth/providers`)).json()) as Record<string, { name: string; type: string }>;
    expect(providers.oidc).toMatchObject({ name: "Example SSO", type: "oauth" });
    expect(providers.credentials).toMatchObject({ type: "credentials" });
  });

  it("signs in the user with the same verified email, with that user's role; tRPC accepts the session", async () => {
    const server = await mailroom();
    const { jar, landed } = await signInThroughProvider(server, { sub: "idp-ada", email: "Ada@Example.test", email_verified: true, name: "Ada L." });
    expect(landed).toBe(`${server.url}/`);
    expect(await sessionUser(jar)).toMatchObject({ email: "ada@example.test", role: "admin" });
    expect((await jar.fetch("/api/trpc/users.list")).status).toBe(200);
    expect(idp.tokenRequests.at(-1)!.get("code_verifier")).toMatch(/^[\w-]{43,}$/);
    expect((await db.prisma.user.findUniqueOrThrow({ where: { email: "ada@example.test" } })).lastLoginAt).not.toBeNull();
  });

  it("refuses an email with no account, and an unverified email, without a session", async () => {
    const server = await mailroom();
    for (const identity of [
      { sub: "idp-eve", email: "eve@example.test", email_verified: true },
      { sub: "idp-fake-ada", email: "ada@example.test", email_verified: false },
    ]) {
      const { jar, landed } = await signInThroughProvider(server, identity);
      expect(landed).toBe("/login?error=AccessDenied");
      expect(await sessionUser(jar)).toBeUndefined();
      expect((await jar.fetch("/api/trpc/projects.list")).status).toBe(401);
    }
    expect(await db.prisma.user.count({ where: { email: "eve@example.test" } })).toBe(0);
  });

  it("with OIDC_DEFAULT_ROLE, creates a missing user with that role (no password) and signs them in", async () => {
    const server = await mailroom({ defaultRole: "reader" });
    const { jar, landed } = await signInThroughProvider(server, { sub: "idp-rex", email: "rex@example.test", email_verified: true, name: "Rex" });
    expect(landed).toBe(`${server.url}/`);
    expect(await sessionUser(jar)).toMatchObject({ email: "rex@example.test", role: "reader" });
    const rex = await db.prisma.user.findUniqueOrThrow({ where: { email: "rex@example.test" } });
    expect(rex).toMatchObject({ role: "reader", name: "Rex", passwordHash: "" });
    expect((await jar.fetch("/api/trpc/projects.list")).status).toBe(200);
    expect((await jar.fetch("/api/trpc/users.list")).status).toBe(403);
  });

  it("refuses a disabled user", async () => {
    const server = await mailroom();
    await createUser(db.prisma, { email: "gone@example.test", name: "", role: "writer" });
    await db.prisma.user.update({ where: { email: "gone@example.test" }, data: { disabledAt: new Date() } });
    const { jar, landed } = await signInThroughProvider(server, { sub: "idp-gone", email: "gone@example.test", email_verified: true });
    expect(landed).toBe("/login?error=AccessDenied");
    expect(await sessionUser(jar)).toBeUndefined();
  });
});
