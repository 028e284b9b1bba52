import { appendFile, lstat, mkdir, realpath, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { FileOp } from "./events";
import { ArchivePathError, resolveInArchive } from "./layout";

// Runs a batch's file operations inside the archive root. The paths are checked by layout.ts;
// here the file system is checked too: a folder on the way that resolves outside the root (a
// symbolic link, say, arriving from a remote) stops the batch, and a link where a file goes is
// replaced by the file, never written through.

export type BlobReader = (sha256: string) => Promise<Uint8Array | undefined>;

export class ArchiveWriter {
  private readonly checkedDirs = new Set<string>();
  private realRoot: string | undefined;

  constructor(private readonly root: string) {}

  private async directoryFor(file: string): Promise<void> {
    const dir = path.dirname(file);
    if (this.checkedDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.realRoot ??= await realpath(this.root);
    const real = await realpath(dir);
    if (real !== this.realRoot && !real.startsWith(this.realRoot + path.sep)) throw new ArchivePathError("An archive folder resolves outside the archive.");
    this.checkedDirs.add(dir);
  }

  /** The kind of what is at `file` now: undefined when nothing; a link is removed first. */
  private async existing(file: string): Promise<{ size: number } | undefined> {
    const found = await lstat(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (!found) return undefined;
    if (!found.isFile()) {
      await unlink(file);
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
    for (const op of ops) {
      const file = resolveInArchive(this.root, op.path);
      await this.directoryFor(file);
      const existing = await this.existing(file);
      if (op.op === "write") {
        await writeFile(file, op.content, "utf8");
      } else if (op.op === "append") {
        await (existing ? appendFile(file, op.content, "utf8") : writeFile(file, op.header + op.content, "utf8"));
      } else {
        const data = await readBlob(op.sha256);
        if (!data) continue;
        // Named by its hash: a file of the same size is the same content.
        if (existing?.size !== data.byteLength) await writeFile(file, data);
      }
      written.push(op.path);
    }
    return written;
  }
}
