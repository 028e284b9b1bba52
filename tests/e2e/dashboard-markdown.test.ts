import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser";
import { printServerLogOnFailure, repoRoot, startApp, type App } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type AgentResult, type ProjectResult } from "./support/mcp";

// A message body as the overseer sees it in Chromium: GitHub-flavoured Markdown rendered (a
// table, a task list, highlighted code), and what an agent could write to attack the overseer's
// browser (script tags, event-handler attributes, javascript: links, remote images) shown as
// text or made inert, never run or loaded.

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

/** The L of a computed oklch() or lab() colour, 0–1 (Chromium reports Tailwind 4's colours so). */
function lightness(color: string): number {
  const oklch = /^oklch\(([\d.]+)/.exec(color);
  if (oklch) return Number(oklch[1]);
  const lab = /^lab\(([\d.]+)/.exec(color);
  if (lab) return Number(lab[1]) / 100;
  const rgb = /^rgba?\((\d+), (\d+), (\d+)/.exec(color);
  if (rgb) return (Number(rgb[1]) + Number(rgb[2]) + Number(rgb[3])) / 765;
  throw new Error(`unreadable colour ${color}`);
}

const BODY = [
  "## Plan",
  "",
  "| step | owner |",
  "| --- | --- |",
  "| migrate | **GreenCastle** |",
  "| review | BlueLake |",
  "",
  "- [x] write the migration",
  "- [ ] run the tests",
  "",
  "```ts",
  "const answer: number = 42; // the answer",
  "```",
  "",
  '<img src="x" onerror="window.__pwned = 1">',
  "",
  "<script>window.__pwned = 2</script>",
  "",
  "[click me](javascript:window.__pwned=3) and ![tracker](http://127.0.0.1:9/pixel.png) and [docs](https://example.com/docs)",
].join("\n");

describe("message bodies", () => {
  it("render GFM (table, task list, highlighted code); HTML, scripts, javascript: links and images execute or load nothing", async () => {
    const mcp = await connectMcp(app.url);
    const project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("markdown") });
    const register = (name: string) => callOk<AgentResult>(mcp, "register_agent", { project_key: project.slug, program: "claude-code", model: "opus", name });
    const [green, blue] = [await register("green-one"), await register("blue-two")];
    await callOk(mcp, "set_contact_policy", { project_key: project.slug, agent_name: blue.name, registration_token: blue.registration_token, policy: "open" });
    await callOk(mcp, "send_message", { project_key: project.slug, sender_name: green.name, sender_token: green.registration_token, to: [blue.name], subject: "Plan", body_md: BODY });
    await mcp.close();

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const dialogs: string[] = [];
    const requests: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on("request", (request) => requests.push(request.url()));
    try {
      await page.goto(`${app.url}/mail/${project.slug}/${blue.name}`);
      await page.getByTestId("mail-row").first().click();
      const body = page.getByTestId("message-body");
      await body.locator("table").waitFor({ timeout: 30_000 });

      expect(await body.locator("h2").innerText()).toBe("Plan");
      expect(await body.locator("th").allInnerTexts()).toEqual(["step", "owner"]);
      expect(await body.locator("tbody tr").count()).toBe(2);
      expect(await body.locator("tbody strong").innerText()).toBe("GreenCastle");
      const boxes = body.locator('li input[type="checkbox"]');
      expect(await boxes.count()).toBe(2);
      expect(await boxes.evaluateAll((inputs) => inputs.map((input) => [(input as HTMLInputElement).checked, (input as HTMLInputElement).disabled]))).toEqual([
        [true, true],
        [false, true],
      ]);
      const code = body.locator("pre code");
      expect(await code.getAttribute("class")).toContain("language-ts");
      expect(await code.locator(".hljs-keyword").first().innerText()).toBe("const");
      expect(await code.locator(".hljs-comment").innerText()).toBe("// the answer");

      // HTML is text: shown, not parsed; nothing ran, no image element, nothing fetched from the tracker.
      const text = await body.innerText();
      expect(text).toContain('<img src="x" onerror="window.__pwned = 1">');
      expect(text).toContain("<script>window.__pwned = 2</script>");
      expect(await body.locator("img, script").count()).toBe(0);
      expect(await body.getByText("[image: tracker]").getAttribute("href")).toBe("http://127.0.0.1:9/pixel.png");
      const scriptLink = body.getByText("click me");
      expect(await scriptLink.getAttribute("href")).not.toMatch(/^javascript:/i);
      await scriptLink.click();
      const docs = body.getByText("docs");
      expect(await docs.getAttribute("rel")).toBe("noopener noreferrer nofollow");
      expect(await docs.getAttribute("target")).toBe("_blank");
      expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(dialogs).toEqual([]);
      expect(requests.filter((url) => url.includes("pixel.png") || url.endsWith("/x"))).toEqual([]);
      await page.screenshot({ path: path.join(repoRoot, "test-results", "markdown.png"), fullPage: true });

      // The Sent tab does not keep the inbox's message open.
      await page.getByRole("tab", { name: "Sent" }).click();
      await body.waitFor({ state: "detached", timeout: 30_000 });
    } finally {
      await page.close();
    }
  });

  it("a message opens its whole thread in order, each body rendered; rows open with the keyboard", async () => {
    const mcp = await connectMcp(app.url);
    const project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("thread") });
    const register = (name: string) => callOk<AgentResult>(mcp, "register_agent", { project_key: project.slug, program: "codex", model: "gpt", name });
    const [green, blue] = [await register("green-three"), await register("blue-four")];
    for (const agent of [green, blue]) {
      await callOk(mcp, "set_contact_policy", { project_key: project.slug, agent_name: agent.name, registration_token: agent.registration_token, policy: "open" });
    }
    const sent = await callOk<{ deliveries: { payload: { id: number } }[] }>(mcp, "send_message", {
      project_key: project.slug, sender_name: green.name, sender_token: green.registration_token, to: [blue.name], subject: "Schema", body_md: "Shall I add **an index**?",
    });
    const answer = await callOk<{ deliveries: { payload: { id: number } }[] }>(mcp, "reply_message", {
      project_key: project.slug, message_id: sent.deliveries[0]!.payload.id, sender_name: blue.name, sender_token: blue.registration_token, body_md: "Yes: `CREATE INDEX`.",
    });
    await callOk(mcp, "reply_message", {
      project_key: project.slug, message_id: answer.deliveries[0]!.payload.id, sender_name: green.name, sender_token: green.registration_token, body_md: "Done, see the migration.",
    });
    await mcp.close();

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      await page.goto(`${app.url}/mail/${project.slug}/${blue.name}`);
      const rows = page.getByTestId("mail-row");
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="mail-row"]').length === 2, undefined, { timeout: 30_000 });
      // Newest first: the last reply. Opened from the keyboard.
      await rows.first().focus();
      await page.keyboard.press("Enter");
      await expect(page.getByTestId("message-body").innerText({ timeout: 30_000 })).resolves.toBe("Done, see the migration.");
      await page.getByRole("button", { name: /^Thread / }).click();
      const items = page.getByTestId("thread-message");
      await items.nth(2).waitFor({ timeout: 30_000 });
      const texts = await items.allInnerTexts();
      expect(texts.map((text) => text.split("\n").at(-1))).toEqual(["Shall I add an index?", "Yes: CREATE INDEX.", "Done, see the migration."]);
      expect(await items.nth(0).locator("strong").innerText()).toBe("an index");
      expect(await items.nth(1).locator("code").innerText()).toBe("CREATE INDEX");
      await page.screenshot({ path: path.join(repoRoot, "test-results", "thread.png"), fullPage: true });

      // Search finds the first message; its result opens the message in its thread, and the URL
      // keeps that state across a reload.
      await page.goto(`${app.url}/search?${new URLSearchParams({ project: project.slug, q: "index" })}`);
      const hit = page.getByTestId("search-hit").filter({ hasText: "Schema" }).first();
      await hit.waitFor({ timeout: 30_000 });
      expect(await hit.locator("mark").first().innerText()).toMatch(/^index$/i);
      await hit.getByRole("link").click();
      await page.waitForURL(/\/projects\/.+\?tab=mail&message=\d+&thread=1/);
      await page.getByTestId("thread-message").nth(2).waitFor({ timeout: 30_000 });
      await page.reload();
      await page.getByTestId("thread-message").nth(2).waitFor({ timeout: 30_000 });
      expect(await page.getByRole("tab", { name: "Mail" }).getAttribute("aria-selected")).toBe("true");
    } finally {
      await page.close();
    }
  });

  it("search snippets render only the engine's marks as elements, never an agent's HTML; dark mode follows the system", async () => {
    const mcp = await connectMcp(app.url);
    const project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("snippet") });
    const register = (name: string) => callOk<AgentResult>(mcp, "register_agent", { project_key: project.slug, program: "codex", model: "gpt", name });
    const [green, blue] = [await register("green-five"), await register("blue-six")];
    await callOk(mcp, "set_contact_policy", { project_key: project.slug, agent_name: blue.name, registration_token: blue.registration_token, policy: "open" });
    await callOk(mcp, "send_message", {
      project_key: project.slug, sender_name: green.name, sender_token: green.registration_token, to: [blue.name], subject: "Payload",
      body_md: 'zebra <img src="x" onerror="window.__pwned = 4"> zebra <b>bold</b>',
    });
    await mcp.close();
    const context = await browser.newContext({ colorScheme: "dark", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await page.goto(`${app.url}/search?${new URLSearchParams({ project: project.slug, q: "zebra" })}`);
      const snippet = page.getByTestId("snippet").first();
      await snippet.waitFor({ timeout: 30_000 });
      // Postgres drops tag-like tokens from headlines; whatever remains is text, never elements.
      expect(await snippet.innerText()).toContain("zebra");
      expect(await snippet.locator("img, b").count()).toBe(0);
      expect(await snippet.locator("mark").count()).toBeGreaterThan(0);
      expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
      // Dark mode: a dark page with light text.
      const [background, text] = await page.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]);
      expect(lightness(background)).toBeLessThan(0.3);
      expect(lightness(text)).toBeGreaterThan(0.8);
      await page.screenshot({ path: path.join(repoRoot, "test-results", "search-dark.png"), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("an agent that does not exist gets no compose form; /favicon.ico leads to the app's icon", async () => {
    const page = await browser.newPage();
    try {
      const mcp = await connectMcp(app.url);
      const project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("nobody") });
      await mcp.close();
      await page.goto(`${app.url}/mail/${project.slug}/NoSuchAgent`);
      await page.getByRole("alert").filter({ hasText: "not found" }).waitFor({ timeout: 30_000 });
      expect(await page.getByRole("button", { name: "Send" }).count()).toBe(0);
    } finally {
      await page.close();
    }
    const favicon = await fetch(`${app.url}/favicon.ico`, { redirect: "manual" });
    expect(favicon.status).toBe(308);
    expect(favicon.headers.get("location")).toBe("/icon.svg");
    const icon = await fetch(`${app.url}/icon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toContain("image/svg+xml");
  });
});
