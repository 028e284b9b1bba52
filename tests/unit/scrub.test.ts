import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compileExtraPattern, countTotal, createScrubber, type RedactionKind } from "@/server/export/scrub";

// The export's secret scrubber: every secret form it promises to catch is replaced by
// [REDACTED:<kind>] and counted; ordinary prose and code around it (and look-alikes such as
// hashes, UUIDs, `tokenizer`, `max_tokens`) are left exactly as they were.

const scrub = createScrubber();

function mintToken(): string {
  return randomBytes(32).toString("base64url");
}

/** A registration token that a pure shape check would miss: no digit, no upper case. */
const LOWERCASE_TOKEN = "abcdefghijklmnopqrstuvwxyz_abcdefghijklmnop";

function only(kind: RedactionKind, text: string) {
  const result = scrub(text);
  expect(result.counts[kind], `${kind} in ${JSON.stringify(text)} → ${result.text}`).toBeGreaterThan(0);
  expect(countTotal(result.counts)).toBe(result.counts[kind]);
  return result;
}

describe("secrets are redacted", () => {
  it("registration tokens (43 base64url characters), in prose, URLs and JSON", () => {
    for (let i = 0; i < 50; i++) {
      const token = mintToken();
      // Random tokens that happen to miss a digit or a case are caught by their hash (below).
      if (!(/[A-Z]/.test(token) && /[a-z]/.test(token) && /[0-9]/.test(token))) continue;
      for (const text of [`my token is ${token}.`, `{"registration_token":"${token}"}`, `https://x.test/?t=${token}&a=1`, `(${token})`]) {
        const result = only("registration_token", text);
        expect(result.text).not.toContain(token);
        expect(result.text).toContain("[REDACTED:registration_token]");
      }
    }
  });

  it("a known agent's token by its hash, whatever its characters", () => {
    const hash = createHash("sha256").update(LOWERCASE_TOKEN).digest("hex");
    expect(scrub(`use ${LOWERCASE_TOKEN} now`).text).toContain(LOWERCASE_TOKEN);
    const known = createScrubber({ knownTokenHashes: new Set([hash]) });
    const result = known(`use ${LOWERCASE_TOKEN} now`);
    expect(result.text).toBe("use [REDACTED:registration_token] now");
    expect(result.counts.registration_token).toBe(1);
  });

  it("bearer tokens, keeping the word Bearer", () => {
    expect(only("bearer_token", "Authorization: Bearer abc123DEF456ghi789").text).toBe("Authorization: Bearer [REDACTED:bearer_token]");
    expect(only("bearer_token", "curl -H 'authorization: bearer tok.en-value_1/2+3==' x").text).toBe(
      "curl -H 'authorization: bearer [REDACTED:bearer_token]' x",
    );
    expect(only("bearer_token", "send BEARER 0123456789abcdef.").text).toBe("send BEARER [REDACTED:bearer_token].");
  });

  it.each([
    ["OpenAI", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv"],
    ["Anthropic", "sk-ant-api03-AbCdEf012345678901234567"],
    ["Stripe", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
    ["GitHub classic", `ghp_${"a1B2".repeat(9)}`],
    ["GitHub OAuth", `gho_${"Z9y8".repeat(9)}`],
    ["GitHub fine-grained", `github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123`],
    ["GitLab", "glpat-Ab12Cd34Ef56Gh78Ij90"],
    ["Slack bot", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"],
    ["Slack user", "xoxp-2222222222-3333333333-abcdef"],
    ["AWS access key", "AKIAIOSFODNN7EXAMPLE"],
    ["AWS temporary key", "ASIAY34FZKBOKMUTVV7A"],
    ["Google", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"],
    ["npm", `npm_${"a1B2c3".repeat(6)}`],
  ])("API keys: %s", (_label, key) => {
    const result = only("api_key", `export KEY_VALUE ${key} # keep`);
    expect(result.text).toBe("export KEY_VALUE [REDACTED:api_key] # keep");
  });

  it("JWTs (three base64url segments starting eyJ), also unsigned and at a sentence's end", () => {
    const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    expect(only("jwt", `token ${jwt}.`).text).toBe("token [REDACTED:jwt].");
    expect(only("jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.").text).toBe("[REDACTED:jwt]");
  });

  it("secret assignments, replacing the value only", () => {
    const cases: Array<[string, string]> = [
      ["api_key=abc123def456", "api_key=[REDACTED:secret]"],
      ["API-KEY: 'q1w2e3r4t5y6'", "API-KEY: '[REDACTED:secret]'"],
      ['{"client_secret": "s3cr3tValue99"}', '{"client_secret": "[REDACTED:secret]"}'],
      ["token: tok_9f8e7d6c5b", "token: [REDACTED:secret]"],
      ["OPENAI_API_KEY=abc123xyz789", "OPENAI_API_KEY=[REDACTED:secret]"],
      ["db-password = hunter2hunter2", "db-password = [REDACTED:secret]"],
      ["access_token=ya29abc0123456, next", "access_token=[REDACTED:secret], next"],
    ];
    for (const [input, expected] of cases) expect(only("secret", input).text).toBe(expected);
  });

  it("extra patterns, counted as custom", () => {
    const custom = createScrubber({ extraPatterns: [compileExtraPattern("ACME-[0-9]{6}"), compileExtraPattern("(?i)project zeus")] });
    const result = custom("ticket ACME-123456 about Project ZEUS and acme-654321");
    expect(result.text).toBe("ticket [REDACTED:custom] about [REDACTED:custom] and acme-654321");
    expect(result.counts.custom).toBe(2);
  });

  it("counts each secret once, several in one text", () => {
    const token = "Tk0" + mintToken().slice(3);
    const result = scrub(`a ${token} b Bearer zz9zz9zz9zz9 c AKIAIOSFODNN7EXAMPLE d password: pa55word99`);
    expect(result.counts).toEqual({ bearer_token: 1, api_key: 1, jwt: 0, registration_token: 1, secret: 1, custom: 0 });
    expect(result.text).toBe(
      "a [REDACTED:registration_token] b Bearer [REDACTED:bearer_token] c [REDACTED:api_key] d password: [REDACTED:secret]",
    );
  });
});

describe("no false positives", () => {
  // Decided: these stay. Hex digests (sha1/sha256), UUIDs and git SHAs are identifiers, not
  // credentials; code that mentions tokens without holding one must read the same afterwards.
  const ordinary = [
    "The tokenizer splits text into tokens; set max_tokens: 4096 and token_count = 12.",
    "const tokenizer = new Tokenizer(); token = this.token; password = getPassword();",
    "api_key = os.environ['API_KEY'] and secret = config.secret",
    "Bearer authentication is described in RFC 6750. The bearer of bad news.",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b00a0a08",
    "sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 commit 17d1ae4",
    "uuid 123e4567-e89b-12d3-a456-426614174000 and another 550E8400-E29B-41D4-A716-446655440000",
    "task-oriented-and-stakeholder-focused-documentation, risk-assessment, sk-learn, ask-for-help",
    "a_very_long_snake_case_identifier_of_43_chr and averylonglowercaseidentifiernamewithnodigit",
    "src/server/export/scrub.ts, tests/integration/export.test.ts, https://example.com/docs?page=2",
    "eyJ alone, or eyJhbGci without dots, is not a JWT",
    "token: expired; token: 12345678; secret: yes",
    "AKIA is a prefix; GHP_ and ghp_short are not keys; xoxb- alone neither",
    "```ts\nconst headers = { Authorization: `Bearer ${token}` };\n```",
    "Prices: $12,345.67 on 2024-05-01T12:00:00Z; ids 12345678901234567890",
  ];

  it.each(ordinary)("%s", (text) => {
    const result = scrub(text);
    expect(result.text).toBe(text);
    expect(countTotal(result.counts)).toBe(0);
  });

  it("redactions are stable: scrubbing scrubbed text changes nothing", () => {
    const once = scrub("api_key=abc123def456 Bearer abc123def456 ghp_" + "a1B2".repeat(9)).text;
    const twice = scrub(once);
    expect(twice.text).toBe(once);
    expect(countTotal(twice.counts)).toBe(0);
  });
});

describe("extra patterns are checked", () => {
  it.each([
    ["", "must not be empty"],
    ["(", "not a valid regular expression"],
    ["a*", "must not match the empty string"],
    ["x".repeat(501), "at most 500 characters"],
  ])("%j is refused", (source, message) => {
    expect(() => compileExtraPattern(source)).toThrow(message);
  });
});
