// "Did you mean …" suggestions for identifiers that were not found.

function levenshtein(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

export function similarity(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  const longest = Math.max(left.length, right.length);
  return longest === 0 ? 1 : 1 - levenshtein(left, right) / longest;
}

/** Up to `limit` candidates at least `threshold` similar to `needle`, best first. */
export function suggest(needle: string, candidates: Iterable<string>, limit = 3, threshold = 0.4): string[] {
  return [...new Set(candidates)]
    .map((candidate) => ({ candidate, score: similarity(needle, candidate) }))
    .filter(({ score }) => score >= threshold)
    .sort((a, b) => b.score - a.score)
    .slice(0, limit)
    .map(({ candidate }) => candidate);
}

export function didYouMean(suggestions: string[]): string {
  return suggestions.length ? ` Did you mean: ${suggestions.join(", ")}?` : "";
}
