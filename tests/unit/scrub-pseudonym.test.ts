import { describe, expect, it } from "vitest";
import { createPseudonymizer, IDENTITY } from "@/server/export/pseudonym";

// Agent-name pseudonymisation of exports: numbered in the order given, case-insensitive,
// whole words only, one pass (a real agent called Agent-2 is not renamed twice).

describe("pseudonyms", () => {
  it("numbers names in first-appearance order; case does not make a new name", () => {
    const names = createPseudonymizer(["BlueLake", "GreenCastle", "bluelake", "alpha-one"]);
    expect(names.size).toBe(3);
    expect(names.name("BlueLake")).toBe("Agent-1");
    expect(names.name("BLUELAKE")).toBe("Agent-1");
    expect(names.name("GreenCastle")).toBe("Agent-2");
    expect(names.name("alpha-one")).toBe("Agent-3");
  });

  it("replaces whole words in text, any case, and leaves longer words alone", () => {
    const names = createPseudonymizer(["BlueLake", "GreenCastle", "alpha-one"]);
    expect(names.text("Hi bluelake, GreenCastle's plan (see BLUELAKE.md) — alpha-one: ok")).toBe(
      "Hi Agent-1, Agent-2's plan (see Agent-1.md) — Agent-3: ok",
    );
    expect(names.text("BlueLakeside and GreenCastle2 and myBlueLake stay")).toBe("BlueLakeside and GreenCastle2 and myBlueLake stay");
  });

  it("prefers the longer of two overlapping names", () => {
    const names = createPseudonymizer(["alpha", "alpha-one"]);
    expect(names.text("alpha and alpha-one")).toBe("Agent-1 and Agent-2");
  });

  it("renames in one pass: an agent really named like a pseudonym is not renamed twice", () => {
    const names = createPseudonymizer(["Agent-2", "BlueLake"]);
    expect(names.text("Agent-2 wrote to BlueLake")).toBe("Agent-1 wrote to Agent-2");
  });

  it("treats regular-expression characters in names literally", () => {
    const names = createPseudonymizer(["a.b"]);
    expect(names.text("a.b and axb")).toBe("Agent-1 and axb");
  });

  it("without names it changes nothing", () => {
    expect(createPseudonymizer([])).toBe(IDENTITY);
    expect(IDENTITY.text("BlueLake")).toBe("BlueLake");
  });
});
