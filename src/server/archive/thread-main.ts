import { readlinkSync } from "node:fs";
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { FromThread, ThreadData, ToThread } from "./thread";
import { ArchiveWorker } from "./worker";

// Inside the archive writer thread (thread.ts): one ArchiveWorker on its own Postgres session,
// woken by the parent, reporting its state after each turn, stopped by the parent's "stop".

if (!parentPort) throw new Error("thread-main runs in the archive writer thread only");
const port = parentPort;
const { url, config } = workerData as ThreadData;

/**
 * On Linux a thread has a priority of its own: this one yields the CPU to the threads serving
 * requests (nice +10; its git processes, started from it, another +10), so that on a busy machine
 * the archive lags, not mail.
 */
function lowerThreadPriority(): void {
  if (process.platform !== "linux") return;
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    // Relative to where it stands (a niced server stays niced), never raised.
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, Math.min(19, os.getPriority(tid) + 10));
  } catch (error) {
    console.warn(`[archive] the writer thread keeps its priority: ${(error as Error).message}`);
  }
}

lowerThreadPriority();

/** The parent's word on whether it is busy serving requests (thread.ts measures it). */
let busy = false;

const worker = new ArchiveWorker({
  database: { kind: "postgres", url },
  config,
  busy: () => busy,
  onState: (state) => port.postMessage({ type: "state", state } satisfies FromThread),
}).start();

port.on("message", (message: ToThread) => {
  if (message.type === "wake") worker.wake();
  else if (message.type === "busy") busy = message.busy;
  else if (message.type === "stop") {
    void worker.stop().then(() => {
      port.postMessage({ type: "stopped", state: worker.state() } satisfies FromThread);
      port.close();
    });
  }
});
