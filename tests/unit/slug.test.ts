import { describe, expect, it } from "vitest";
import { isAbsoluteKey, isPlaceholderKey, looksLikePath, normalizeHumanKey, slugify } from "@/server/services/projects/slug";

describe("slugify", () => {
  it.each([
    ["/data/projects/backend", "data-projects-backend"],
    ["/backend", "backend"],
    ["/Backend", "backend"],
    ["/Users/Me/My Proj", "users-me-my-proj"],
    ["/a/b-c", "a-b-c"],
    ["/a-b/c", "a-b-c"],
    ["  /srv/App_v2.0/  ", "srv-app-v2-0"],
    ["C:\\Users\\Me\\Repo", "c-users-me-repo"],
    ["Backend", "backend"],
    ["", "project"],
    ["   ", "project"],
    ["/", "project"],
    ["---", "project"],
    ["/Ünïcode/ok", "n-code-ok"],
  ])("%j → %j", (input, slug) => {
    expect(slugify(input)).toBe(slug);
  });
});

describe("normalizeHumanKey", () => {
  it("collapses // and .. and drops the trailing slash", () => {
    expect(normalizeHumanKey("/data//projects/backend")).toBe("/data/projects/backend");
    expect(normalizeHumanKey("/data/projects/../backend")).toBe("/data/backend");
    expect(normalizeHumanKey("/data/./backend/")).toBe("/data/backend");
    expect(normalizeHumanKey("/data/backend///")).toBe("/data/backend");
    expect(normalizeHumanKey("  /data/backend  ")).toBe("/data/backend");
  });

  it("keeps the root and does not climb above it", () => {
    expect(normalizeHumanKey("/")).toBe("/");
    expect(normalizeHumanKey("//")).toBe("/");
    expect(normalizeHumanKey("/..")).toBe("/");
    expect(normalizeHumanKey("/../etc")).toBe("/etc");
  });

  it("keeps the case (only the slug is lower-cased)", () => {
    expect(normalizeHumanKey("/Users/Me/My Proj/")).toBe("/Users/Me/My Proj");
  });

  it("normalises Windows drive paths with Windows rules", () => {
    expect(normalizeHumanKey("C:\\Users\\Me\\Repo\\")).toBe("C:\\Users\\Me\\Repo");
    expect(normalizeHumanKey("C:\\Users\\Me\\..\\Repo")).toBe("C:\\Users\\Repo");
    expect(normalizeHumanKey("C:/Users//Me/Repo")).toBe("C:\\Users\\Me\\Repo");
  });

  it("keeps the separator of a drive root, so the key stays absolute", () => {
    expect(normalizeHumanKey("C:\\")).toBe("C:\\");
    expect(normalizeHumanKey("C:/")).toBe("C:\\");
    expect(normalizeHumanKey("C:\\..")).toBe("C:\\");
    expect(isAbsoluteKey(normalizeHumanKey("C:\\"))).toBe(true);
  });

  it("normalises UNC paths and keeps the share root whole", () => {
    expect(normalizeHumanKey("\\\\server\\share\\repo\\")).toBe("\\\\server\\share\\repo");
    expect(normalizeHumanKey("\\\\server\\share\\")).toBe("\\\\server\\share\\");
    expect(isAbsoluteKey("\\\\server\\share\\repo")).toBe(true);
  });
});

describe("isAbsoluteKey", () => {
  it("accepts POSIX absolute paths and Windows drive paths", () => {
    expect(isAbsoluteKey("/data/projects/backend")).toBe(true);
    expect(isAbsoluteKey("/")).toBe(true);
    expect(isAbsoluteKey("C:\\Users\\Me\\Repo")).toBe(true);
    expect(isAbsoluteKey("d:/work/repo")).toBe(true);
  });

  it("refuses relative paths and bare names", () => {
    expect(isAbsoluteKey("relative/path")).toBe(false);
    expect(isAbsoluteKey("./repo")).toBe(false);
    expect(isAbsoluteKey("../repo")).toBe(false);
    expect(isAbsoluteKey("~/repo")).toBe(false);
    expect(isAbsoluteKey("backend")).toBe(false);
    expect(isAbsoluteKey("C:repo")).toBe(false);
    expect(isAbsoluteKey("")).toBe(false);
  });
});

describe("looksLikePath", () => {
  it("treats absolute, ~, ., .. and anything with a slash or backslash as a path", () => {
    for (const value of ["/backend", "~/repo", "./repo", "../repo", "a/b", "a\\b", "C:\\repo", ".hidden"]) {
      expect(looksLikePath(value)).toBe(true);
    }
  });

  it("treats slugs and bare names as identifiers", () => {
    for (const value of ["backend", "Backend", "data-projects-backend", "my_proj"]) expect(looksLikePath(value)).toBe(false);
  });
});

describe("isPlaceholderKey", () => {
  it("recognises the placeholder strings of copied examples, in any case", () => {
    for (const value of ["YOUR_PROJECT", "/path/to/YOUR_PROJECT", "PLACEHOLDER", "<PROJECT>", "{PROJECT}", "$PROJECT", "your-project"]) {
      expect(isPlaceholderKey(value)).toBe(true);
    }
  });

  it("does not flag real keys", () => {
    for (const value of ["/data/projects/backend", "backend", "project", "/srv/projects/app"]) expect(isPlaceholderKey(value)).toBe(false);
  });
});
