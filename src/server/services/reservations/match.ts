// Reservation patterns: gitignore (git wildmatch) semantics as mcp_agent_mail gets them from
// Python's pathspec, and its overlap rule (reference §4.2). Matching walks compiled segments with
// memoisation instead of building regular expressions, so no pattern can make it backtrack, and
// its work grows with segments × parts only (see matchWith).

/** Longest pattern or path accepted (mcp_agent_mail stores path_pattern as VARCHAR(512)). */
export const PATTERN_MAX_CHARS = 512;
/**
 * '/'-separated segments of a pattern (a candidate's parts, when it is matched as a path), and its
 * `**` segments: a grant matches up to 256 candidates against up to 10,000 stored patterns, both
 * ways, synchronously, so each match must stay small. Real patterns are far below both.
 */
export const PATTERN_SEGMENTS_MAX = 64;
export const PATTERN_ANY_DEPTH_MAX = 8;

const VIRTUAL_PREFIXES = ["tool://", "resource://", "service://"] as const;
const GLOB_CHARS = /[*?[]/;

/** `tool://…`, `resource://…` and `service://…` name things that are not files. */
export function isVirtualPattern(pattern: string): boolean {
  const trimmed = pattern.trim();
  return VIRTUAL_PREFIXES.some((prefix) => trimmed.startsWith(prefix));
}

/** Backslashes become `/` and leading `/` are stripped, as the reference does before matching. */
export function normalizePattern(pattern: string): string {
  return pattern.trim().replace(/\\/g, "/").replace(/^\/+/, "");
}

export function hasGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

const ANY_DEPTH = "**";

/**
 * The pattern's segments after pathspec's GitWildMatchPattern rules, or null for a pattern that
 * matches nothing (empty, a `#` comment, a `!` negation: a lone negation excludes nothing).
 */
function compile(pattern: string): string[] | null {
  if (!pattern || pattern.startsWith("#") || pattern.startsWith("!")) return null;
  const segments = pattern.split("/");
  // A run of `**` segments means the same as one.
  for (let i = segments.length - 1; i > 0; i--) {
    if (segments[i] === ANY_DEPTH && segments[i - 1] === ANY_DEPTH) segments.splice(i, 1);
  }
  // `**/` alone: every directory, that is whatever lies below one.
  if (segments.length === 2 && segments[0] === ANY_DEPTH && segments[1] === "") return [ANY_DEPTH, "*", ANY_DEPTH];
  if (segments[0] === "") {
    segments.shift();
  } else if ((segments.length === 1 || (segments.length === 2 && segments[1] === "")) && segments[0] !== ANY_DEPTH) {
    // One name, with or without a trailing slash: it matches at any depth.
    segments.unshift(ANY_DEPTH);
  }
  if (segments.length === 0) return null;
  // A trailing slash names a directory: it matches what is inside.
  if (segments.length > 1 && segments[segments.length - 1] === "") segments[segments.length - 1] = ANY_DEPTH;
  return segments;
}

const compiled = new Map<string, string[] | null>();
const COMPILED_CACHE_MAX = 4096;

function compiledPattern(pattern: string): string[] | null {
  let segments = compiled.get(pattern);
  if (segments === undefined) {
    segments = compile(pattern);
    if (compiled.size >= COMPILED_CACHE_MAX) compiled.clear();
    compiled.set(pattern, segments);
  }
  return segments;
}

/**
 * The normalised pattern's segments as matching uses them (a name without a slash gets a leading
 * `**`, a trailing slash becomes a trailing `**`), or null when it matches nothing.
 */
export function patternSegments(pattern: string): readonly string[] | null {
  return compiledPattern(pattern);
}

/** Does `pattern` (gitignore syntax, normalised) match the path `path` (normalised, taken literally)? */
export function patternMatchesPath(pattern: string, path: string): boolean {
  return matchWith(pattern, path, undefined);
}

/** The steps `patternMatchesPath(pattern, path)` takes: lets tests bound the matcher's work without a clock. */
export function matchSteps(pattern: string, path: string): number {
  const meter = { steps: 0 };
  matchWith(pattern, path, meter);
  return meter.steps;
}

/**
 * Memoised over (segment, part) and, for `**`, (segment, part, "skipped something already"): each
 * state is decided once in O(1) besides its segment's fnmatch, so a match costs at most about
 * 2 × segments × parts steps however many `**` the pattern holds.
 */
function matchWith(pattern: string, path: string, meter: { steps: number } | undefined): boolean {
  const segments = compiledPattern(pattern);
  if (!segments || !path) return false;
  const parts = path.replace(/^(\.\/)+/, "").split("/");
  const n = parts.length;
  const last = segments.length - 1;
  const width = n + 1;
  // 0 unknown, 1 false, 2 true; the second half holds the `skipping` states.
  const memo = new Uint8Array(2 * segments.length * width);

  const match = (i: number, j: number): boolean => {
    if (meter) meter.steps++;
    const key = i * width + j;
    if (memo[key]) return memo[key] === 2;
    let result = false;
    const segment = segments[i]!;
    if (segment === ANY_DEPTH) {
      if (i === 0 && i === last) result = true;
      else if (i === last) result = j < n; // `dir/**`: something below dir
      // Zero directories, or one or more; what is skipped is never one empty name (`a//b`), as
      // pathspec's `(?:.+/)?` requires: after an empty name at least one more must go with it.
      else result = match(i + 1, j) || (j < n && (parts[j] !== "" ? skipping(i, j + 1) : j + 1 < n && skipping(i, j + 2)));
    } else if (j < n && !(segment === "*" && parts[j] === "") && segmentMatches(segment, parts[j]!)) {
      // The last segment also matches everything below it (a directory covers its contents).
      result = i === last || match(i + 1, j + 1);
    }
    memo[key] = result ? 2 : 1;
    return result;
  };

  // Inside the `**` at i, a non-empty run already skipped: the rest of the pattern starts here, or one more part is skipped.
  const skipping = (i: number, j: number): boolean => {
    if (meter) meter.steps++;
    const key = (segments.length + i) * width + j;
    if (memo[key]) return memo[key] === 2;
    const result = match(i + 1, j) || (j < n && skipping(i, j + 1));
    memo[key] = result ? 2 : 1;
    return result;
  };
  return match(0, 0);
}

/** fnmatch within one path segment: `*`, `?` and `[…]` (with `!` or `^` negation); no `/` involved. */
function segmentMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let starG = -1;
  let starT = 0;
  while (t < text.length) {
    if (g < glob.length && glob[g] === "*") {
      starG = g++;
      starT = t;
      continue;
    }
    const step = g < glob.length ? matchOne(glob, g, text[t]!) : undefined;
    if (step !== undefined) {
      g = step;
      t++;
      continue;
    }
    if (starG < 0) return false;
    g = starG + 1;
    t = ++starT;
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

/** Matches one glob element at `g` against `char`: the index after the element, or undefined. */
function matchOne(glob: string, g: number, char: string): number | undefined {
  const element = glob[g]!;
  if (element === "?") return g + 1;
  if (element === "[") {
    const bracket = parseBracket(glob, g);
    return bracket?.test(char) ? bracket.end : undefined;
  }
  return element === char ? g + 1 : undefined;
}

/** A `[…]` class starting at `start`, or undefined when it never closes (then nothing matches, as in pathspec). */
function parseBracket(glob: string, start: number): { end: number; test: (char: string) => boolean } | undefined {
  let i = start + 1;
  const negate = glob[i] === "!" || glob[i] === "^";
  if (negate) i++;
  const bodyStart = i;
  if (glob[i] === "]") i++; // a leading `]` is literal
  while (i < glob.length && glob[i] !== "]") i++;
  if (i >= glob.length) return undefined;
  const body = glob.slice(bodyStart, i);
  const test = (char: string) => {
    let hit = false;
    for (let k = 0; k < body.length && !hit; k++) {
      if (body[k + 1] === "-" && k + 2 < body.length) {
        hit = char >= body[k]! && char <= body[k + 2]!;
        k += 2;
      } else {
        hit = body[k] === char;
      }
    }
    return hit !== negate;
  };
  return { end: i + 1, test };
}

function virtualOverlap(a: string, b: string): boolean | undefined {
  const virtualA = isVirtualPattern(a);
  const virtualB = isVirtualPattern(b);
  if (!virtualA && !virtualB) return undefined;
  // Virtual names are exact; they never meet a filesystem pattern.
  return virtualA && virtualB && a.trim() === b.trim();
}

/**
 * Would a candidate path conflict with an existing reservation's pattern (reference §4.2)? With a
 * glob on either side both directions are tried; between two literal paths it is asymmetric: an
 * existing `src` covers a candidate `src/app.py`, not the other way round. Equal strings conflict.
 */
export function candidateConflicts(existing: string, candidate: string): boolean {
  const virtual = virtualOverlap(existing, candidate);
  if (virtual !== undefined) return virtual;
  const a = normalizePattern(existing);
  const b = normalizePattern(candidate);
  if (a === b) return a !== "";
  if (hasGlob(a) || hasGlob(b)) return patternMatchesPath(a, b) || patternMatchesPath(b, a);
  return patternMatchesPath(a, b);
}

/** The symmetric overlap test for two patterns (contact auto-allow, reference §3): either direction. */
export function patternsOverlap(a: string, b: string): boolean {
  return candidateConflicts(a, b) || candidateConflicts(b, a);
}
