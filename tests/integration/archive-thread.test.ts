import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveStatus } from "@/server/archive/status";
import { ArchiveThread } from "@/server/archive/thread";
import { workersFor } from "@/server/archive/worker";
import { invoke } from "@/server/operations/invoke";
import { sendMessageInput } from "@/server/schemas/messages";
import { sendMessage } from "@/server/services/messages/send";
import { archiveConfig, commits, git, removeDir, tempDir, waitFor } from "../e2e/support/archive-git";
import { archiveWorkers } from "../helpers/archive-workers";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// The archive writer in a worker thread of its own, as the server runs it on Postgres: it writes
// and commits, reports its state to health_check through the parent, gives the lock up when
// stopped, and is started again when the thread dies. PGlite cannot be shared with a thread, so
// these run on Postgres only (TEST_DATABASE_URL).

const POSTGRES = Boolean(process.env.TEST_DATABASE_URL);
let db: Awaited<ReturnType<typeof openTestDatabase>>;
const dirs: string[] = [];
const threads: ArchiveThread[] = [];
const { start, drained } = archiveWorkers(() => db);

beforeAll(async () => {
  if (POSTGRES) db = await openTestDatabase();
});

afterAll(async () => {
  await Promise.all(threads.map((thread) => thread.stop()));
  await db?.close();
  dirs.forEach(removeDir);
});

function scratch(name: string): string {
  const dir = tempDir(name);
  dirs.push(dir);
  return dir;
}

describe.runIf(POSTGRES)("the archive writer thread (Postgres)", () => {
  it("commits a send, reports itself as the writer, and gives the lock up when stopped", async () => {
    const dir = path.join(scratch("archive-thread"), "repo");
    const config = archiveConfig(dir);
    const { ctx, agents } = await projectWithAgents(db, "/archive-thread/p1", ["GreenLake", "BlueDog"]);
    const thread = new ArchiveThread({ url: db.url!, config }).start();
    threads.push(thread);
    expect(workersFor(path.resolve(dir))).toContain(thread);

    await invoke(sendMessage, ctx, sendMessageInput.parse({ project_key: "/archive-thread/p1", sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: "From the thread", body_md: "x" }));
    const status = await waitFor("the thread's commit", async () => {
      const current = await archiveStatus(db.prisma, config);
      return current.pending_events === 0 && current.role === "writer" ? current : undefined;
    });
    // Alone, or in a batch with the agents' profiles.
    expect(commits(dir).some((commit) => commit.message.includes("mail: GreenLake -> BlueDog | From the thread"))).toBe(true);
    expect(status).toMatchObject({ last_commit_sha: git(dir, "rev-parse", "HEAD").trim(), last_error: null });
    expect(status.events_written).toBeGreaterThanOrEqual(3);

    await thread.stop();
    expect(thread.state().role).toBe("disabled");
    expect(workersFor(path.resolve(dir))).not.toContain(thread);
    // The lock went with the thread: a worker in this thread takes it and writes the next send.
    const successor = start(config);
    await invoke(sendMessage, ctx, sendMessageInput.parse({ project_key: "/archive-thread/p1", sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: "After the thread", body_md: "y" }));
    await drained();
    expect(successor.state().role).toBe("writer");
    expect(commits(dir).at(-1)!.subject).toBe("mail: GreenLake -> BlueDog | After the thread");
  });

  it("starts a thread that died again, and none once stopped", async () => {
    const folder = scratch("archive-thread-crash");
    const counter = path.join(folder, "starts");
    writeFileSync(counter, "");
    // Records each start; the first thread dies at once, as a crashing one would; the next stays
    // up until told to stop, then ends, as a healthy one does.
    const entry = path.join(folder, "crash-entry.cjs");
    writeFileSync(
      entry,
      `const fs = require("node:fs"); const { parentPort } = require("node:worker_threads");
       fs.appendFileSync(${JSON.stringify(counter)}, "x");
       if (fs.readFileSync(${JSON.stringify(counter)}, "utf8").length === 1) throw new Error("thread crashed");
       parentPort.on("message", (message) => { if (message.type === "stop") process.exit(0); });\n`,
    );
    const thread = new ArchiveThread({ url: db.url!, config: archiveConfig(path.join(folder, "repo")) }, undefined, entry).start();
    threads.push(thread);
    await waitFor("a second start", () => readFileSync(counter, "utf8").length >= 2 || undefined);
    expect(thread.state()).toMatchObject({ role: "standby", last_error: "The archive writer thread failed; it is started again." });
    // The running thread ends because of the stop: that exit must not start another.
    await thread.stop();
    // Longer than the restart delay after a second death (1.5 s doubled).
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(readFileSync(counter, "utf8")).toBe("xx");
  });

});
