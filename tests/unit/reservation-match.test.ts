import { describe, expect, it } from "vitest";
import { conflictsFor, type ActiveReservation } from "@/server/services/reservations/conflicts";
import { candidateConflicts, isVirtualPattern, matchSteps, normalizePattern, patternMatchesPath, patternsOverlap } from "@/server/services/reservations/match";

// The matcher against Python's pathspec (gitwildmatch), which mcp_agent_mail uses: the table below
// was produced by pathspec 1.1.1 `PathSpec.from_lines("gitwildmatch", [pattern]).match_file(path)`
// for every pattern × path pair, and lists the paths each pattern matches.
// (Left out: pathspec lets a negated class such as `[!]a]` match `/`, a bug of its regex translation.)

const PATHS = ["src/main.py", "src", "src/", "src/app.py", "a/b/c.md", "c.md", "assets/logo.jpg", "assets/x.png", "docs/a.md", "app/models/user.py", "x", "a/b", "a", "a/x/y/b/c", "src/a/b.py", "x/a.py", "x/c.py", "foo[", "#x", "x/a/b", "agents/A/inbox/2026/12/x.md", "dir/", "abc", "a/c", "x/", "bz", "[]a]", "]", "docs/x/a.md", "a//b", "fooa", "x]y", "src/t/test_a.py", "lib/x/index.ts", "zz", "az", ".env", "d/.env", "a/", "a/b/", "src/**", "docs/**", "*.md", "x.md.bak", "src/*b.py"];
const MATCHES: Record<string, string[]> = {
  "src/**": ["src/main.py", "src/", "src/app.py", "src/a/b.py", "src/t/test_a.py", "src/**", "src/*b.py"],
  "src": ["src/main.py", "src", "src/", "src/app.py", "src/a/b.py", "src/t/test_a.py", "src/**", "src/*b.py"],
  "src/": ["src/main.py", "src/", "src/app.py", "src/a/b.py", "src/t/test_a.py", "src/**", "src/*b.py"],
  "src/app.py": ["src/app.py"],
  "*.md": ["a/b/c.md", "c.md", "docs/a.md", "agents/A/inbox/2026/12/x.md", "docs/x/a.md", "*.md"],
  "assets/*.png": ["assets/x.png"],
  "docs/**": ["docs/a.md", "docs/x/a.md", "docs/**"],
  "app/**": ["app/models/user.py"],
  "**": ["src/main.py", "src", "src/", "src/app.py", "a/b/c.md", "c.md", "assets/logo.jpg", "assets/x.png", "docs/a.md", "app/models/user.py", "x", "a/b", "a", "a/x/y/b/c", "src/a/b.py", "x/a.py", "x/c.py", "foo[", "#x", "x/a/b", "agents/A/inbox/2026/12/x.md", "dir/", "abc", "a/c", "x/", "bz", "[]a]", "]", "docs/x/a.md", "a//b", "fooa", "x]y", "src/t/test_a.py", "lib/x/index.ts", "zz", "az", ".env", "d/.env", "a/", "a/b/", "src/**", "docs/**", "*.md", "x.md.bak", "src/*b.py"],
  "**/": ["src/main.py", "src/", "src/app.py", "a/b/c.md", "assets/logo.jpg", "assets/x.png", "docs/a.md", "app/models/user.py", "a/b", "a/x/y/b/c", "src/a/b.py", "x/a.py", "x/c.py", "x/a/b", "agents/A/inbox/2026/12/x.md", "dir/", "a/c", "x/", "docs/x/a.md", "a//b", "src/t/test_a.py", "lib/x/index.ts", "d/.env", "a/", "a/b/", "src/**", "docs/**", "src/*b.py"],
  "a/**/b": ["a/b/c.md", "a/b", "a/x/y/b/c", "a/b/"],
  "src/*": ["src/main.py", "src/app.py", "src/a/b.py", "src/t/test_a.py", "src/**", "src/*b.py"],
  "*": ["src/main.py", "src", "src/", "src/app.py", "a/b/c.md", "c.md", "assets/logo.jpg", "assets/x.png", "docs/a.md", "app/models/user.py", "x", "a/b", "a", "a/x/y/b/c", "src/a/b.py", "x/a.py", "x/c.py", "foo[", "#x", "x/a/b", "agents/A/inbox/2026/12/x.md", "dir/", "abc", "a/c", "x/", "bz", "[]a]", "]", "docs/x/a.md", "a//b", "fooa", "x]y", "src/t/test_a.py", "lib/x/index.ts", "zz", "az", ".env", "d/.env", "a/", "a/b/", "src/**", "docs/**", "*.md", "x.md.bak", "src/*b.py"],
  "[ab].py": ["src/a/b.py", "x/a.py"],
  "[!ab].py": ["x/c.py"],
  "foo[": [],
  "#x": [],
  "!x": [],
  "a/b": ["a/b/c.md", "a/b", "a/b/"],
  "src/a*.py": ["src/app.py"],
  "agents/A/inbox/*/*/*.md": ["agents/A/inbox/2026/12/x.md"],
  "dir/": ["dir/"],
  "*/": ["src/main.py", "src/", "src/app.py", "a/b/c.md", "assets/logo.jpg", "assets/x.png", "docs/a.md", "app/models/user.py", "a/b", "a/x/y/b/c", "src/a/b.py", "x/a.py", "x/c.py", "x/a/b", "agents/A/inbox/2026/12/x.md", "dir/", "a/c", "x/", "docs/x/a.md", "a//b", "src/t/test_a.py", "lib/x/index.ts", "d/.env", "a/", "a/b/", "src/**", "docs/**", "src/*b.py"],
  "a?c": ["abc"],
  "**/x": ["x", "a/x/y/b/c", "x/a.py", "x/c.py", "x/a/b", "x/", "docs/x/a.md", "lib/x/index.ts"],
  "x/**": ["x/a.py", "x/c.py", "x/a/b", "x/"],
  "[a-c]z": ["bz", "az"],
  "[]a]": ["a/b/c.md", "a/b", "a", "a/x/y/b/c", "src/a/b.py", "x/a/b", "a/c", "]", "a//b", "a/", "a/b/"],
  "docs/*.md": ["docs/a.md"],
  "**/*.md": ["a/b/c.md", "c.md", "docs/a.md", "agents/A/inbox/2026/12/x.md", "docs/x/a.md", "*.md"],
  "a/**": ["a/b/c.md", "a/b", "a/x/y/b/c", "a/c", "a//b", "a/", "a/b/"],
  "a/**/**/b": ["a/b/c.md", "a/b", "a/x/y/b/c", "a/b/"],
  "**/**": ["src/main.py", "src", "src/", "src/app.py", "a/b/c.md", "c.md", "assets/logo.jpg", "assets/x.png", "docs/a.md", "app/models/user.py", "x", "a/b", "a", "a/x/y/b/c", "src/a/b.py", "x/a.py", "x/c.py", "foo[", "#x", "x/a/b", "agents/A/inbox/2026/12/x.md", "dir/", "abc", "a/c", "x/", "bz", "[]a]", "]", "docs/x/a.md", "a//b", "fooa", "x]y", "src/t/test_a.py", "lib/x/index.ts", "zz", "az", ".env", "d/.env", "a/", "a/b/", "src/**", "docs/**", "*.md", "x.md.bak", "src/*b.py"],
  "a//b": ["a//b"],
  "foo[ab": [],
  "src/**/test_*.py": ["src/t/test_a.py"],
  "*.py": ["src/main.py", "src/app.py", "app/models/user.py", "src/a/b.py", "x/a.py", "x/c.py", "src/t/test_a.py", "src/*b.py"],
  "lib/*/index.ts": ["lib/x/index.ts"],
  "[^a]z": ["bz", "zz"],
  "a-b": [],
  ".env": [".env", "d/.env"],
  ".*": [".env", "d/.env"],
  "a/**/": ["a/b/c.md", "a/b", "a/x/y/b/c", "a/c", "a//b", "a/", "a/b/"],
  "\\\\x": [],
};

describe("patternMatchesPath agrees with pathspec", () => {
  for (const [pattern, matched] of Object.entries(MATCHES)) {
    it(`${pattern}`, () => {
      expect(PATHS.filter((path) => patternMatchesPath(pattern, path))).toEqual(matched);
    });
  }
});

describe("pattern basics", () => {
  it("normalises backslashes and leading slashes, and trims", () => {
    expect(normalizePattern("  \\src\\app.py ")).toBe("src/app.py");
    expect(normalizePattern("//src/**")).toBe("src/**");
  });

  it("recognises the virtual namespaces", () => {
    for (const pattern of ["tool://deploy", "resource://db/main", " service://billing"]) expect(isVirtualPattern(pattern)).toBe(true);
    for (const pattern of ["tools/deploy", "src/tool://x", "http://x"]) expect(isVirtualPattern(pattern)).toBe(false);
  });

  it("stays fast on patterns built to make a backtracking matcher explode", () => {
    const pattern = `${"*a".repeat(60)}*b`;
    const path = "a".repeat(400);
    expect(patternMatchesPath(pattern, path)).toBe(false);
    const deep = `${"**/".repeat(100)}x`;
    expect(patternMatchesPath(deep, `${"d/".repeat(200)}y`)).toBe(false);
  });
});

describe("candidateConflicts: the reference's conflict matrix (§4.2, §13.1 item 21)", () => {
  const cases: [existing: string, candidate: string, conflicts: boolean][] = [
    ["src/**", "src/main.py", true],
    ["src/main.py", "src/**", true],
    ["app/models/user.py", "app/**", true],
    ["docs/**", "src/**", false],
    ["assets/*.png", "assets/logo.jpg", false],
    ["assets/*.png", "assets/logo.png", true],
    ["*.md", "docs/guide/intro.md", true],
    ["docs/guide/intro.md", "*.md", true],
    ["*.md", "README.txt", false],
    ["build/", "build/out/app.js", true],
    ["build/", "build", false],
    ["src\\app.py", "src/app.py", true],
    ["/src/app.py", "src/app.py", true],
    ["src", "src/app.py", true],
    // Two literal paths: asymmetric, as in the reference.
    ["src/app.py", "src", false],
    ["src/app.py", "src/app.py", true],
    // The documented approximation: two globs that could meet are not reported.
    ["src/a*.py", "src/*b.py", false],
    ["tool://deploy", "tool://deploy", true],
    ["tool://deploy", " tool://deploy ", true],
    ["tool://deploy", "tool://deploy-staging", false],
    ["tool://deploy", "resource://deploy", false],
    ["tool://deploy", "tool:/deploy", false],
    ["tool://*", "tool://deploy", false],
    ["tool://deploy", "**", false],
    ["**", "tool://deploy", false],
  ];
  for (const [existing, candidate, conflicts] of cases) {
    it(`${existing} vs ${candidate} → ${conflicts ? "conflict" : "none"}`, () => {
      expect(candidateConflicts(existing, candidate)).toBe(conflicts);
    });
  }
});

describe("patternsOverlap is symmetric", () => {
  it("overlaps in either direction", () => {
    expect(patternsOverlap("src/app.py", "src")).toBe(true);
    expect(patternsOverlap("src", "src/app.py")).toBe(true);
    expect(patternsOverlap("src/*", "src/app.py")).toBe(true);
    expect(patternsOverlap("docs/**", "src/**")).toBe(false);
    expect(patternsOverlap("tool://a", "tool://a")).toBe(true);
    expect(patternsOverlap("tool://a", "a")).toBe(false);
  });
});

describe("the matcher's work is bounded by segments × parts", () => {
  it("a 512-character pattern full of ** against a 256-part path takes a few steps per segment and part", () => {
    const pattern = `${"**/a/".repeat(102)}c`;
    const path = `${"a/".repeat(255)}b`;
    const segments = pattern.split("/").length;
    const parts = path.split("/").length;
    expect(patternMatchesPath(pattern, path)).toBe(false);
    expect(matchSteps(pattern, path)).toBeLessThanOrEqual(4 * segments * (parts + 1));
  });
});

describe("conflictsFor", () => {
  const active: ActiveReservation[] = [
    { id: 1, agentId: 1, agentName: "BlueLake", pathPattern: "src/**", exclusive: true, reason: "", expiresTs: new Date("2030-01-01T00:00:00Z") },
  ];

  it("lists the conflicting paths in order, and lets other work run between paths", async () => {
    let ranBetween = false;
    const pending = conflictsFor(active, 2, ["src/a.py", "docs/x.md", "src/b.py"], true);
    setImmediate(() => (ranBetween = true));
    const conflicts = await pending;
    expect(conflicts.map((conflict) => conflict.path)).toEqual(["src/a.py", "src/b.py"]);
    expect(ranBetween).toBe(true);
  });
});
