import { afterAll, afterEach } from "vitest";
import { startArchiveWorker, type ArchiveWorker, type ArchiveWorkerOptions } from "@/server/archive/worker";
import type { Database } from "@/server/db/client";
import type { ArchiveConfig } from "@/server/services/context";
import { removeDir, tempDir, waitFor } from "../e2e/support/archive-git";

/**
 * Archive workers for one test file, on its database: started quickly (short poll and retry
 * intervals, no spacing of batches), stopped after each test, their temporary folders removed after the file.
 */
export function archiveWorkers(database: () => Database) {
  const workers: ArchiveWorker[] = [];
  const dirs: string[] = [];
  const stopAll = async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  };
  afterEach(stopAll);
  afterAll(() => {
    for (const dir of dirs) removeDir(dir);
  });
  return {
    workers,
    stopAll,
    /** A temporary folder, removed after the file's tests. */
    scratch(name: string): string {
      const dir = tempDir(name);
      dirs.push(dir);
      return dir;
    },
    start(config: ArchiveConfig, options: Partial<ArchiveWorkerOptions> = {}): ArchiveWorker {
      const worker = startArchiveWorker({ database: database(), config, pollMs: 50, lockRetryMs: 100, retryMs: 50, batchIntervalMs: 0, ...options });
      workers.push(worker);
      return worker;
    },
    async stop(worker: ArchiveWorker): Promise<void> {
      workers.splice(workers.indexOf(worker), 1);
      await worker.stop();
    },
    /** Waits until every outbox row is processed. */
    async drained(): Promise<void> {
      await waitFor("the outbox to drain", async () => (await database().prisma.archiveOutbox.count({ where: { processedTs: null } })) === 0);
    },
  };
}
