import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "next-auth/jwt";
import { createActorResolver } from "@/server/auth/resolve-actor";
import { bindRefusal, deriveSessionSecret, type AuthConfig } from "@/server/auth/config";
import { hashPassword, verifyPassword } from "@/server/auth/passwords";
import { USER_CACHE_MS } from "@/server/auth/sessions";
import { REVOCATION_CACHE_MS } from "@/server/auth/tokens";
import { CLIENT_ADDRESS_HEADER } from "@/server/http/client-address";
import { createSetupLink, createUser } from "@/server/services/users/accounts";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents } from "../helpers/mail";
import { tableDigest } from "../helpers/snapshot";

// Dashboard sign-in with next-auth's credentials provider, over the app's own HTTP edge: the CSRF
// double submit, the session cookie, what a session may do (its user's role and projects), a
// disabled user, the first-admin setup link, failed sign-ins limited per client address, the page
// gate, and local mode's limits (loopback only).

const SECRET = "test-secret-for-dashboard-sessions-0123456789";
const AUTH: AuthConfig = { mode: "tokens", secret: SECRET, sessionSecret: deriveSessionSecret(SECRET), sessionMaxAgeSeconds: 3600 };
const PASSWORD = "correct horse battery staple";
const FAILURE_LIMIT = 5;

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(
    db,
    { auth: AUTH, rateLimits: { reads: 0, writes: 0, search: 0, auth_failures: FAILURE_LIMIT } },
    {},
    { pages: (_req, res) => void res.writeHead(200, { "content-type": "text/html" }).end("<h1>console</h1>") },
  );
  await projectWithAgents(db, "/sessions/alpha", ["GreenLake"]);
  await projectWithAgents(db, "/sessions/beta", ["RedFox"]);
  await createUser(db.prisma, { email: "admin@example.test", name: "Ada", password: PASSWORD, role: "admin" });
  await createUser(db.prisma, { email: "reader@example.test", name: "Rex", password: PASSWORD, role: "reader", projects: ["/sessions/alpha"] });
});

afterAll(async () => {
  await server?.close();
  await db?.close();
});

/**
 * A cookie jar of one browser: what Set-Cookie headers gave it, sent back on each request. Each
 * browser connects from its own loopback address (127.0.0.2, …), which the edge reports as the
 * client's address: failed sign-ins of one do not limit another's.
 */
let nextAddress = 2;
class Browser {
  readonly cookies = new Map<string, string>();
  readonly address = `127.0.${Math.floor(nextAddress / 250)}.${(nextAddress++ % 250) + 2}`;

  constructor(readonly base = server.url) {}

  async fetch(path: string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    if (init.body !== undefined) headers["content-length"] = String(Buffer.byteLength(init.body));
    const response = await new Promise<Response>((resolve, reject) => {
      const request = httpRequest(`${this.base}${path}`, { method: init.method ?? "GET", headers, localAddress: this.address, signal: init.signal }, (incoming) => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, item);
        }
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            incoming.on("data", (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)));
            incoming.on("end", () => controller.close());
            incoming.on("error", (error) => controller.error(error));
          },
          cancel: () => void incoming.destroy(),
        });
        resolve(new Response(stream, { status: incoming.statusCode, headers: responseHeaders }));
      });
      request.on("error", reject);
      request.end(init.body);
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const index = pair!.indexOf("=");
      const name = pair!.slice(0, index);
      const value = pair!.slice(index + 1);
      if (value === "" || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  async signIn(email: string, password: string): Promise<Response> {
    const { csrfToken } = (await (await this.fetch("/api/auth/csrf")).json()) as { csrfToken: string };
    return this.fetch("/api/auth/callback/credentials", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrfToken, email, password, json: "true", callbackUrl: "/" }).toString(),
    });
  }

  get signedIn(): boolean {
    return this.cookies.has("next-auth.session-token");
  }
}

async function trpcQuery(browser: Browser, path: string, input: unknown = {}): Promise<Response> {
  return browser.fetch(`/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`);
}

async function trpcMutation(browser: Browser, path: string, input: unknown): Promise<Response> {
  return browser.fetch(`/api/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(input) });
}

describe("passwords", () => {
  it("are scrypt hashes that verify only the same password, with a fresh salt each time", async () => {
    const [first, second] = [await hashPassword(PASSWORD), await hashPassword(PASSWORD)];
    expect(first).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(first).not.toBe(second);
    expect(await verifyPassword(PASSWORD, first)).toBe(true);
    expect(await verifyPassword(`${PASSWORD}!`, first)).toBe(false);
    expect(await verifyPassword(PASSWORD, "")).toBe(false);
    expect(await verifyPassword(PASSWORD, "plain-text")).toBe(false);
  });
});

describe("signing in", () => {
  it("sets a session cookie that tRPC accepts as the user, with the user's role", async () => {
    const browser = new Browser();
    const response = await browser.signIn("Admin@Example.test", PASSWORD);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { url: string }).url).toBe(`${server.url}/`);
    expect(browser.signedIn).toBe(true);
    const session = (await (await browser.fetch("/api/auth/session")).json()) as { user: { email: string; role: string } };
    expect(session.user).toMatchObject({ email: "admin@example.test", role: "admin" });
    const projects = await trpcQuery(browser, "projects.list");
    expect(projects.status).toBe(200);
    const users = await trpcQuery(browser, "users.list");
    expect(users.status).toBe(200);
    const body = (await users.json()) as { result: { data: { users: { email: string; last_login_at: string | null }[] } } };
    expect(body.result.data.users.map((user) => user.email)).toEqual(["admin@example.test", "reader@example.test"]);
    expect(body.result.data.users[0]!.last_login_at).not.toBeNull();
  });

  it("is refused with a wrong password or an unknown email, and no cookie is set", async () => {
    for (const [email, password] of [["admin@example.test", "wrong password 123"], ["nobody@example.test", PASSWORD]] as const) {
      const browser = new Browser();
      const response = await browser.signIn(email, password);
      expect(((await response.json()) as { url: string }).url).toContain("error=CredentialsSignin");
      expect(browser.signedIn).toBe(false);
      expect((await trpcQuery(browser, "projects.list")).status).toBe(401);
    }
  });

  it("needs next-auth's CSRF token: a sign-in posted without it sets no session", async () => {
    const browser = new Browser();
    const response = await browser.fetch("/api/auth/callback/credentials", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: "admin@example.test", password: PASSWORD, json: "true" }).toString(),
    });
    expect(((await response.json()) as { url: string }).url).toContain("csrf=true");
    expect(browser.signedIn).toBe(false);
  });

  it("signing out ends the session cookie", async () => {
    const browser = new Browser();
    await browser.signIn("admin@example.test", PASSWORD);
    const { csrfToken } = (await (await browser.fetch("/api/auth/csrf")).json()) as { csrfToken: string };
    await browser.fetch("/api/auth/signout", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrfToken, json: "true" }).toString() });
    expect(browser.signedIn).toBe(false);
    expect((await trpcQuery(browser, "projects.list")).status).toBe(401);
  });
});

describe("what a session may do", () => {
  it("signed out, tRPC answers 401 with a Bearer challenge and the event stream refuses", async () => {
    const browser = new Browser();
    const response = await trpcQuery(browser, "projects.list");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="mailroom"');
    const events = await browser.fetch("/api/events?project=/sessions/alpha");
    expect(events.status).toBe(401);
    expect(events.headers.get("www-authenticate")).toBe('Bearer realm="mailroom"');
    const attachment = await browser.fetch(`/api/attachments/1/${"a".repeat(64)}?project=/sessions/alpha&agent=GreenLake`);
    expect(attachment.status).toBe(401);
    expect(attachment.headers.get("www-authenticate")).toBe('Bearer realm="mailroom"');
  });

  it("a reader reads its own projects only, cannot write, and cannot follow a project's whole mail", async () => {
    const browser = new Browser();
    await browser.signIn("reader@example.test", PASSWORD);
    const listing = (await (await trpcQuery(browser, "projects.list")).json()) as { result: { data: { human_key: string }[] } };
    expect(listing.result.data.map((project) => project.human_key)).toEqual(["/sessions/alpha"]);
    const before = await tableDigest(db);
    expect((await trpcMutation(browser, "projects.ensure", { human_key: "/sessions/gamma" })).status).toBe(403);
    expect((await trpcQuery(browser, "users.list")).status).toBe(403);
    expect(await tableDigest(db)).toEqual(before);
    // The project-wide stream is the operator's view of every agent's mail: admins only.
    expect((await browser.fetch("/api/events?project=/sessions/alpha")).status).toBe(403);
    expect((await browser.fetch("/api/events?project=/sessions/beta")).status).toBe(403);
  });

  it("an admin's session opens the project's event stream", async () => {
    const browser = new Browser();
    await browser.signIn("admin@example.test", PASSWORD);
    const controller = new AbortController();
    const stream = await browser.fetch("/api/events?project=/sessions/alpha", { signal: controller.signal });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let text = "";
    while (!text.includes("event: ready")) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('"project":"sessions-alpha"');
    controller.abort();
  });

  it("a disabled user's session stops working within the cache period, then works again once enabled", async () => {
    const admin = new Browser();
    await admin.signIn("admin@example.test", PASSWORD);
    const reader = new Browser();
    await reader.signIn("reader@example.test", PASSWORD);
    expect((await trpcQuery(reader, "projects.list")).status).toBe(200);
    expect((await trpcMutation(admin, "users.setDisabled", { email: "reader@example.test" })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, USER_CACHE_MS + 100));
    const refused = await trpcQuery(reader, "projects.list");
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain("disabled");
    expect(((await (await reader.signIn("reader@example.test", PASSWORD)).json()) as { url: string }).url).toContain("error=CredentialsSignin");
    expect((await trpcMutation(admin, "users.setDisabled", { email: "reader@example.test", disabled: false })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, USER_CACHE_MS + 100));
    expect((await trpcQuery(reader, "projects.list")).status).toBe(200);
  });

  it("a session cookie made with another secret, or expired, is refused", async () => {
    const user = await db.prisma.user.findUniqueOrThrow({ where: { email: "admin@example.test" } });
    const now = Math.floor(Date.now() / 1000);
    const forged = await encode({ token: { uid: user.id, signedInAt: now }, secret: deriveSessionSecret("another-secret-of-at-least-32-characters!!") });
    const expired = await encode({ token: { uid: user.id, signedInAt: now }, secret: AUTH.sessionSecret!, maxAge: -60 });
    // Renewed (a fresh cookie) but signed in longer ago than the maximum age: the sign-in has ended.
    const renewedTooLong = await encode({ token: { uid: user.id, signedInAt: now - AUTH.sessionMaxAgeSeconds! - 60 }, secret: AUTH.sessionSecret! });
    const fresh = await encode({ token: { uid: user.id, signedInAt: now }, secret: AUTH.sessionSecret! });
    const browser = new Browser();
    browser.cookies.set("next-auth.session-token", fresh);
    expect((await trpcQuery(browser, "projects.list")).status).toBe(200);
    // Only the cookie name of this server's scheme is read (http here): a planted __Secure- one is not.
    const planted = new Browser();
    planted.cookies.set("__Secure-next-auth.session-token", fresh);
    expect((await trpcQuery(planted, "projects.list")).status).toBe(401);
    for (const cookie of [forged, expired, renewedTooLong, "garbage"]) {
      const browser = new Browser();
      browser.cookies.set("next-auth.session-token", cookie);
      const response = await trpcQuery(browser, "projects.list");
      expect(response.status).toBe(401);
      expect(await response.text()).toContain("sign in again");
    }
  });

  it("the agent_token query parameter is refused when tokens are required (a header carries credentials)", async () => {
    const browser = new Browser();
    await browser.signIn("admin@example.test", PASSWORD);
    const response = await browser.fetch("/api/events?project=/sessions/alpha&agent=GreenLake&agent_token=abc");
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("'agent_token' is not accepted in the query string");
    const attachment = await browser.fetch(`/api/attachments/1/${"a".repeat(64)}?project=/sessions/alpha&agent=GreenLake&agent_token=abc`);
    expect(attachment.status).toBe(400);
    expect(await attachment.text()).toContain("'agent_token' is not accepted in the query string");
  });
});

describe("failed sign-ins", () => {
  it(`are limited per client address: after ${FAILURE_LIMIT}, even the right password gets 429 with Retry-After`, async () => {
    const browser = new Browser();
    for (let attempt = 0; attempt < FAILURE_LIMIT; attempt += 1) {
      const response = await browser.signIn("admin@example.test", `wrong password ${attempt}`);
      expect(response.status).toBe(401);
    }
    const blocked = await browser.signIn("admin@example.test", PASSWORD);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(browser.signedIn).toBe(false);
    // Another address is not affected.
    const other = new Browser();
    await other.signIn("admin@example.test", PASSWORD);
    expect(other.signedIn).toBe(true);
  });
});

describe("sign-in routes", () => {
  it("answer only next-auth's own spelling of a path: //callback or %63allback are 404, not a way around the limit", async () => {
    const browser = new Browser();
    for (const path of ["/api/auth//callback/credentials", "/api/auth/%63allback/credentials", "/api/auth/callback/credentials/", "/api/auth/%E0"]) {
      const response = await browser.fetch(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "email=a%40b.c&password=x" });
      expect(response.status, path).toBe(404);
    }
  });

  it("count concurrent wrong guesses before hashing: of a burst past the limit, none slips through uncounted", async () => {
    const limited = await startTestServer(db, { auth: AUTH, rateLimits: { reads: 0, writes: 0, search: 0, auth_failures: 3 } });
    try {
      const browser = new Browser(limited.url);
      const { csrfToken } = (await (await browser.fetch("/api/auth/csrf")).json()) as { csrfToken: string };
      const attempt = (password: string) =>
        browser.fetch("/api/auth/callback/credentials", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ csrfToken, email: "admin@example.test", password, json: "true" }).toString(),
        });
      const burst = await Promise.all(Array.from({ length: 8 }, (_, index) => attempt(`wrong guess number ${index}`)));
      const bodies = await Promise.all(burst.map(async (response) => ((await response.json()) as { url: string }).url));
      // Three were counted and checked; every other one was refused by its count, before its hash.
      expect(bodies.filter((url) => url.includes("error=CredentialsSignin"))).toHaveLength(3);
      expect(bodies.filter((url) => url.includes("Rate%20limit"))).toHaveLength(5);
      const right = await attempt(PASSWORD);
      expect(right.status).toBe(429);
      expect(((await right.json()) as { url: string }).url).toContain("/login?error=Rate%20limit");
      expect(browser.signedIn).toBe(false);
    } finally {
      await limited.close();
    }
  });

  it("are not served in local mode (nobody signs in there)", async () => {
    const local = await startTestServer(db, { auth: { mode: "local" } });
    try {
      expect((await fetch(`${local.url}/api/auth/session`)).status).toBe(404);
    } finally {
      await local.close();
    }
  });

  it("disabling a user revokes the tokens they created", async () => {
    await createUser(db.prisma, { email: "second-admin@example.test", name: "", password: PASSWORD, role: "admin" });
    const minter = new Browser();
    await minter.signIn("second-admin@example.test", PASSWORD);
    const created = (await (await trpcMutation(minter, "tokens.create", { name: "made-by-second", roles: ["reader"] })).json()) as { result: { data: { token: string } } };
    const token = created.result.data.token;
    const health = () => fetch(`${server.url}/api/trpc/system.health`, { headers: { authorization: `Bearer ${token}` } });
    expect((await health()).status).toBe(200);
    const admin = new Browser();
    await admin.signIn("admin@example.test", PASSWORD);
    expect((await trpcMutation(admin, "users.setDisabled", { email: "second-admin@example.test" })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, REVOCATION_CACHE_MS + 100));
    expect((await health()).status).toBe(401);
  });
});

describe("the page gate", () => {
  it("sends a signed-out browser to the sign-in page, keeping where it was going", async () => {
    const response = await new Browser().fetch("/mail/alpha?agent=GreenLake");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe(`/login?callbackUrl=${encodeURIComponent("/mail/alpha?agent=GreenLake")}`);
    expect((await new Browser().fetch("/login")).status).toBe(200);
  });

  it("lets a signed-in browser through", async () => {
    const browser = new Browser();
    await browser.signIn("admin@example.test", PASSWORD);
    const response = await browser.fetch("/");
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("console");
  });
});

describe("local mode", () => {
  it("refuses to listen beyond loopback, and refuses callers from other machines", async () => {
    expect(bindRefusal({ mode: "local" }, "0.0.0.0")).toContain("refusing to listen on 0.0.0.0 in local mode");
    expect(bindRefusal({ mode: "local" }, "192.168.1.5")).toContain("Set JWT_SECRET");
    for (const host of ["127.0.0.1", "::1", "[::1]", "localhost"]) expect(bindRefusal({ mode: "local" }, host)).toBeUndefined();
    expect(bindRefusal(AUTH, "0.0.0.0")).toBeUndefined();
    const resolve = createActorResolver({ mode: "local" });
    const from = (address: string) => new Request("http://127.0.0.1/api/mcp", { headers: { [CLIENT_ADDRESS_HEADER]: address } });
    await expect(resolve(from("10.1.2.3"), db.prisma)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(resolve(from("::ffff:127.0.0.1"), db.prisma)).resolves.toMatchObject({ principal: "local" });
  });
});

describe("the first admin", () => {
  it("is created once through a setup link, and no link is made once a user exists", async () => {
    const fresh = await openTestDatabase();
    const setupServer = await startTestServer(fresh, { auth: AUTH, rateLimits: { reads: 0, writes: 0, search: 0, auth_failures: 0 } });
    try {
      const token = (await createSetupLink(fresh.prisma))!;
      expect(token).toMatch(/^[\w-]{32}$/);
      const post = (body: unknown) =>
        fetch(`${setupServer.url}/api/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const wrong = await post({ token: "x".repeat(32), email: "first@example.test", password: PASSWORD });
      expect(wrong.status).toBe(401);
      const weak = await post({ token, email: "first@example.test", password: "short" });
      expect(weak.status).toBe(400);
      expect(await weak.text()).toContain("password");
      const created = await post({ token, email: "First@Example.test", name: "First", password: PASSWORD });
      expect(created.status).toBe(201);
      expect(await created.json()).toEqual({ email: "first@example.test", role: "admin" });
      expect((await post({ token, email: "second@example.test", password: PASSWORD })).status).toBe(401);
      expect(await createSetupLink(fresh.prisma)).toBeUndefined();
      expect(await fresh.prisma.user.count()).toBe(1);
    } finally {
      await setupServer.close();
      await fresh.close();
    }
  });
});
