import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireDataDirLock, DataDirLockedError, processIdentity } from "@/server/db/data-dir-lock";

// The lock of the embedded database's folder: a live owner keeps others out; a dead one, or a pid
// now worn by an unrelated process, does not.

let dataDir: string;
let lockPath: string;
const children: ChildProcess[] = [];

/** A live process that is not this one (so it cannot be mistaken for an earlier run of this process). */
async function otherProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
  children.push(child);
  await new Promise((resolve, reject) => child.once("spawn", resolve).once("error", reject));
  return child;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

function expectTakenOver(): void {
  const release = acquireDataDirLock(dataDir);
  expect(readFileSync(lockPath, "utf8").split("\n")[0]).toBe(String(process.pid));
  release();
}

beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "mailroom-lock-"));
  lockPath = path.join(dataDir, "mailroom.lock");
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the data directory lock", () => {
  it("names its owner's pid on the first line, and its release removes it", () => {
    const release = acquireDataDirLock(dataDir);
    const [pid, identity] = readFileSync(lockPath, "utf8").split("\n");
    expect(pid).toBe(String(process.pid));
    if (process.platform === "linux") expect(identity).toBe(processIdentity(process.pid));
    release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it("refuses a lock held by a live process whose identity matches, naming its pid", async () => {
    const owner = await otherProcess();
    const identity = processIdentity(owner.pid!);
    writeFileSync(lockPath, identity ? `${owner.pid}\n${identity}\n` : String(owner.pid));
    expect(() => acquireDataDirLock(dataDir)).toThrow(DataDirLockedError);
    expect(() => acquireDataDirLock(dataDir)).toThrow(`(pid ${owner.pid})`);
    expect(readFileSync(lockPath, "utf8").split("\n")[0]).toBe(String(owner.pid));
  });

  it("refuses an old lock (pid only) held by a live process", async () => {
    const owner = await otherProcess();
    writeFileSync(lockPath, String(owner.pid));
    expect(() => acquireDataDirLock(dataDir)).toThrow(DataDirLockedError);
  });

  it("takes over a lock naming a dead pid", async () => {
    writeFileSync(lockPath, String(await deadPid()));
    expectTakenOver();
  });

  it("takes over a lock left by a process that has exited, identity and all", async () => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 200)"], { stdio: "ignore" });
    await new Promise((resolve) => child.once("spawn", resolve));
    const identity = processIdentity(child.pid!);
    await new Promise((resolve) => child.once("exit", resolve));
    writeFileSync(lockPath, identity ? `${child.pid}\n${identity}\n` : String(child.pid));
    expectTakenOver();
  });

  describe.runIf(process.platform === "linux")("on Linux, where a process's start time tells a reused pid", () => {
    it("takes over a lock whose pid is alive but belongs to a process started at another time", async () => {
      const owner = await otherProcess();
      const identity = processIdentity(owner.pid!)!;
      const startTime = Number(identity.split(" ")[2]);
      writeFileSync(lockPath, `${owner.pid}\n${identity.replace(/ \d+$/, ` ${startTime - 1}`)}\n`);
      expectTakenOver();
    });

    it("takes over a lock written during an earlier boot", async () => {
      const owner = await otherProcess();
      const [, , startTime] = processIdentity(owner.pid!)!.split(" ");
      writeFileSync(lockPath, `${owner.pid}\nlinux 00000000-0000-0000-0000-000000000000 ${startTime}\n`);
      expectTakenOver();
    });

    it("takes over a lock naming pid 1 with another start time (pid reuse after a reboot)", () => {
      const identity = processIdentity(1);
      if (identity === undefined) return; // pid 1 hidden from this process (hidepid): nothing to check
      writeFileSync(lockPath, `1\n${identity}9\n`);
      expectTakenOver();
    });

    it("reads the start time past a command name holding spaces and parentheses", async () => {
      const child = spawn(process.execPath, ["-e", "process.title = 'a) b (c'; setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
      children.push(child);
      await new Promise((resolve) => child.once("spawn", resolve));
      const before = processIdentity(child.pid!);
      expect(before).toMatch(/^linux [0-9a-f-]{36} \d+$/);
      while (!readFileSync(`/proc/${child.pid}/stat`, "utf8").includes("(a) b (c)")) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(processIdentity(child.pid!)).toBe(before);
    });
  });
});
