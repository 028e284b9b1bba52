import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { seriousViolations } from "./support/axe";
import { launchChromium } from "./support/browser";
import { printServerLogOnFailure, repoRoot, startApp, type App } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type AgentResult, type ProjectResult } from "./support/mcp";

// The overseer's console against the built app with seeded data: the overview, a project's
// console (agents, reservations board with force-release, build slots, contacts, mail with
// per-recipient state, compose to several), the unified inbox, agent pages with retire, the
// archive browser, search filters, the keyboard, live updates, and axe-core on every page in
// light and dark. Screenshots go to test-results/screenshots (git-ignored).

const SHOTS = path.join(repoRoot, "test-results", "screenshots");

let app: App;
let browser: Browser;
let mcp: Awaited<ReturnType<typeof connectMcp>>;
let main: ProjectResult;
let other: ProjectResult;
let green: AgentResult;
let blue: AgentResult;
let red: AgentResult;
let planId: number;

interface SendResult {
  deliveries: { payload: { id: number } }[];
}

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchChromium()]);
  mcp = await connectMcp(app.url);
  main = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("console") });
  other = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("console-other") });
  const register = (project: ProjectResult, name: string, task: string) =>
    callOk<AgentResult>(mcp, "register_agent", { project_key: project.slug, program: "claude-code", model: "opus", name, task_description: task });
  green = await register(main, "GreenCastle", "API migration");
  blue = await register(main, "BlueLake", "Review");
  red = await register(other, "RedStone", "Docs");
  for (const [project, agent] of [[main, green], [main, blue], [other, red]] as const) {
    await callOk(mcp, "set_contact_policy", { project_key: project.slug, agent_name: agent.name, registration_token: agent.registration_token, policy: "open" });
  }
  const plan = await callOk<SendResult>(mcp, "send_message", {
    project_key: main.slug,
    sender_name: green.name,
    sender_token: green.registration_token,
    to: [blue.name],
    subject: "Migration plan",
    body_md: "## Plan\n\n- [x] schema\n- [ ] backfill",
    ack_required: true,
    thread_id: "MIG-1",
    attachments: [{ name: "plan.txt", media_type: "text/plain", content_base64: Buffer.from("step one\nstep two\n").toString("base64") }],
  });
  planId = plan.deliveries[0]!.payload.id;
  await callOk(mcp, "mark_message_read", { project_key: main.slug, agent_name: blue.name, registration_token: blue.registration_token, message_id: planId });
  await callOk(mcp, "send_message", {
    project_key: other.slug,
    sender_name: red.name,
    sender_token: red.registration_token,
    to: [red.name],
    subject: "Docs outline",
    body_md: "Notes to self.",
  });
  await callOk(mcp, "file_reservation_paths", {
    project_key: main.slug,
    agent_name: green.name,
    registration_token: green.registration_token,
    paths: ["src/api/**"],
    exclusive: true,
    ttl_seconds: 3600,
    reason: "API migration",
  });
  await callOk(mcp, "acquire_build_slot", { project_key: main.slug, agent_name: blue.name, registration_token: blue.registration_token, slot: "ci", ttl_seconds: 3600 });
}, 120_000);

printServerLogOnFailure(() => app);

afterAll(async () => {
  await mcp?.close();
  await browser?.close();
  await app?.stop();
});

/** Errors thrown in any page (a hydration mismatch, a failed render), with the page's URL. */
const pageErrors: string[] = [];

async function newPage(width = 1280): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 1000 } });
  page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  return page;
}

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

async function inbox(agent: AgentResult, project: ProjectResult) {
  return callOk<{ result: { id: number; subject: string; from: string; body_md?: string }[] }>(mcp, "fetch_inbox", {
    project_key: project.slug,
    agent_name: agent.name,
    registration_token: agent.registration_token,
    include_bodies: true,
  });
}

describe("the overseer's console", () => {
  it("the overview counts every project's agents, reservations and mail, and its activity feed is live", async () => {
    const page = await newPage();
    try {
      await page.goto(`${app.url}/`);
      const card = page.locator(`[data-testid="project-card"][data-project-slug="${main.slug}"]`);
      await card.getByTestId("stat-active").filter({ hasText: "2" }).waitFor({ timeout: 30_000 });
      expect(await card.getByTestId("stat-reservations").innerText()).toContain("1");
      expect(await card.getByTestId("stat-unread").innerText()).toContain("0");
      expect(await card.innerText()).toContain("1 build slot held.");
      const feed = page.getByTestId("activity-feed");
      await feed.getByText("Migration plan").waitFor({ timeout: 30_000 });
      await feed.getByText("Docs outline").waitFor();
      // Mail sent while the page is open shows up without a reload.
      await callOk(mcp, "send_message", { project_key: other.slug, sender_name: red.name, sender_token: red.registration_token, to: [red.name], subject: "Live one", body_md: "x" });
      await feed.getByText("Live one").waitFor({ timeout: 30_000 });
      expect(await card.getByTestId("stat-unread").innerText()).toContain("0");
    } finally {
      await page.close();
    }
  });

  it("a project's console: agents with state, the reservations board with force-release, build slots, and mail with each recipient's state", async () => {
    const page = await newPage();
    try {
      await page.goto(`${app.url}/projects/${main.slug}`);
      const agents = page.getByTestId("console-agent-row");
      await agents.nth(1).waitFor({ timeout: 30_000 });
      expect((await agents.allInnerTexts()).map((text) => text.split("\n")[0]).sort()).toEqual([blue.name, green.name].sort());
      expect(await agents.filter({ hasText: green.name }).getByTestId("agent-status").innerText()).toBe("active");
      expect(await page.getByTestId("build-slot-row").innerText()).toContain("ci");

      const board = page.getByTestId("reservation-row");
      await expect(board.count()).resolves.toBe(1);
      expect(await board.innerText()).toContain("src/api/**");
      expect(await board.innerText()).toContain(green.name);
      await page.getByRole("button", { name: `Force-release src/api/** held by ${green.name}` }).click();
      await page.getByRole("button", { name: "Confirm release" }).click();
      await page.getByTestId("reservations-empty").waitFor({ timeout: 30_000 });
      const notice = (await inbox(green, main)).result.find((item) => item.from === "HumanOverseer");
      expect(notice?.subject).toBe("[file-reservations] The overseer released your lock on src/api/**");
      const left = await callOk<{ conflicts: unknown[] }>(mcp, "file_reservation_paths", {
        project_key: main.slug, agent_name: blue.name, registration_token: blue.registration_token, paths: ["src/api/x.ts"], exclusive: true, ttl_seconds: 60,
      });
      expect(left.conflicts).toEqual([]);

      await page.getByRole("tab", { name: "Mail" }).click();
      await page.waitForURL(/\?tab=mail/);
      const row = page.getByTestId("project-mail-row").filter({ hasText: "Migration plan" });
      await row.waitFor({ timeout: 30_000 });
      expect(await row.getByTestId("read-state").innerText()).toBe("1/1 · ack 0/1");
      await row.click();
      const receipt = page.getByTestId("receipt-row").filter({ hasText: blue.name });
      await receipt.waitFor({ timeout: 30_000 });
      expect(await receipt.getByTestId("receipt-state").innerText()).toBe("read");
      // The agent acknowledges; the open view follows without a reload.
      await callOk(mcp, "acknowledge_message", { project_key: main.slug, agent_name: blue.name, registration_token: blue.registration_token, message_id: planId });
      await receipt.getByTestId("receipt-state").filter({ hasText: "acknowledged" }).waitFor({ timeout: 30_000 });
      await row.getByTestId("read-state").filter({ hasText: "ack 1/1" }).waitFor({ timeout: 30_000 });

      const link = page.getByTestId("attachments").getByRole("link", { name: "plan.txt" });
      const download = await page.request.get(new URL((await link.getAttribute("href"))!, app.url).toString());
      expect(download.status()).toBe(200);
      expect(await download.text()).toBe("step one\nstep two\n");
    } finally {
      await page.close();
    }
  });

  it("writes to several agents or the whole project as HumanOverseer, and retires an agent from its page", async () => {
    const extra = await callOk<AgentResult>(mcp, "register_agent", { project_key: main.slug, program: "codex", model: "gpt", name: "PinkFox" });
    const page = await newPage();
    try {
      await page.goto(`${app.url}/projects/${main.slug}?tab=write`);
      const compose = page.getByTestId("compose");
      await compose.getByLabel(green.name).check({ timeout: 30_000 });
      await compose.getByLabel(blue.name).check();
      await compose.getByLabel("Subject").fill("Freeze");
      await compose.getByLabel("Message").fill("Stop merging until **noon**.");
      await compose.getByRole("button", { name: "Send to 2 agents" }).click();
      await compose.getByText(/Sent \(message \d+\)/).waitFor({ timeout: 30_000 });
      for (const agent of [green, blue]) expect((await inbox(agent, main)).result.some((item) => item.subject === "Freeze")).toBe(true);
      expect((await inbox(extra, main)).result.some((item) => item.subject === "Freeze")).toBe(false);

      await compose.getByLabel(/broadcast/).check();
      await compose.getByLabel("Subject").fill("All hands");
      await compose.getByLabel("Message").fill("Standup in 5.");
      await compose.getByRole("button", { name: "Send to 3 agents" }).click();
      await compose.getByText(/to .*PinkFox/).waitFor({ timeout: 30_000 });
      const broadcast = (await inbox(extra, main)).result.find((item) => item.subject === "All hands");
      expect(broadcast?.from).toBe("HumanOverseer");
      expect(broadcast?.body_md).toContain("MESSAGE FROM HUMAN OVERSEER");

      await page.goto(`${app.url}/mail/${main.slug}/PinkFox`);
      const profile = page.getByTestId("agent-profile");
      await profile.getByTestId("agent-status").filter({ hasText: "active" }).waitFor({ timeout: 30_000 });
      await profile.getByRole("button", { name: "Retire" }).click();
      await profile.getByTestId("agent-status").filter({ hasText: "retired" }).waitFor({ timeout: 30_000 });
      const refused = await mcp.callTool({ name: "send_message", arguments: { project_key: main.slug, sender_name: green.name, sender_token: green.registration_token, to: ["PinkFox"], subject: "hi", body_md: "x" } });
      expect(refused.isError).toBe(true);
      await profile.getByRole("button", { name: "Unretire" }).click();
      await profile.getByTestId("agent-status").filter({ hasText: "active" }).waitFor({ timeout: 30_000 });
    } finally {
      await page.close();
    }
  });

  it("the unified inbox pages every project's mail and moves by keyboard: j, Enter, Esc, /", async () => {
    const page = await newPage();
    try {
      await page.goto(`${app.url}/inbox`);
      const rows = page.getByTestId("project-mail-row");
      await rows.filter({ hasText: "Docs outline" }).waitFor({ timeout: 30_000 });
      const texts = await rows.allInnerTexts();
      expect(texts.some((text) => text.includes(main.slug))).toBe(true);
      expect(texts.some((text) => text.includes(other.slug))).toBe(true);
      await page.locator("body").click({ position: { x: 5, y: 5 } });
      await page.keyboard.press("j");
      await page.keyboard.press("j");
      expect(await page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("project-mail-row");
      const focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
      await page.keyboard.press("Enter");
      await page.getByTestId("message-detail").waitFor({ timeout: 30_000 });
      await page.waitForURL(/message=\d+&in=/);
      expect(focused).toContain(await page.getByTestId("message-detail").locator("h3, [data-slot=card-title]").first().innerText());
      await page.keyboard.press("Escape");
      await page.getByTestId("message-detail").waitFor({ state: "detached", timeout: 30_000 });
      await page.keyboard.press("/");
      await page.waitForURL(/\/search/);
    } finally {
      await page.close();
    }
  });

  it("search filters by recipient and importance and opens the hit in its thread", async () => {
    const page = await newPage();
    try {
      const search = (params: Record<string, string>) => page.goto(`${app.url}/search?${new URLSearchParams({ project: main.slug, ...params })}`);
      await search({ q: "plan", recipient: blue.name });
      const hit = page.getByTestId("search-hit").filter({ hasText: "Migration plan" });
      await hit.waitFor({ timeout: 30_000 });
      await search({ q: "plan", recipient: green.name });
      await page.getByText("No message matches.").waitFor({ timeout: 30_000 });
      await search({ q: "plan", importance: "urgent" });
      await page.getByText("No message matches.").waitFor({ timeout: 30_000 });
      await search({ q: "plan", thread: "MIG-1", importance: "normal" });
      await hit.getByRole("link").click();
      await page.waitForURL(/\/projects\/.+\?tab=mail&message=\d+&thread=1/);
      await page.getByTestId("thread-view").waitFor({ timeout: 30_000 });
      // The thread's heuristic summary: who took part and the task list's progress.
      expect(await page.getByTestId("thread-summary").innerText()).toContain(`1 message from ${green.name} · 1 of 2 tasks done`);
    } finally {
      await page.close();
    }
  });

  it("the archive browser lists the project's commits, a commit's diff, and a file at that commit", async () => {
    const page = await newPage();
    try {
      await page.goto(`${app.url}/archive/${main.slug}`);
      // The archive worker writes after each commit, batching what queued up: the oldest commit
      // holds the setup's first writes, the plan among them.
      const oldest = page.getByTestId("archive-commit-row").last();
      await oldest.waitFor({ timeout: 30_000 });
      await oldest.click();
      const diff = page.getByTestId("archive-diff");
      await diff.waitFor({ timeout: 30_000 });
      expect(await diff.innerText()).toContain("+## Plan");
      await page.getByRole("button", { name: new RegExp(`projects/${main.slug}/messages/\\d{4}/\\d{2}/.*\\.md$`) }).first().click();
      const file = page.getByTestId("archive-file");
      await file.waitFor({ timeout: 30_000 });
      expect(await file.innerText()).toContain("- [ ] backfill");
      await page.getByRole("group", { name: "History of" }).getByRole("button", { name: green.name, exact: true }).click();
      await page.waitForURL(new RegExp(`path=projects%2F${main.slug}%2Fagents%2F${green.name}`));
      await page.getByTestId("archive-commit-row").first().waitFor({ timeout: 30_000 });
    } finally {
      await page.close();
    }
  });

  it("every page has no serious or critical axe-core violation, in light and dark, and is screenshotted", async () => {
    mkdirSync(SHOTS, { recursive: true });
    const pages: [string, string, string][] = [
      ["overview", "/", '[data-testid="project-card"]'],
      ["inbox", `/inbox?message=${planId}&in=${main.slug}`, '[data-testid="receipt-row"]'],
      ["project", `/projects/${main.slug}`, '[data-testid="console-agent-row"]'],
      ["project-mail", `/projects/${main.slug}?tab=mail&message=${planId}&thread=1`, '[data-testid="thread-view"]'],
      ["project-write", `/projects/${main.slug}?tab=write`, '[data-testid="compose"]'],
      ["agent", `/mail/${main.slug}/${blue.name}`, '[data-testid="agent-profile"]'],
      ["search", `/search?${new URLSearchParams({ project: main.slug, q: "plan" })}`, '[data-testid="search-hit"]'],
      ["archive", `/archive/${main.slug}`, '[data-testid="archive-commit-row"]'],
      ["admin", "/admin", '[data-testid="tokens-admin"]'],
    ];
    const found: string[] = [];
    for (const scheme of ["light", "dark"] as const) {
      for (const [name, url, ready] of pages) {
        for (const width of name === "overview" || name === "project" ? [1280, 390] : [1280]) {
          const page = await newPage(width);
          try {
            await page.emulateMedia({ colorScheme: scheme });
            await page.goto(`${app.url}${url}`);
            await page.locator(ready).first().waitFor({ timeout: 30_000 });
            const violations = await seriousViolations(page);
            found.push(...violations.map((violation) => `${name} ${scheme} ${width}px — ${violation}`));
            await page.screenshot({ path: path.join(SHOTS, `${name}-${scheme}${width < 600 ? "-phone" : ""}.png`), fullPage: true });
          } finally {
            await page.close();
          }
        }
      }
    }
    expect(found).toEqual([]);
  }, 300_000);
});
