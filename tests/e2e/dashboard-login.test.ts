import path from "node:path";
import { SignJWT } from "jose";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seriousViolations } from "./support/axe";
import { launchChromium } from "./support/browser";
import { printServerLogOnFailure, repoRoot, startApp, type App } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type ProjectResult } from "./support/mcp";

// Signing in to the dashboard of a server that requires it (JWT_SECRET set), in Debian's Chromium
// against the built app: the first admin through the setup link the server printed at start,
// sign-out, a wrong password refused, the right one let in; and signed out, pages send the browser
// to the sign-in page while tRPC and the event stream answer 401.

const SECRET = "dashboard-login-e2e-secret-0123456789abcdef";
const ADMIN = { email: "ada@example.test", name: "Ada", password: "correct horse battery staple" };
const shots = path.join(repoRoot, "test-results");

let app: App;
let browser: Browser;
let project: ProjectResult;

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp({ JWT_SECRET: SECRET }), launchChromium()]);
  // An admin token minted outside Mailroom with the same secret, as an operator's script would.
  const token = await new SignJWT({ roles: ["admin"] }).setProtectedHeader({ alg: "HS256" }).setSubject("e2e").setExpirationTime("10m").sign(new TextEncoder().encode(SECRET));
  const mcp = await connectMcp(app.url, { authorization: `Bearer ${token}` });
  try {
    project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("login") });
  } finally {
    await mcp.close();
  }
});

printServerLogOnFailure(() => app);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

describe.skipIf(process.env.E2E_BASE_URL)("dashboard sign-in", () => {
  it("signed out: pages redirect to the sign-in page, tRPC and the event stream answer 401", async () => {
    const trpc = await fetch(`${app.url}/api/trpc/projects.list`);
    expect(trpc.status).toBe(401);
    expect(trpc.headers.get("www-authenticate")).toBe('Bearer realm="mailroom"');
    const events = await fetch(`${app.url}/api/events?project=${project.slug}`);
    expect(events.status).toBe(401);
    const page = await fetch(`${app.url}/mail/${project.slug}`, { redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe(`/login?callbackUrl=${encodeURIComponent(`/mail/${project.slug}`)}`);
  });

  it("creates the first admin through the printed setup link, signs out, refuses a wrong password, lets the right one in", async () => {
    const link = /create the first admin at (http:\/\/\S+\/setup#[\w-]+)/.exec(app.server!.output());
    expect(link, "the server prints a setup link at its first start").not.toBeNull();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    try {
      await page.goto(link![1]!);
      await page.getByLabel("Email").waitFor({ timeout: 30_000 });
      // The signed-out pages meet the console's accessibility bar too, light and dark.
      for (const colorScheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme });
        expect(await seriousViolations(page), `setup, ${colorScheme}`).toEqual([]);
      }
      await page.getByLabel("Email").fill(ADMIN.email);
      await page.getByLabel("Name").fill(ADMIN.name);
      await page.getByLabel(/^Password/).fill(ADMIN.password);
      await page.getByRole("button", { name: "Create admin and sign in" }).click();
      await page.waitForURL(`${app.url}/`);
      await expect(page.getByTestId("signed-in-as").innerText({ timeout: 30_000 })).resolves.toBe(`${ADMIN.email} · admin`);
      await page.locator(`[data-testid="project-card"][data-project-slug="${project.slug}"]`).waitFor({ timeout: 30_000 });

      // The link worked once.
      const again = await fetch(`${app.url}/api/setup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: link![1]!.split("#")[1], email: "eve@example.test", password: "another long password" }),
      });
      expect(again.status).toBe(401);

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL(/\/login/);
      await page.goto(`${app.url}/mail/${project.slug}`);
      await page.waitForURL(`${app.url}/login?callbackUrl=${encodeURIComponent(`/mail/${project.slug}`)}`);
      await page.screenshot({ path: path.join(shots, "login.png") });
      for (const colorScheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme });
        expect(await seriousViolations(page), `login, ${colorScheme}`).toEqual([]);
      }

      await signIn(page, ADMIN.email, "wrong password entirely");
      await expect(page.locator("#sign-in-error").innerText({ timeout: 30_000 })).resolves.toBe("Wrong email or password.");
      expect(page.url()).toContain("/login");
      expect((await context.cookies()).map((cookie) => cookie.name)).not.toContain("next-auth.session-token");

      await signIn(page, ADMIN.email, ADMIN.password);
      await page.waitForURL(`${app.url}/mail/${project.slug}`);
      // Signed in, the browser's own requests carry the session: tRPC and the event stream answer.
      const status = await page.evaluate(async (slug) => {
        const controller = new AbortController();
        const stream = await fetch(`/api/events?project=${slug}`, { signal: controller.signal });
        controller.abort();
        const trpc = await fetch("/api/trpc/projects.list");
        return [stream.status, trpc.status];
      }, project.slug);
      expect(status).toEqual([200, 200]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("an admin creates a token on the admin page (shown once, it works), revokes it (refused), and creates a user", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      // A callbackUrl that the browser would read as another origin (a tab is dropped: `//evil.example`) stays here.
      await page.goto(`${app.url}/login?callbackUrl=${encodeURIComponent("/\t/evil.example/")}`);
      await signIn(page, ADMIN.email, ADMIN.password);
      await page.waitForURL(`${app.url}/`);
      await page.goto(`${app.url}/admin`);

      const tokens = page.getByTestId("tokens-admin");
      await tokens.getByLabel("Name", { exact: true }).fill("ci-e2e");
      await tokens.getByLabel(/^Projects/).fill(project.human_key);
      await tokens.getByRole("button", { name: "Create token" }).click();
      const token = (await tokens.getByTestId("minted-token").locator("code").innerText({ timeout: 30_000 })).trim();
      const row = tokens.locator('[data-testid="token-row"]', { hasText: "ci-e2e" });
      await row.waitFor({ timeout: 30_000 });
      await expect(row.innerText()).resolves.toContain(project.human_key);
      const health = () => fetch(`${app.url}/api/trpc/system.health`, { headers: { authorization: `Bearer ${token}` } });
      expect((await health()).status).toBe(200);
      await page.screenshot({ path: path.join(shots, "admin-tokens.png"), fullPage: true });

      await row.getByRole("button", { name: "Revoke ci-e2e" }).click();
      await row.waitFor({ state: "detached", timeout: 30_000 });
      const revokedAt = Date.now();
      // Revocation reaches every instance within its 1 s cache: a request sent after that is refused.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, revokedAt + 1_100 - Date.now())));
      expect((await health()).status).toBe(401);

      const users = page.getByTestId("users-admin");
      await users.getByLabel("Email").fill("rex@example.test");
      await users.getByLabel(/^Password/).fill("rex's long password");
      await users.getByRole("button", { name: "Create user" }).click();
      const rex = users.locator('[data-testid="user-row"][data-user-email="rex@example.test"]');
      await rex.waitFor({ timeout: 30_000 });
      await expect(rex.innerText()).resolves.toContain("reader");
      await rex.getByRole("button", { name: "Disable rex@example.test" }).click();
      await rex.getByText("disabled").waitFor({ timeout: 30_000 });
    } finally {
      await context.close();
    }
  });
});
