// A process that runs only the archive writer, for the crash tests (tests/e2e/archive-crash.test.ts):
// the test kills it with SIGKILL at a chosen stage of a batch, or at random, and starts another.
//
//   node --import tsx tests/e2e/support/archive-worker-child.mts
//
// Settings (environment):
//   CHILD_DATABASE_URL   Postgres URL; else CHILD_DATA_DIR, an embedded database folder
//   CHILD_ARCHIVE_DIR    the archive repository
//   CHILD_SEED           "<project key>:<count>": first register two agents there and send <count> messages
//                        (thread CRASH) — for the embedded database, which only this process can open
//   CHILD_PAUSE          afterWrite | afterCommit: at that stage of the first batch that writes anything,
//                        write CHILD_ARCHIVE_DIR + ".paused" and wait forever (the test kills us there)
//   CHILD_DRAIN          "1": exit 0 once the outbox is empty, printing {"drained":true,...} on stdout
import { writeFileSync } from "node:fs";
import { startArchiveWorker, type StageHooks } from "../../../src/server/archive/worker";
import { openDatabase } from "../../../src/server/db/client";
import { invoke } from "../../../src/server/operations/invoke";
import { sendMessageInput } from "../../../src/server/schemas/messages";
import { sendMessage } from "../../../src/server/services/messages/send";
import { serviceContext } from "../../helpers/context";
import { projectWithAgents } from "../../helpers/mail";

const env = process.env;
const archiveDir = env.CHILD_ARCHIVE_DIR!;
const database = await openDatabase(env.CHILD_DATABASE_URL ? { url: env.CHILD_DATABASE_URL, poolMax: 4 } : { dataDir: env.CHILD_DATA_DIR! });

if (env.CHILD_SEED) {
  const [key, count] = env.CHILD_SEED.split(":") as [string, string];
  const { agents } = await projectWithAgents(database, key, ["GreenLake", "BlueDog"]);
  const ctx = serviceContext(database);
  for (let index = 0; index < Number(count); index += 1) {
    await invoke(
      sendMessage,
      ctx,
      sendMessageInput.parse({ project_key: key, sender_name: "GreenLake", sender_token: agents.GreenLake!.token, to: ["BlueDog"], subject: `M${index}`, body_md: `body ${index}`, thread_id: "CRASH" }),
    );
  }
}

const pause = env.CHILD_PAUSE as keyof StageHooks | undefined;
const hold = async (stage: string) => {
  writeFileSync(`${archiveDir}.paused`, stage);
  await new Promise(() => {});
};
const hooks: StageHooks = {};
if (pause === "afterWrite") hooks.afterWrite = (ids) => (ids.length ? hold(pause) : undefined);
if (pause === "afterCommit") hooks.afterCommit = () => hold(pause);

const worker = startArchiveWorker({
  database,
  config: { enabled: true, dir: archiveDir, authorName: "Crash Test", authorEmail: "crash@example.com" },
  pollMs: 50,
  lockRetryMs: 200,
  retryMs: 100,
  hooks,
});
console.log(JSON.stringify({ started: true, pid: process.pid }));

if (env.CHILD_DRAIN === "1") {
  for (;;) {
    const pending = await database.prisma.archiveOutbox.count({ where: { processedTs: null } });
    if (pending === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const state = worker.state();
  await worker.stop();
  await database.close();
  console.log(JSON.stringify({ drained: true, ...state }));
  process.exit(0);
}
