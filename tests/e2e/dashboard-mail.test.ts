import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser";
import { printServerLogOnFailure, repoRoot, startApp, type App } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type AgentResult, type ProjectResult } from "./support/mcp";

// The overseer's mailbox page: an agent's inbox as the human sees it, live updates over SSE, and
// a reply written from the browser that reaches the agent's MCP inbox.

let app: App;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchChromium()]);
});

printServerLogOnFailure(() => app);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

interface SendResult {
  deliveries: { payload: { id: number } }[];
}

describe("agent mailbox page", () => {
  it("lists an agent's mail, shows a message, updates live and sends as HumanOverseer", async () => {
    const mcp = await connectMcp(app.url);
    let page: Page | undefined;
    try {
      const project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("mailbox") });
      const register = (name: string) =>
        callOk<AgentResult>(mcp, "register_agent", { project_key: project.slug, program: "claude-code", model: "opus-4.1", name });
      const alice = await register("alpha-one");
      const bob = await register("beta-two");
      // The default policy (auto) refuses first contact: bob accepts mail from anyone.
      await callOk(mcp, "set_contact_policy", { project_key: project.slug, agent_name: bob.name, registration_token: bob.registration_token, policy: "open" });
      const send = (subject: string, body: string) =>
        callOk<SendResult>(mcp, "send_message", {
          project_key: project.slug,
          sender_name: alice.name,
          sender_token: alice.registration_token,
          to: [bob.name],
          subject,
          body_md: body,
          importance: "high",
        });
      await send("Schema review", "Please review `prisma/schema.prisma` <script>alert(1)</script>");

      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const dialogs: string[] = [];
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      await page.goto(`${app.url}/`, { waitUntil: "domcontentloaded" });
      await page.locator(`[data-project-slug="${project.slug}"] a`, { hasText: bob.name }).click();
      await page.waitForURL(`**/mail/${project.slug}/${bob.name}`);
      await expect(page.getByTestId("mailbox-title").innerText()).resolves.toBe(bob.name);

      const rows = page.getByTestId("mail-row");
      await rows.first().waitFor({ timeout: 30_000 });
      await expect(rows.count()).resolves.toBe(1);
      await expect(rows.first().innerText()).resolves.toContain("Schema review");
      await expect(rows.first().innerText()).resolves.toContain(alice.name);

      await rows.first().click();
      const body = page.getByTestId("message-body");
      await body.waitFor({ timeout: 30_000 });
      // The body is text, not HTML: the script tag is shown, never run.
      await expect(body.innerText()).resolves.toContain("<script>alert(1)</script>");

      // A message sent while the page is open appears without a reload (SSE → refetch).
      await send("Follow-up", "One more thing");
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="mail-row"]').length === 2, undefined, { timeout: 30_000 });
      await expect(rows.first().innerText()).resolves.toContain("Follow-up");

      await page.getByLabel("Subject").fill("Pause merges");
      await page.getByLabel("Message").fill("Hold until the release is cut.");
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByText(/Sent \(message \d+\)/).waitFor({ timeout: 30_000 });
      expect(dialogs).toEqual([]);
      mkdirSync(path.join(repoRoot, "test-results"), { recursive: true });
      await page.screenshot({ path: path.join(repoRoot, "test-results", "mailbox.png"), fullPage: true });

      const inbox = await callOk<{ result: { subject: string; from: string; importance: string }[] }>(mcp, "fetch_inbox", {
        project_key: project.slug,
        agent_name: bob.name,
        registration_token: bob.registration_token,
      });
      expect(inbox.result[0]).toMatchObject({ subject: "Pause merges", from: "HumanOverseer", importance: "high" });
    } finally {
      await page?.close();
      await mcp.close();
    }
  });
});
