import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  ArchivePathError,
  agentDir,
  attachmentPath,
  mailboxPath,
  messageFileName,
  messageIdFromFileName,
  messagePath,
  profilePath,
  projectDirName,
  reservationPath,
  resolveInArchive,
  safeSlug,
  threadFileName,
  threadPath,
} from "@/server/archive/layout";

// The archive layout (reference §8) and its one promise: whatever the database holds, every path
// stays inside the archive root. The corpus below is the usual traversal material (dot segments,
// absolute paths, encodings, NUL, separators of both kinds, huge and Unicode input), fed to every
// function that builds a path from data.

const ROOT = "/srv/archive-root";
const AT = new Date("2025-03-04T05:06:07.891Z");

const CORPUS = [
  "..",
  ".",
  "../../etc/passwd",
  "..\\..\\windows\\system32",
  "/etc/passwd",
  "C:\\Windows\\win.ini",
  "\\\\server\\share\\x",
  "%2e%2e%2f%2e%2e%2fetc",
  "%2e%2e",
  "..%2f..%2f",
  "%252e%252e%252f",
  "a/../../b",
  "a\0b",
  "\0",
  "....//....//",
  ".../...",
  "~/.ssh/id_rsa",
  "$(rm -rf /)",
  "`id`",
  "name\nwith\nnewlines",
  "tab\tname",
  "  spaced  ",
  "",
  "-",
  "_",
  "-_-",
  "日本語の件名",
  "🙂🙃",
  "e\u0301\u0301\u0301",
  "\u202e\u2066evil",
  "．．／．．／",
  "..\u2215..\u2215etc",
  "x".repeat(10_000),
  "../".repeat(2_000),
  "é".repeat(300),
  "CON",
  "nul.txt",
];

function inside(relative: string): void {
  expect(relative).not.toMatch(/(^|\/)\.\.?(\/|$)/);
  expect(relative.startsWith("/")).toBe(false);
  const resolved = resolveInArchive(ROOT, relative);
  expect(resolved.startsWith(ROOT + path.sep)).toBe(true);
  for (const component of relative.split("/")) expect(Buffer.byteLength(component)).toBeLessThanOrEqual(255);
}

/** Either a path inside the root, or a refusal with ArchivePathError: never anything else. */
function insideOrRefused(build: () => string): void {
  let relative: string;
  try {
    relative = build();
  } catch (error) {
    expect(error).toBeInstanceOf(ArchivePathError);
    return;
  }
  inside(relative);
}

describe("subject slugs (reference §8)", () => {
  it.each([
    ["Hello, World!", "hello-world"],
    ["  --Re: [URGENT] Build #42__  ", "re-urgent-build-42"],
    ["file.name_v2-final", "file.name_v2-final"],
    ["日本語", "message"],
    ["", "message"],
    ["-_-", "message"],
    ["..", ".."],
    ["../../etc/passwd", "..-..-etc-passwd"],
    ["%2e%2e%2f", "2e-2e-2f"],
    ["a\0b", "a-b"],
  ])("%j → %j", (subject, slug) => {
    expect(safeSlug(subject)).toBe(slug);
  });

  it("is cut to 80 characters after trimming and lower-casing", () => {
    expect(safeSlug(`__${"A".repeat(100)}`)).toBe("a".repeat(80));
    expect(safeSlug("x".repeat(79) + " y")).toBe(`${"x".repeat(79)}-`);
  });
});

describe("file names and paths", () => {
  const message = { id: 42, subject: "Hello, World!", createdTs: AT };

  it("names a message <UTC time>__<slug>__<id>.md, under YYYY/MM of its creation", () => {
    expect(messageFileName(message)).toBe("2025-03-04T05-06-07Z__hello-world__42.md");
    expect(messagePath("backend", message)).toBe("projects/backend/messages/2025/03/2025-03-04T05-06-07Z__hello-world__42.md");
    expect(mailboxPath("backend", "GreenLake", "inbox", message)).toBe("projects/backend/agents/GreenLake/inbox/2025/03/2025-03-04T05-06-07Z__hello-world__42.md");
    expect(mailboxPath("backend", "alpha-one", "outbox", message)).toBe("projects/backend/agents/alpha-one/outbox/2025/03/2025-03-04T05-06-07Z__hello-world__42.md");
    expect(profilePath("backend", "GreenLake")).toBe("projects/backend/agents/GreenLake/profile.json");
    expect(threadPath("backend", "FEAT-123")).toBe("projects/backend/messages/threads/FEAT-123.md");
    expect(reservationPath("backend", 7)).toBe("projects/backend/file_reservations/id-7.json");
    expect(messageIdFromFileName("2025-03-04T05-06-07Z__hello-world__42.md")).toBe(42);
    expect(messageIdFromFileName("42.md")).toBeUndefined();
  });

  it("files attachments by sha256 with an extension for known media types", () => {
    const sha = "ab".repeat(32);
    expect(attachmentPath("backend", sha, "image/png")).toBe(`projects/backend/attachments/ab/${sha}.png`);
    expect(attachmentPath("backend", sha, "text/plain; charset=utf-8")).toBe(`projects/backend/attachments/ab/${sha}.txt`);
    expect(attachmentPath("backend", sha, "application/x-unknown")).toBe(`projects/backend/attachments/ab/${sha}`);
    expect(() => attachmentPath("backend", "../../etc/passwd", "image/png")).toThrow(ArchivePathError);
    expect(() => attachmentPath("backend", "AB".repeat(32))).toThrow(ArchivePathError);
  });

  it("keeps plain slugs and maps any other project slug to a sanitised prefix and a hash", () => {
    expect(projectDirName("backend")).toBe("backend");
    expect(projectDirName("x-0123abcd")).toBe("x-0123abcd");
    const long = `srv-${"deep-".repeat(60)}repo`;
    const mapped = projectDirName(long);
    expect(mapped).toMatch(/^srv-deep-[a-z0-9.-]*_[0-9a-f]{16}$/);
    expect(mapped.length).toBeLessThanOrEqual(80);
    expect(projectDirName(`${long}x`)).not.toBe(mapped);
  });

  it("keeps valid thread ids and maps others to a sanitised prefix and a hash", () => {
    expect(threadFileName("FEAT-123")).toBe("FEAT-123");
    expect(threadFileName("12")).toBe("12");
    expect(threadFileName("../x")).toMatch(/^x_[0-9a-f]{16}$/);
    expect(threadFileName("..")).toMatch(/^thread_[0-9a-f]{16}$/);
    expect(threadFileName("../x")).not.toBe(threadFileName("/x"));
  });

  it("refuses agent names that are not stored names", () => {
    expect(agentDir("backend", "GreenLake")).toBe("projects/backend/agents/GreenLake");
    for (const name of ["..", ".hidden", "a/b", "a\\b", "", "x".repeat(129), "名前"]) {
      expect(() => agentDir("backend", name)).toThrow(ArchivePathError);
    }
  });

  it("refuses ids that are not positive integers and dates outside 0000-9999", () => {
    expect(() => messagePath("p", { id: 0, subject: "s", createdTs: AT })).toThrow(ArchivePathError);
    expect(() => messagePath("p", { id: -1, subject: "s", createdTs: AT })).toThrow(ArchivePathError);
    expect(() => messagePath("p", { id: 1.5, subject: "s", createdTs: AT })).toThrow(ArchivePathError);
    expect(() => messagePath("p", { id: 1, subject: "s", createdTs: new Date(Number.NaN) })).toThrow(ArchivePathError);
    expect(() => messagePath("p", { id: 1, subject: "s", createdTs: new Date("+010000-01-01T00:00:00Z") })).toThrow(ArchivePathError);
    expect(() => reservationPath("p", Number.NaN)).toThrow(ArchivePathError);
  });
});

describe("the traversal corpus stays inside the root", () => {
  it.each(CORPUS.map((value) => [value.length > 40 ? `${value.slice(0, 40)}… (${value.length})` : value, value]))("%j", (_label, value) => {
    insideOrRefused(() => messagePath(value, { id: 1, subject: value, createdTs: AT }));
    insideOrRefused(() => mailboxPath("p", value, "inbox", { id: 1, subject: value, createdTs: AT }));
    insideOrRefused(() => mailboxPath(value, "GreenLake", "outbox", { id: 1, subject: value, createdTs: AT }));
    insideOrRefused(() => threadPath(value, value));
    insideOrRefused(() => profilePath(value, value));
    insideOrRefused(() => reservationPath(value, 1));
    insideOrRefused(() => attachmentPath(value, value, value));
    // The subject, project slug and thread id are always turned into a path, never refused.
    inside(messagePath(value, { id: 1, subject: value, createdTs: AT }));
    inside(threadPath(value, value));
  });

  it("resolveInArchive refuses any relative path that is not made of plain components", () => {
    const plain = (component: string) => /^[A-Za-z0-9._-]+$/.test(component) && component !== "." && component !== ".." && component.length <= 255;
    for (const value of CORPUS) {
      // `.../...` is two ordinary file names; anything else in the corpus must be refused.
      if (value.split("/").every(plain)) continue;
      expect(() => resolveInArchive(ROOT, value), value.slice(0, 40)).toThrow(ArchivePathError);
      expect(() => resolveInArchive(ROOT, `projects/${value}/x.md`), value.slice(0, 40)).toThrow(ArchivePathError);
    }
    for (const value of ["projects/../../x", "/etc/passwd", "projects//x", "projects/./x", "projects/x/", ""]) {
      expect(() => resolveInArchive(ROOT, value), value).toThrow(ArchivePathError);
    }
    expect(resolveInArchive(ROOT, "projects/p/messages/x.md")).toBe(path.join(ROOT, "projects/p/messages/x.md"));
  });
});
