// Agent-name pseudonymisation for exports (pure). Names are numbered in the order they are given
// (the export passes first appearance in the project's mail), `Agent-1`, `Agent-2`, …; names
// differing only in case are one name, as agent names are case-insensitive. In free text every
// whole-word, case-insensitive occurrence of a known name is replaced in one pass, so a real agent
// that happens to be called `Agent-2` cannot be renamed twice.

const WORD_CHAR = "A-Za-z0-9_";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

export interface Pseudonymizer {
  /** The pseudonym of a known agent name (the name itself when it is unknown or pseudonymisation is off). */
  name(name: string): string;
  /** Text with every known agent name replaced. */
  text(text: string): string;
  /** How many distinct names are replaced. */
  readonly size: number;
}

export const IDENTITY: Pseudonymizer = { name: (name) => name, text: (text) => text, size: 0 };

export function createPseudonymizer(namesInOrder: readonly string[]): Pseudonymizer {
  const pseudonyms = new Map<string, string>();
  for (const name of namesInOrder) {
    const key = name.toLowerCase();
    if (name && !pseudonyms.has(key)) pseudonyms.set(key, `Agent-${pseudonyms.size + 1}`);
  }
  if (pseudonyms.size === 0) return IDENTITY;
  // Longest first, so that of two names where one is a prefix of the other the longer one wins.
  const alternatives = [...pseudonyms.keys()].sort((a, b) => b.length - a.length || a.localeCompare(b)).map(escapeRegExp);
  const pattern = new RegExp(`(?<![${WORD_CHAR}])(?:${alternatives.join("|")})(?![${WORD_CHAR}])`, "gi");
  return {
    name: (name) => pseudonyms.get(name.toLowerCase()) ?? name,
    text: (text) => text.replace(pattern, (match) => pseudonyms.get(match.toLowerCase()) ?? match),
    size: pseudonyms.size,
  };
}
