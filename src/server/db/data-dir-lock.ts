import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import path from "node:path";

// PGlite is an in-process database: two processes opening one data directory would corrupt it.
// A lock file naming the owner keeps a second process out; a lock left by a dead process (crash,
// kill -9) is taken over.
//
// A pid alone cannot tell the owner from an unrelated process that was given the same pid later
// (after a reboot, a container restart, or pid wrap-around), which would keep the directory locked
// for good. So on Linux the lock also records the kernel's boot id and the owner's start time,
// which together name one process once and for all. The file holds the pid on its first line
// (all that older versions wrote, and all that they read) and that identity on the second.

export class DataDirLockedError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `Another Mailroom process (pid ${pid}) is already using the embedded database in ${dataDir}. ` +
        `Stop it, choose another DATA_DIR, or set DATABASE_URL to share a Postgres server between processes.`,
    );
    this.name = "DataDirLockedError";
  }
}

interface LockOwner {
  pid: number;
  /** processIdentity(pid) as the owner wrote it; absent in old locks and on other platforms. */
  identity?: string;
}

/**
 * What names process `pid` for as long as the machine runs: "linux <boot id> <start time>", the
 * start time being field 22 of /proc/<pid>/stat (clock ticks since boot). Undefined off Linux and
 * when the process cannot be looked at (gone, or /proc hides it).
 */
export function processIdentity(pid: number): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2, the command name, is in parentheses and may itself hold spaces and parentheses:
    // the fields after the last ")" start at field 3.
    const startTime = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[22 - 3];
    return bootId && startTime ? `linux ${bootId} ${startTime}` : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The lock's owner; a pid of NaN when the lock has just been released. */
function readOwner(lockPath: string): LockOwner {
  let text: string;
  try {
    text = readFileSync(lockPath, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { pid: Number.NaN };
    throw error;
  }
  const [pidLine = "", identityLine = ""] = text.split("\n");
  return { pid: Number.parseInt(pidLine, 10), identity: identityLine.trim() || undefined };
}

/** Whether the process that wrote the lock is still running (as far as this platform can tell). */
function ownerIsRunning(owner: LockOwner): boolean {
  // Our own pid in the lock was written by an earlier process that had it (PID 1 in a restarted container).
  if (!Number.isInteger(owner.pid) || owner.pid <= 0 || owner.pid === process.pid) return false;
  if (!isAlive(owner.pid)) return false;
  if (owner.identity === undefined) return true;
  const current = processIdentity(owner.pid);
  // Without a way to look at the process, a live pid has to be taken at its word.
  return current === undefined || current === owner.identity;
}

/** Who holds the data directory's lock, without taking it (`mailroom doctor`). */
export function dataDirLockState(dataDir: string): { state: "free" } | { state: "held" | "stale"; pid: number } {
  const owner = readOwner(path.join(dataDir, "mailroom.lock"));
  if (Number.isNaN(owner.pid)) return { state: "free" };
  return { state: ownerIsRunning(owner) ? "held" : "stale", pid: owner.pid };
}

/** A data-directory lock this process holds (tooling/locks shows them). */
export interface HeldLock {
  path: string;
  pid: number;
  acquiredAt: Date;
}

const held = new Map<string, HeldLock>();

export function heldDataDirLocks(): HeldLock[] {
  return [...held.values()];
}

export function acquireDataDirLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, "mailroom.lock");
  const identity = processIdentity(process.pid);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, identity ? `${process.pid}\n${identity}\n` : String(process.pid));
      closeSync(fd);
      held.set(lockPath, { path: lockPath, pid: process.pid, acquiredAt: new Date() });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        held.delete(lockPath);
        rmSync(lockPath, { force: true });
      };
      process.once("exit", release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = readOwner(lockPath);
      if (ownerIsRunning(owner)) throw new DataDirLockedError(dataDir, owner.pid);
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not lock ${dataDir}`);
}
