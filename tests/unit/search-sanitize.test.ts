import { describe, expect, it } from "vitest";
import { sanitizeSearchQuery } from "@/server/services/messages/search";

// The query clean-up in front of websearch_to_tsquery (reference §2.2 search_messages).

describe("sanitizeSearchQuery", () => {
  it("returns null (no results) for empty, wildcard-only and bare-operator queries", () => {
    for (const query of ["", "   ", "\t\n", "*", "**", "***", ".", "..", "...", "?", "??", "???", "AND", "and", "OR", "Or", "NOT", "* AND", "** ", "!!!", "—", "\"\""]) {
      expect([query, sanitizeSearchQuery(query)]).toEqual([query, null]);
    }
  });

  it("collapses runs of whitespace and trims", () => {
    expect(sanitizeSearchQuery("  deploy    pipeline\t\tbroken  ")).toBe("deploy pipeline broken");
  });

  it("strips leading asterisks and a trailing ' *'", () => {
    expect(sanitizeSearchQuery("*deploy")).toBe("deploy");
    expect(sanitizeSearchQuery("***deploy")).toBe("deploy");
    expect(sanitizeSearchQuery("* deploy")).toBe("deploy");
    expect(sanitizeSearchQuery("deploy *")).toBe("deploy");
    expect(sanitizeSearchQuery("*deploy now *")).toBe("deploy now");
  });

  it("quotes hyphenated ids so they match as one token", () => {
    expect(sanitizeSearchQuery("POL-358")).toBe('"POL-358"');
    expect(sanitizeSearchQuery("fix POL-358 now")).toBe('fix "POL-358" now');
    expect(sanitizeSearchQuery("a-b-c")).toBe('"a-b-c"');
    expect(sanitizeSearchQuery("FEAT-1 OR BUG-22")).toBe('"FEAT-1" OR "BUG-22"');
  });

  it("leaves websearch syntax alone: phrases, OR, -exclusion", () => {
    expect(sanitizeSearchQuery('"exact phrase"')).toBe('"exact phrase"');
    expect(sanitizeSearchQuery('"POL-358 regression"')).toBe('"POL-358 regression"');
    expect(sanitizeSearchQuery("pizza OR friday")).toBe("pizza OR friday");
    expect(sanitizeSearchQuery("deploy -pizza")).toBe("deploy -pizza");
    expect(sanitizeSearchQuery("-pizza")).toBe("-pizza");
  });

  it("does not quote tokens that are not id-shaped", () => {
    expect(sanitizeSearchQuery("foo-")).toBe("foo-");
    expect(sanitizeSearchQuery("-foo-bar")).toBe("-foo-bar");
    expect(sanitizeSearchQuery("snake_case")).toBe("snake_case");
  });

  it("keeps non-ASCII words", () => {
    expect(sanitizeSearchQuery("Überprüfung café")).toBe("Überprüfung café");
    expect(sanitizeSearchQuery("日本語")).toBe("日本語");
  });
});
