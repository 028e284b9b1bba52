import { describe, expect, it } from "vitest";
import {
  ADJECTIVES,
  MEMORABLE_NAME_COUNT,
  NOUNS,
  PROGRAM_NAMES,
  canonicalMemorableName,
  detectNameMistake,
  isExplicitId,
  isMemorableName,
  randomMemorableName,
  sanitizeAgentName,
  validNameForm,
} from "@/server/services/agents/names";

describe("word lists", () => {
  it("has 62 distinct adjectives and 69 distinct nouns, 4278 names in all", () => {
    expect(ADJECTIVES).toHaveLength(62);
    expect(NOUNS).toHaveLength(69);
    expect(new Set(ADJECTIVES.map((word) => word.toLowerCase())).size).toBe(62);
    expect(new Set(NOUNS.map((word) => word.toLowerCase())).size).toBe(69);
    expect(MEMORABLE_NAME_COUNT).toBe(4278);
  });

  it("has CamelCase words made only of letters", () => {
    for (const word of [...ADJECTIVES, ...NOUNS]) expect(word).toMatch(/^[A-Z][a-z]+$/);
  });

  it("has no word that is both an adjective and a noun (every combination is a distinct string)", () => {
    const all = new Set(ADJECTIVES.flatMap((adjective) => NOUNS.map((noun) => `${adjective}${noun}`.toLowerCase())));
    expect(all.size).toBe(4278);
  });

  it("lists the 19 program names of the spec", () => {
    expect(PROGRAM_NAMES.size).toBe(19);
    for (const program of ["claude-code", "codex-cli", "cursor", "aider", "github-copilot", "gemini-cli", "zed", "continue"]) {
      expect(PROGRAM_NAMES.has(program)).toBe(true);
    }
  });
});

describe("isMemorableName", () => {
  it("accepts adjective+noun in any case", () => {
    expect(isMemorableName("GreenLake")).toBe(true);
    expect(isMemorableName("greenlake")).toBe(true);
    expect(isMemorableName("GREENLAKE")).toBe(true);
    expect(isMemorableName("gReEnLaKe")).toBe(true);
    expect(isMemorableName("RedStone")).toBe(true);
    expect(isMemorableName("RusticCompass")).toBe(true);
  });

  it("refuses reversed order, single words, extra words, digits, separators and spaces", () => {
    expect(isMemorableName("LakeGreen")).toBe(false);
    expect(isMemorableName("Green")).toBe(false);
    expect(isMemorableName("Lake")).toBe(false);
    expect(isMemorableName("GreenLakeStone")).toBe(false);
    expect(isMemorableName("BigGreenLake")).toBe(false);
    expect(isMemorableName("GreenLake1")).toBe(false);
    expect(isMemorableName("Green2Lake")).toBe(false);
    expect(isMemorableName("Green_Lake")).toBe(false);
    expect(isMemorableName("Green-Lake")).toBe(false);
    expect(isMemorableName("Green Lake")).toBe(false);
    expect(isMemorableName("")).toBe(false);
  });

  it("accepts every generated combination", () => {
    for (const adjective of ADJECTIVES) for (const noun of NOUNS) expect(isMemorableName(`${adjective}${noun}`)).toBe(true);
  });
});

describe("canonicalMemorableName", () => {
  it("gives the CamelCase spelling of a memorable name, and nothing for anything else", () => {
    expect(canonicalMemorableName("greenlake")).toBe("GreenLake");
    expect(canonicalMemorableName("BLUELAKE")).toBe("BlueLake");
    expect(canonicalMemorableName("alpha-one")).toBeUndefined();
    expect(canonicalMemorableName("LakeGreen")).toBeUndefined();
  });
});

describe("isExplicitId", () => {
  it("accepts ids with a '-', '_' or '.' separator", () => {
    expect(isExplicitId("alpha-one")).toBe(true);
    expect(isExplicitId("cc-0")).toBe(true);
    expect(isExplicitId("worker_42")).toBe(true);
    expect(isExplicitId("build.bot")).toBe(true);
    expect(isExplicitId("Blue-Lake")).toBe(true);
    expect(isExplicitId("a-")).toBe(true);
  });

  it("refuses ids without a separator", () => {
    expect(isExplicitId("alphaone")).toBe(false);
    expect(isExplicitId("GreenLake")).toBe(false);
    expect(isExplicitId("worker42")).toBe(false);
  });

  it("refuses program names and model names even with a separator", () => {
    expect(isExplicitId("claude-code")).toBe(false);
    expect(isExplicitId("Claude-Code")).toBe(false);
    expect(isExplicitId("codex-cli")).toBe(false);
    expect(isExplicitId("gemini-cli")).toBe(false);
    expect(isExplicitId("gpt-4o-mini")).toBe(false);
    expect(isExplicitId("gpt-5")).toBe(false);
    expect(isExplicitId("claude-opus-4")).toBe(false);
    expect(isExplicitId("o3-mini")).toBe(false);
    expect(isExplicitId("llama_3")).toBe(false);
  });

  it("refuses a leading separator, other characters, and ids longer than 128 characters", () => {
    expect(isExplicitId("-alpha")).toBe(false);
    expect(isExplicitId("_alpha")).toBe(false);
    expect(isExplicitId(".alpha")).toBe(false);
    expect(isExplicitId("alpha one-two")).toBe(false);
    expect(isExplicitId("alpha/one")).toBe(false);
    expect(isExplicitId("bob@x.com")).toBe(false);
    expect(isExplicitId(`a-${"b".repeat(126)}`)).toBe(true);
    expect(isExplicitId(`a-${"b".repeat(127)}`)).toBe(false);
  });
});

describe("sanitizeAgentName", () => {
  it("removes every non-alphanumeric character", () => {
    expect(sanitizeAgentName("Blue Lake")).toBe("BlueLake");
    expect(sanitizeAgentName("  Blue-Lake!  ")).toBe("BlueLake");
    expect(sanitizeAgentName("worker_42")).toBe("worker42");
    expect(sanitizeAgentName("héllo wörld")).toBe("hllowrld");
  });

  it("gives undefined when nothing is left", () => {
    expect(sanitizeAgentName("")).toBeUndefined();
    expect(sanitizeAgentName("   ")).toBeUndefined();
    expect(sanitizeAgentName("---")).toBeUndefined();
  });

  it("truncates to 128 characters", () => {
    expect(sanitizeAgentName("x".repeat(300))).toHaveLength(128);
  });
});

describe("validNameForm", () => {
  it("keeps explicit ids verbatim", () => {
    expect(validNameForm("alpha-one")).toBe("alpha-one");
    expect(validNameForm("  worker_42 ")).toBe("worker_42");
    expect(validNameForm("Blue-Lake")).toBe("Blue-Lake");
  });

  it("sanitises other names and keeps them when they are adjective+noun", () => {
    expect(validNameForm("Blue Lake")).toBe("BlueLake");
    expect(validNameForm("GreenLake")).toBe("GreenLake");
    expect(validNameForm("greenlake")).toBe("greenlake");
    expect(validNameForm("Blue!Lake")).toBe("BlueLake");
  });

  it("refuses everything else", () => {
    expect(validNameForm("BackendHarmonizer")).toBeUndefined();
    expect(validNameForm("claude-code")).toBeUndefined();
    expect(validNameForm("gpt-4")).toBeUndefined();
    expect(validNameForm("bob")).toBeUndefined();
    expect(validNameForm("alphaone")).toBeUndefined();
    expect(validNameForm("LakeBlue")).toBeUndefined();
    expect(validNameForm("bob@x.com")).toBeUndefined();
    expect(validNameForm("")).toBeUndefined();
    expect(validNameForm("  ")).toBeUndefined();
  });
});

describe("detectNameMistake", () => {
  it.each([
    ["claude-code", "PROGRAM_NAME_AS_AGENT", /program/],
    ["Cursor", "PROGRAM_NAME_AS_AGENT", /program/],
    ["gpt-4", "MODEL_NAME_AS_AGENT", /model/],
    ["claude-opus-4", "MODEL_NAME_AS_AGENT", /model/],
    ["Sonnet", "MODEL_NAME_AS_AGENT", /model/],
    ["bob@x.com", "EMAIL_AS_AGENT", /email/],
    ["all", "BROADCAST_ATTEMPT", /broadcast/],
    ["*", "BROADCAST_ATTEMPT", /broadcast/],
    ["everyone", "BROADCAST_ATTEMPT", /broadcast/],
    ["@all", "BROADCAST_ATTEMPT", /broadcast/],
    ["BackendHarmonizer", "DESCRIPTIVE_NAME", /descriptive/],
    ["MigrationAgent", "DESCRIPTIVE_NAME", /descriptive/],
    ["test-bot", "DESCRIPTIVE_NAME", /descriptive/],
    ["DatabaseMigrator", "DESCRIPTIVE_NAME", /descriptive/],
    ["bob", "UNIX_USERNAME_AS_AGENT", /username/],
    ["jsmith2", "UNIX_USERNAME_AS_AGENT", /username/],
  ])("%s → %s", (name, type, phrase) => {
    const mistake = detectNameMistake(name);
    expect(mistake?.type).toBe(type);
    expect(mistake?.message.toLowerCase()).toMatch(phrase);
    expect(mistake?.message).toContain(name);
  });

  it("puts the program check ahead of the model check (claude-code contains the model fragment claude-)", () => {
    expect(detectNameMistake("claude-code")?.type).toBe("PROGRAM_NAME_AS_AGENT");
    expect(detectNameMistake("claude-sonnet")?.type).toBe("MODEL_NAME_AS_AGENT");
  });

  it("does not call list words, mixed-case or over-long lowercase names Unix usernames", () => {
    expect(detectNameMistake("lake")).toBeUndefined();
    expect(detectNameMistake("green")).toBeUndefined();
    expect(detectNameMistake("Bob")).toBeUndefined();
    expect(detectNameMistake("b")).toBeUndefined();
    expect(detectNameMistake("a".repeat(17))).toBeUndefined();
    expect(detectNameMistake("a".repeat(16))?.type).toBe("UNIX_USERNAME_AS_AGENT");
  });

  it("finds nothing wrong with valid names", () => {
    expect(detectNameMistake("GreenLake")).toBeUndefined();
    expect(detectNameMistake("alpha-one")).toBeUndefined();
  });
});

describe("randomMemorableName", () => {
  it("picks the adjective and noun from the random source", () => {
    expect(randomMemorableName(() => 0)).toBe("RedStone");
    expect(randomMemorableName(() => 0.999999)).toBe("RusticCompass");
  });

  it("always gives a memorable name", () => {
    for (let i = 0; i < 200; i += 1) expect(isMemorableName(randomMemorableName())).toBe(true);
  });
});
