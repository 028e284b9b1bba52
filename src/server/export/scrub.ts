import { createHash } from "node:crypto";

// Secret scrubbing for exports: pure text in, text out, with a count per kind. Each detector is a
// regular expression plus, where the shape alone would also catch ordinary words or identifiers,
// a check of the match's content. The rules, and what they deliberately leave alone:
//
// - registration_token: Mailroom's agent tokens are 32 random bytes in base64url (43 characters).
//   The database keeps only their sha256, so a 43-character base64url run is redacted when its
//   hash is one of the given agents' (whatever it looks like), or when it mixes upper case, lower
//   case and digits (nearly every random token does; a snake_case or lowercase identifier, a hex
//   hash or a UUID does not).
// - bearer_token: `Bearer <credential>` where the credential has a digit or one of - . _ ~ + / =
//   ("Bearer authentication" in prose stays).
// - api_key: vendor-prefixed keys: OpenAI/Anthropic `sk-…`, Stripe `sk_live_…`/`rk_test_…`,
//   GitHub `ghp_ gho_ ghu_ ghs_ ghr_ github_pat_`, GitLab `glpat-`, Slack `xoxa- xoxb- xoxp- …`,
//   AWS `AKIA…`/`ASIA…`, Google `AIza…`, npm `npm_…`.
// - jwt: three dot-separated base64url segments, the first starting `eyJ` (a JSON header).
// - secret: assignments `api_key=…`, `token: …`, `"client_secret": "…"`, `password=…` and kin,
//   where the key is a whole word or ends one (`OPENAI_API_KEY=`, `db-password:`) and the value is at least 8 characters with a letter and a
//   digit, ending at whitespace, a quote or punctuation. So `tokenizer = …`, `max_tokens: 4096`,
//   `token = this.token` and `password = getPassword()` stay; only the value is replaced.
// - custom: every match of the operator's extra patterns.
//
// Replacements read `[REDACTED:<kind>]`; no replacement can be matched by a later detector.

export const REDACTION_KINDS = ["bearer_token", "api_key", "jwt", "registration_token", "secret", "custom"] as const;
export type RedactionKind = (typeof REDACTION_KINDS)[number];
export type RedactionCounts = Record<RedactionKind, number>;

export interface ScrubOptions {
  /** sha256 (hex) of registration tokens known to be secrets: a 43-character run hashing to one is always redacted. */
  knownTokenHashes?: ReadonlySet<string>;
  /** Further patterns (see compileExtraPattern); each match becomes [REDACTED:custom]. */
  extraPatterns?: readonly RegExp[];
}

export interface ScrubResult {
  text: string;
  counts: RedactionCounts;
}

export function emptyCounts(): RedactionCounts {
  return { bearer_token: 0, api_key: 0, jwt: 0, registration_token: 0, secret: 0, custom: 0 };
}

export function addCounts(total: RedactionCounts, more: RedactionCounts): void {
  for (const kind of REDACTION_KINDS) total[kind] += more[kind];
}

export function countTotal(counts: RedactionCounts): number {
  return REDACTION_KINDS.reduce((sum, kind) => sum + counts[kind], 0);
}

export function redaction(kind: RedactionKind): string {
  return `[REDACTED:${kind}]`;
}

const B64URL = "A-Za-z0-9_\\-";
// Token-ish runs are delimited by anything that could not continue them.
const NOT_B64URL_BEFORE = `(?<![${B64URL}])`;
const NOT_B64URL_AFTER = `(?![${B64URL}])`;

const hasDigit = (value: string) => /[0-9]/.test(value);
const hasLetter = (value: string) => /[A-Za-z]/.test(value);
const mixedCaseAndDigit = (value: string) => /[A-Z]/.test(value) && /[a-z]/.test(value) && hasDigit(value);

interface Detector {
  kind: RedactionKind;
  pattern: RegExp;
  /** Which capture group is the secret (0: the whole match); the rest of the match is kept. */
  group?: number;
  /** Whether this match is really a secret (content rules the pattern cannot express). */
  accept?: (secret: string) => boolean;
}

const SECRET_KEYS = [
  "api[_-]?key",
  "apikey",
  "api[_-]?secret",
  "api[_-]?token",
  "access[_-]?key(?:[_-]?id)?",
  "secret[_-]?access[_-]?key",
  "access[_-]?token",
  "refresh[_-]?token",
  "auth[_-]?token",
  "id[_-]?token",
  "client[_-]?secret",
  "secret[_-]?key",
  "private[_-]?key",
  "registration[_-]?token",
  "sender[_-]?token",
  "agent[_-]?token",
  "token",
  "secret",
  "password",
  "passwd",
  "pwd",
].join("|");

const DETECTORS: readonly Detector[] = [
  {
    kind: "bearer_token",
    // The credential ends at a letter, digit or `=`: a full stop after it ends the sentence.
    pattern: /(\bbearer[ \t]+)([A-Za-z0-9\-._~+/=]{7,}[A-Za-z0-9=])(?![A-Za-z0-9=]|[\-._~+/][A-Za-z0-9])/gi,
    group: 2,
    accept: (credential) => /[0-9\-._~+/=]/.test(credential),
  },
  {
    kind: "api_key",
    pattern: new RegExp(
      NOT_B64URL_BEFORE +
        "(?:" +
        [
          "sk-[A-Za-z0-9_\\-]{20,}",
          "(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
          "gh[pousr]_[A-Za-z0-9]{30,}",
          "github_pat_[A-Za-z0-9_]{22,}",
          "glpat-[A-Za-z0-9_\\-]{20,}",
          "xox[abposr]-[A-Za-z0-9\\-]{10,}",
          "(?:AKIA|ASIA)[0-9A-Z]{16}",
          "AIza[0-9A-Za-z_\\-]{35}",
          "npm_[A-Za-z0-9]{36}",
        ].join("|") +
        ")" +
        NOT_B64URL_AFTER,
      "g",
    ),
    accept: (key) => hasDigit(key),
  },
  {
    kind: "jwt",
    pattern: new RegExp(`${NOT_B64URL_BEFORE}eyJ[${B64URL}]{5,}\\.[${B64URL}]{4,}\\.[${B64URL}]*(?![${B64URL}]|\\.[${B64URL}])`, "g"),
  },
  {
    kind: "registration_token",
    pattern: new RegExp(`${NOT_B64URL_BEFORE}[${B64URL}]{43}${NOT_B64URL_AFTER}`, "g"),
  },
  {
    kind: "secret",
    pattern: new RegExp(
      `(["']?(?<![A-Za-z0-9_-])(?:[A-Za-z0-9]+[_-])*(?:${SECRET_KEYS})(?![A-Za-z0-9_])["']?[ \\t]*[:=][ \\t]*["']?)([^\\s"'\`,;()\\[\\]{}<>]{8,})(?=$|[\\s"'\`,;)\\]}<>])`,
      "gim",
    ),
    group: 2,
    accept: (value) => hasLetter(value) && hasDigit(value) && !value.startsWith("[REDACTED:"),
  },
];

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The scrubber for one export: `scrub(text)` returns the cleaned text and what it replaced. */
export function createScrubber(options: ScrubOptions = {}): (text: string) => ScrubResult {
  const knownHashes = options.knownTokenHashes ?? new Set<string>();
  const extras = options.extraPatterns ?? [];
  return (input) => {
    const counts = emptyCounts();
    let text = input;
    for (const detector of DETECTORS) {
      text = text.replace(detector.pattern, (match: string, ...rest: unknown[]) => {
        const group = detector.group ?? 0;
        const secret = group === 0 ? match : String(rest[group - 1]);
        const accepted =
          detector.kind === "registration_token"
            ? knownHashes.has(sha256Hex(secret)) || mixedCaseAndDigit(secret)
            : (detector.accept?.(secret) ?? true);
        if (!accepted) return match;
        counts[detector.kind] += 1;
        return group === 0 ? redaction(detector.kind) : `${String(rest[0])}${redaction(detector.kind)}`;
      });
    }
    for (const pattern of extras) {
      text = text.replace(pattern, (match: string) => {
        if (match === "") return match;
        counts.custom += 1;
        return redaction("custom");
      });
    }
    return { text, counts };
  };
}

export const MAX_EXTRA_PATTERNS = 20;
export const MAX_EXTRA_PATTERN_LENGTH = 500;

/**
 * An operator's extra pattern (a JavaScript regular expression source) ready for createScrubber:
 * global, case-sensitive as written (prefix `(?i)` for case-insensitive). Refused when it does not
 * compile, is too long, or matches the empty string (it would match everywhere and nothing).
 */
export function compileExtraPattern(source: string): RegExp {
  if (source.length === 0) throw new Error("an extra scrub pattern must not be empty");
  if (source.length > MAX_EXTRA_PATTERN_LENGTH) throw new Error(`an extra scrub pattern is at most ${MAX_EXTRA_PATTERN_LENGTH} characters`);
  const caseInsensitive = source.startsWith("(?i)");
  let pattern: RegExp;
  try {
    pattern = new RegExp(caseInsensitive ? source.slice(4) : source, caseInsensitive ? "gi" : "g");
  } catch {
    throw new Error("an extra scrub pattern is not a valid regular expression");
  }
  if (pattern.test("")) throw new Error("an extra scrub pattern must not match the empty string");
  pattern.lastIndex = 0;
  return pattern;
}
