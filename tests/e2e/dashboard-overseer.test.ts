import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser";
import { printServerLogOnFailure, startApp, type App } from "./support/app-server";
import { callOk, connectMcp, uniqueProjectPath, type AgentResult, type ProjectResult } from "./support/mcp";

// The human's side of the mail: agents write to HumanOverseer, the front page shows how much waits
// (and raises it without a reload), and the overseer answers in the thread, which reaches the
// agent's fetch_inbox.

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

interface InboxItem {
  id: number;
  subject: string;
  from: string;
  thread_id: string | null;
  body_md?: string;
}

describe("the overseer's inbox", () => {
  it("counts agents' mail to HumanOverseer on the front page, live, and the reply in the thread reaches the agent", async () => {
    const mcp = await connectMcp(app.url);
    const project = await callOk<ProjectResult>(mcp, "ensure_project", { human_key: uniqueProjectPath("overseer") });
    const agent = await callOk<AgentResult>(mcp, "register_agent", { project_key: project.slug, program: "claude-code", model: "opus", name: "worker-one" });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      // The overseer writes first (which makes HumanOverseer an agent of the project).
      await page.goto(`${app.url}/mail/${project.slug}/${agent.name}`);
      await page.getByLabel("Subject").fill("Status?");
      await page.getByLabel("Message").fill("Where are you with the migration?");
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByText(/Sent \(message \d+\)/).waitFor({ timeout: 30_000 });

      const inbox = () => callOk<{ result: InboxItem[] }>(mcp, "fetch_inbox", { project_key: project.slug, agent_name: agent.name, registration_token: agent.registration_token, include_bodies: true });
      const question = (await inbox()).result[0]!;
      await callOk(mcp, "reply_message", { project_key: project.slug, message_id: question.id, sender_name: agent.name, sender_token: agent.registration_token, body_md: "Half done; **blocked** on review." });

      await page.goto(`${app.url}/`);
      const badge = page.getByTestId("overseer-inbox");
      await badge.filter({ hasText: "Overseer inbox 1" }).waitFor({ timeout: 30_000 });
      // More mail while the page is open raises the count without a reload.
      await callOk(mcp, "send_message", { project_key: project.slug, sender_name: agent.name, sender_token: agent.registration_token, to: ["HumanOverseer"], subject: "Also", body_md: "One more thing." });
      await badge.filter({ hasText: "Overseer inbox 2" }).waitFor({ timeout: 30_000 });

      await badge.click();
      await page.waitForURL(`**/mail/${project.slug}/HumanOverseer`);
      await page.getByTestId("mail-row").filter({ hasText: "Re: Status?" }).click();
      await expect(page.getByTestId("message-body").innerText({ timeout: 30_000 })).resolves.toBe("Half done; blocked on review.");
      expect(await page.getByRole("button", { name: "Send" }).count()).toBe(0);
      await page.getByRole("button", { name: "Reply as HumanOverseer" }).click();
      await expect(page.getByRole("heading", { name: `Reply to ${agent.name}` }).count()).resolves.toBe(1);
      expect(await page.getByLabel("Subject").inputValue()).toBe("Re: Status?");
      await page.getByLabel("Message").fill("Thanks. Ask BlueLake for the review.");
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByText(/Sent \(message \d+\)/).waitFor({ timeout: 30_000 });

      const answer = (await inbox()).result.find((item) => item.subject === "Re: Status?" && item.from === "HumanOverseer");
      expect(answer).toMatchObject({ thread_id: String(question.id) });
      expect(answer!.body_md).toContain("Thanks. Ask BlueLake for the review.");
    } finally {
      await page.close();
      await mcp.close();
    }
  });
});
