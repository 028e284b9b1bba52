import { createHash, randomBytes, type Hash } from "node:crypto";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { AppError, quote } from "@/server/errors";

// An export is written into a staging directory beside the target and renamed into place once
// complete, so the target is either absent/empty or a whole bundle, never half of one. The target
// must be new or an empty directory: an export never overwrites or mixes with other files.

export interface WrittenFile {
  /** Path inside the bundle, always with `/`. */
  path: string;
  bytes: number;
  sha256: string;
}

/** One file of the bundle, written in pieces, hashed and counted as it goes. */
export class BundleFile {
  private readonly hash: Hash = createHash("sha256");
  private bytes = 0;

  private constructor(
    private readonly handle: FileHandle,
    readonly relativePath: string,
  ) {}

  static async create(root: string, relativePath: string): Promise<BundleFile> {
    const target = path.join(root, ...relativePath.split("/"));
    await mkdir(path.dirname(target), { recursive: true });
    return new BundleFile(await open(target, "wx"), relativePath);
  }

  async write(chunk: string | Uint8Array): Promise<void> {
    const data = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    this.hash.update(data);
    this.bytes += data.byteLength;
    await this.handle.write(data);
  }

  async close(): Promise<WrittenFile> {
    await this.handle.close();
    return { path: this.relativePath, bytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  /** Closes without a result (the export failed). */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}

export interface Staging {
  /** The resolved target directory. */
  target: string;
  /** Where the bundle is written until `publish`. */
  dir: string;
  publish(): Promise<void>;
  abort(): Promise<void>;
}

function notEmpty(out: string): AppError {
  return new AppError("CONFLICT", `--out '${quote(out)}' is not empty; give a new or empty directory (an export never overwrites files).`, {
    field: "out",
  });
}

/** Checks the target and creates the staging directory next to it. */
export async function prepareOutput(out: string): Promise<Staging> {
  const target = path.resolve(out);
  const existing = await stat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (existing && !existing.isDirectory()) {
    throw new AppError("CONFLICT", `--out '${quote(out)}' exists and is not a directory.`, { field: "out" });
  }
  if (existing && (await readdir(target)).length > 0) throw notEmpty(out);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const dir = path.join(parent, `.${path.basename(target)}.partial-${randomBytes(6).toString("hex")}`);
  await mkdir(dir);
  return {
    target,
    dir,
    async publish() {
      try {
        // rename() replaces an empty directory and fails on a non-empty one, so a target that
        // filled up meanwhile is refused here too.
        await rename(dir, target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") throw notEmpty(out);
        throw error;
      }
    },
    async abort() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
