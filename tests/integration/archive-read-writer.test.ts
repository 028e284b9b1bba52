import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messagePath } from "@/server/archive/layout";
import { startArchiveWorker, type ArchiveWorker } from "@/server/archive/worker";
import { invoke } from "@/server/operations/invoke";
import { whois } from "@/server/services/agents/queries";
import { archiveCommit, archiveFile } from "@/server/services/archive/operations";
import type { ServiceContext } from "@/server/services/context";
import { sendMessage } from "@/server/services/messages/send";
import { testConfig } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";
import { readAgentResource, readUri } from "../helpers/resources";

// The reader over what the real writer wrote: the worker (src/server/archive/worker.ts) turns the
// outbox of two projects' sends into one batch commit, and whois, the mailbox resources and the
// archive operations read it back through the same layout, with nothing of the other project and
// no blind-copied name shown to a recipient.

const ALPHA = "/archive-read-writer/alpha";
const BETA = "/archive-read-writer/beta";

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let dir: string;
let worker: ArchiveWorker | undefined;
let alpha: { ctx: ServiceContext; slug: string; agents: Record<string, TestAgent> };
let messageId: number;
let commitSha: string;

async function drained(): Promise<void> {
  // The worker polls every 50 ms; the vitest hook timeout bounds the wait.
  while ((await db.prisma.archiveOutbox.count({ where: { processedTs: null } })) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
}

beforeAll(async () => {
  db = await openTestDatabase();
  dir = path.join(mkdtempSync(path.join(os.tmpdir(), "mailroom-archive-read-writer-")), "repo");
  const config = { archive: { ...testConfig.archive, enabled: true, dir } };
  const a = await projectWithAgents(db, ALPHA, ["GreenLake", "BlueDog", "RedCat"], config);
  const b = await projectWithAgents(db, BETA, ["PinkFox"], config);
  alpha = { ctx: a.ctx, slug: a.project.slug, agents: a.agents };
  // Both sends wait in the outbox before the worker starts, so they share its first batch.
  const sent = await invoke(sendMessage, a.ctx, {
    project_key: ALPHA,
    sender_name: "GreenLake",
    sender_token: a.agents.GreenLake!.token,
    to: ["BlueDog"],
    bcc: ["RedCat"],
    subject: "Rollout plan",
    body_md: "First step.\nSecond step.",
  });
  messageId = sent.deliveries[0]!.payload.id;
  await invoke(sendMessage, b.ctx, { project_key: BETA, sender_name: "PinkFox", sender_token: b.agents.PinkFox!.token, to: ["PinkFox"], subject: "beta only", body_md: "Beta's business." });
  worker = startArchiveWorker({ database: db, config: config.archive, pollMs: 50, lockRetryMs: 100, retryMs: 50 });
  await drained();
  const row = await db.prisma.archiveOutbox.findFirstOrThrow({ where: { messageId } });
  commitSha = row.commitSha!;
});

afterAll(async () => {
  await worker?.stop();
  await db?.close();
  if (dir) rmSync(path.dirname(dir), { recursive: true, force: true });
});

describe("reading what the writer wrote", () => {
  it("the recipient's inbox carries the message's commit, without the bcc name or the front matter", async () => {
    const inbox = await readAgentResource(alpha.ctx, "inbox", "BlueDog", new URLSearchParams({ project: ALPHA, agent_token: alpha.agents.BlueDog!.token }));
    const item = inbox.messages.find((message) => message.id === messageId);
    expect(item.commit).toMatchObject({ hexsha: commitSha.slice(0, 12), deletions: 0, diff_summary: { hunks: 1, excerpt: ["+First step.", "+Second step."] } });
    expect(JSON.stringify(inbox)).not.toContain("RedCat");
    const full = await readUri(alpha.ctx, `resource://mailbox-with-commits/BlueDog?project=${encodeURIComponent(ALPHA)}&agent_token=${alpha.agents.BlueDog!.token}`);
    expect(full.messages[0].commit).toEqual(item.commit);
  });

  it("whois lists the agent's profile and mail commits", async () => {
    const result = await invoke(whois, alpha.ctx, { project_key: ALPHA, agent_name: "GreenLake", registration_token: alpha.agents.GreenLake!.token });
    const hexshas = result.recent_commits!.map((commit) => commit.hexsha);
    expect(hexshas[0]).toBe(commitSha.slice(0, 12));
    expect(result.recent_commits!.length).toBeGreaterThanOrEqual(1);
  });

  it("archive_commit shows the batch as far as this project's files, archive_file reads the canonical copy", async () => {
    const detail = await invoke(archiveCommit, alpha.ctx, { project_key: ALPHA, sha: commitSha });
    // The worker's first batch held both projects' events.
    expect(detail).toMatchObject({ shared: true, message: expect.stringContaining("withheld") });
    expect(detail.files.every((file) => file.path.startsWith(`projects/${alpha.slug}/`))).toBe(true);
    expect(JSON.stringify(detail)).not.toContain("beta only");
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id: messageId } });
    const canonical = messagePath(alpha.slug, { id: messageId, subject: message.subject, createdTs: message.createdTs });
    expect(detail.files.map((file) => file.path)).toContain(canonical);
    const file = await invoke(archiveFile, alpha.ctx, { project_key: ALPHA, path: canonical, sha: commitSha });
    expect(file.content).toContain("First step.\nSecond step.");
  });
});
