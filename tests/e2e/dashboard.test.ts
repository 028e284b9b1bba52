import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser";
import { printServerLogOnFailure, repoRoot, startApp, type App } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type AgentResult, type ProjectResult } from "./support/mcp";

// The dashboard's front page in a real browser (Debian chromium driven by playwright-core).

const screenshotPath = path.join(repoRoot, "test-results", "dashboard.png");

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

describe("dashboard", () => {
  it("shows a project created over MCP with both of its agents", async () => {
    const mcp = await connectMcp(app.url);
    let project: ProjectResult;
    const agents: AgentResult[] = [];
    try {
      project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("dashboard") });
      agents.push(
        await callOk<AgentResult>(mcp, "register_agent", {
          project_key: project.slug,
          program: "claude-code",
          model: "opus-4.1",
          task_description: "Wire the dashboard to tRPC",
        }),
      );
      agents.push(
        await callOk<AgentResult>(mcp, "create_agent_identity", {
          project_key: project.slug,
          program: "codex-cli",
          model: "gpt-5",
          task_description: "Write the e2e tests",
        }),
      );
    } finally {
      await mcp.close();
    }
    expect(agents[0]!.name).not.toBe(agents[1]!.name);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    try {
      const response = await page.goto(app.url + "/", { waitUntil: "domcontentloaded" });
      expect(response?.status()).toBe(200);
      await expect(page.title()).resolves.toBe("Mailroom");

      const card = page.locator(`[data-testid="project-card"][data-project-slug="${project.slug}"]`);
      const names = card.locator('[data-testid="agent-name"]');
      // The overview is fetched client-side; wait until this project's two rows have rendered.
      await card.waitFor({ state: "visible", timeout: 30_000 });
      await page.waitForFunction(
        (selector) => document.querySelectorAll(selector).length === 2,
        `[data-testid="project-card"][data-project-slug="${project.slug}"] [data-testid="agent-name"]`,
        { timeout: 30_000 },
      );

      expect((await names.allTextContents()).map((text) => text.trim()).sort()).toEqual(agents.map((agent) => agent.name).sort());
      await expect(card.innerText()).resolves.toContain(project.slug);
      await expect(card.innerText()).resolves.toContain(project.human_key);
      for (const agent of agents) {
        const row = card.locator('[data-testid="agent-row"]', { hasText: agent.name });
        await expect(row.innerText()).resolves.toContain(agent.program);
        await expect(row.innerText()).resolves.toContain(agent.model);
      }
      await expect(page.getByRole("heading", { name: "Projects", exact: true, level: 1 }).isVisible()).resolves.toBe(true);
      // (Next's own route announcer is a role=alert outside <main>.)
      await expect(page.locator("main").getByRole("alert").count()).resolves.toBe(0);
      await expect(page.locator("main").innerText()).resolves.not.toContain("Could not load projects");

      // Tailwind's stylesheet is loaded and applied (none of these are browser defaults):
      // max-w-7xl on <main>, rounded-xl + border on the card.
      const mainMaxWidth = await page.locator("main").evaluate((element) => getComputedStyle(element).maxWidth);
      expect(mainMaxWidth).toBe("1280px");
      const cardStyle = await card.evaluate((element) => {
        const style = getComputedStyle(element);
        return { radius: style.borderTopLeftRadius, border: style.borderTopWidth, borderStyle: style.borderTopStyle };
      });
      expect(cardStyle.radius).not.toBe("0px");
      expect(cardStyle).toMatchObject({ border: "1px", borderStyle: "solid" });

      mkdirSync(path.dirname(screenshotPath), { recursive: true });
      await page.screenshot({ path: screenshotPath, fullPage: true });
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
