import { appendFileSync, lstatSync, mkdirSync, realpathSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { FileOp } from "./events";
import { ArchivePathError, resolveInArchive } from "./layout";

// Runs a batch's file operations inside the archive root. The paths are checked by layout.ts;
// here the file system is checked too: a folder on the way that resolves outside the root (a
// symbolic link, say, arriving from a remote) stops the batch, and a link where a file goes is
// replaced by the file, never written through.
//
// The calls are synchronous on purpose. A batch is hundreds of small files, each a few tens of
// microseconds of system calls: done here they run on the writer's own thread, at its lower
// priority (thread-main.ts), where the promise API would hand each to libuv's shared pool, at
// full priority and with a round trip per call. Where the writer shares the thread that serves
// requests (the embedded database), it yields every FILES_PER_TURN files.

export type BlobReader = (sha256: string) => Promise<Uint8Array | undefined>;

const FILES_PER_TURN = 32;

export class ArchiveWriter {
  private readonly checkedDirs = new Set<string>();
  private realRoot: string | undefined;

  constructor(private readonly root: string) {}

  private directoryFor(file: string): void {
    const dir = path.dirname(file);
    if (this.checkedDirs.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.realRoot ??= realpathSync(this.root);
    const real = realpathSync(dir);
    if (real !== this.realRoot && !real.startsWith(this.realRoot + path.sep)) throw new ArchivePathError("An archive folder resolves outside the archive.");
    this.checkedDirs.add(dir);
  }

  /** The kind of what is at `file` now: undefined when nothing; a link is removed first. */
  private existing(file: string): { size: number } | undefined {
    const found = lstatSync(file, { throwIfNoEntry: false });
    if (!found) return undefined;
    if (!found.isFile()) {
      unlinkSync(file);
      return undefined;
    }
    return { size: found.size };
  }

  /** Applies the operations in order; returns the repository-relative paths written (blobs that are gone are left out). */
  async apply(ops: readonly FileOp[], readBlob: BlobReader): Promise<string[]> {
    // Folders checked for an earlier batch may be gone since (a repair cleans the tree).
    this.checkedDirs.clear();
    this.realRoot = undefined;
    const written: string[] = [];
    for (const [index, op] of ops.entries()) {
      if (index > 0 && index % FILES_PER_TURN === 0) await nextTurn();
      const file = resolveInArchive(this.root, op.path);
      this.directoryFor(file);
      if (op.op === "write") {
        this.existing(file);
        writeFileSync(file, op.content, "utf8");
      } else if (op.op === "append") {
        if (this.existing(file)) appendFileSync(file, op.content, "utf8");
        else writeFileSync(file, op.header + op.content, "utf8");
      } else {
        const data = await readBlob(op.sha256);
        if (!data) continue;
        // Named by its hash: a file of the same size is the same content.
        if (this.existing(file)?.size !== data.byteLength) writeFileSync(file, data);
      }
      written.push(op.path);
    }
    return written;
  }
}
