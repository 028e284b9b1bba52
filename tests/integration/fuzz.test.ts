import { CallToolRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { toolOperations } from "@/mcp/catalog";
import { LAZY_TOOL_NAME, lazyToolInput } from "@/mcp/lazy-tool";
import { mintToken } from "@/server/auth/tokens";
import type { AnyOperation } from "@/server/operations/define";
import { registered } from "@/server/operations/registry";
import { flushToolMetrics } from "@/server/services/tooling/metrics-recorder";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { operationSamples } from "../helpers/operation-samples";
import { tableDigest } from "../helpers/snapshot";

// A seeded, bounded fuzz of the running app (issue: "thousands of malformed JSON-RPC bodies and
// tool arguments against the running app, with and without valid tokens → no 5xx, no crash, every
// answer a clear error, the database unchanged"). About 3,000 requests, generated up front from one
// seed, sent 8 at a time to the real handlers over HTTP in token mode:
//   mcp-envelope  malformed JSON-RPC to POST /api/mcp (truncated, wrong types, batches, nesting, …)
//   mcp-tools     tools/call of every tool with mutated arguments (and through call_extended_tool)
//   trpc          random procedure paths, methods, bodies and inputs on /api/trpc/…
// each with no token, a reader, writer or admin token, a garbage credential or an expired token.
//
// "The database unchanged" holds by construction, not by luck: every request that could reach a
// write (a mutation tool or procedure) is generated until the arguments the server will parse are
// invalid for the operation's own schema, checked here with the very schema and the very envelope
// parsing the server uses. A successful answer to such a request is reported as a failure, and the
// table digest before and after must match. Reproduce a failure with FUZZ_SEED=<seed>.

const DEFAULT_SEED = 0x5eed_2026;
const SEED = process.env.FUZZ_SEED ? Number.parseInt(process.env.FUZZ_SEED, 10) >>> 0 : DEFAULT_SEED;
const COUNTS = { "mcp-envelope": 1000, "mcp-tools": 1300, trpc: 700 } as const;
const CONCURRENCY = 8;

const SECRET = "fuzz-test-secret-0123456789abcdef-0123456789";
const AUDIENCE = "mailroom-fuzz";
const AUTH = { mode: "tokens" as const, secret: SECRET, audience: AUDIENCE };
const PROJECT = "/fuzz/main";

/** Text that must never reach a client: stack frames, SQL, the ORM, source paths. */
const LEAKS: [string, RegExp][] = [
  ["a stack trace", /\n\s+at \S|\s{4}at \S/],
  ["SQL", /\bSELECT [\w"*]|\bINSERT INTO\b|\bUPDATE "?\w+"? SET\b|\bDELETE FROM\b/],
  ["the ORM", /prisma/i],
  ["a file system path", /\/work\/|node_modules|\.tsx?:\d|\.m?js:\d/],
];
/** Longest error message accepted as "clear" (a dump of a schema or an object is longer). */
const MAX_MESSAGE = 2000;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** mulberry32: a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let roll = this.next() * items.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [item, weight] of items) {
      roll -= weight;
      if (roll < 0) return item;
    }
    return items[items.length - 1]![0];
  }
}

// ---------------------------------------------------------------------------------------------
// JSON text with what JSON.stringify cannot write: raw tokens (1e309, 30-digit integers),
// duplicate keys and own `__proto__` keys.

class Raw {
  constructor(readonly text: string) {}
}
class Entries {
  constructor(readonly entries: [string, unknown][]) {}
}
const raw = (text: string) => new Raw(text);

function dump(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Entries) return `{${value.entries.map(([key, item]) => `${JSON.stringify(key)}:${dump(item)}`).join(",")}}`;
  if (Array.isArray(value)) return `[${value.map(dump).join(",")}]`;
  if (value !== null && typeof value === "object") return dump(new Entries(Object.entries(value)));
  if (value === undefined) return "null";
  return JSON.stringify(value);
}

/** What JSON.parse on the server makes of a value: null for text that is not JSON. */
function parsed(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

// ---------------------------------------------------------------------------------------------
// Values

const NUMBERS: unknown[] = [
  0, -0, 1, -1, 0.5, -2.5, 7, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e308, -1e308, 5e-324,
  raw("1e309"), raw("-1e309"), raw("1E400"), raw("123456789012345678901234567890"), raw("-0.0"), raw("1.0"), raw("0.0000000000000000000000001"),
];
const STRINGS: string[] = [
  "", " ", "\t\r\n", "x", "null", "undefined", "true", "0", "-1", "NaN", "Infinity", "[]", "{}", "\u0000", "a\u0000b", "\ud800", "x\udfffy", "😀",
  "\u202eevil", "\u200b", "e\u0301", "\ufeff", "\uffff", "%00", "%ZZ", "%E0%A4%A", "../../etc/passwd", "/", "//", "/fuzz/../x", "relative/path",
  "C:\\Windows", "~", "' OR 1=1 --", "\"; DROP TABLE agents; --", "<script>alert(1)</script>", "${jndi:ldap://x}", "{{7*7}}", "__proto__",
  "constructor", "prototype", "toString", "hasOwnProperty", "GreenLake", "BlueDog", " greenlake ", "MATRIX-1", "resource://inbox/BlueDog",
  "2026-13-45T99:99:99Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "-0", "1e309", "0x10", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "*", "**/*", "a,b,c",
];
const SPECIAL_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "", " ", "\u0000", "a.b", "0", "-1", "😀"];
const CHAR_RANGES: [number, number][] = [
  [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0x01, 0x1f], [0x7f, 0xff], [0x100, 0x17f], [0x400, 0x4ff], [0x590, 0x6ff], [0x2000, 0x206f],
  [0x4e00, 0x4fff], [0xd800, 0xdfff], [0xfff0, 0xffff],
];

/** Whether a piece of caller input would make an echo of it look like a leak. */
const looksLeaky = (text: string) => LEAKS.some(([, pattern]) => pattern.test(text));

function randomString(rng: Rng, max = 48): string {
  let text = "";
  const length = rng.int(max) + 1;
  for (let i = 0; i < length; i += 1) {
    const [low, high] = rng.pick(CHAR_RANGES);
    text += String.fromCharCode(low + rng.int(high - low + 1));
  }
  return looksLeaky(text) ? "x" : text;
}

/** encodeURIComponent for any string: lone surrogates (which it refuses) become U+FFFD first. */
function encode(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));
}

function longString(rng: Rng): string {
  return rng.pick(["x", "é", "😀", "\u0000", " "]).repeat(rng.pick([129, 257, 1025, 4097, 65_537]));
}

function randomScalar(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [() => null, 2],
    [() => rng.chance(0.5), 1],
    [() => rng.pick(NUMBERS), 3],
    [() => rng.pick(STRINGS), 4],
    [() => randomString(rng), 3],
    [() => (rng.chance(0.2) ? longString(rng) : randomString(rng, 8)), 1],
  ])();
}

function randomValue(rng: Rng, depth = 0): unknown {
  if (depth > 3 || rng.chance(0.6)) return randomScalar(rng);
  return rng.weighted<() => unknown>([
    [() => [], 1],
    [() => ({}), 1],
    [() => Array.from({ length: rng.int(5) + 1 }, () => randomValue(rng, depth + 1)), 2],
    [() => new Entries(Array.from({ length: rng.int(4) + 1 }, () => [rng.chance(0.3) ? rng.pick(SPECIAL_KEYS) : randomString(rng, 12), randomValue(rng, depth + 1)])), 2],
    [() => nested(rng.int(30) + 2, rng.chance(0.5)), 1],
  ])();
}

/** `depth` nested arrays or objects, as raw JSON text (cheap to build at any depth). */
function nested(depth: number, objects: boolean): Raw {
  return objects ? raw(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`) : raw(`${"[".repeat(depth)}${"]".repeat(depth)}`);
}

// ---------------------------------------------------------------------------------------------
// Tool arguments mutated from a valid sample

interface JsonSchema {
  type?: string | string[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  maxLength?: number;
  minLength?: number;
  maxItems?: number;
  minItems?: number;
  maximum?: number;
  minimum?: number;
}

const schemas = new Map<AnyOperation, JsonSchema>();
function schemaOf(operation: AnyOperation): JsonSchema {
  let schema = schemas.get(operation);
  if (!schema) schemas.set(operation, (schema = z.toJSONSchema(operation.input, { io: "input", unrepresentable: "any" }) as JsonSchema));
  return schema;
}

function branches(schema: JsonSchema): JsonSchema[] {
  return schema.anyOf ? schema.anyOf.flatMap(branches) : [schema];
}

function typesOf(schema: JsonSchema): Set<string> {
  const types = new Set<string>();
  for (const branch of branches(schema)) {
    for (const type of [branch.type ?? []].flat()) types.add(type === "integer" ? "number" : type);
  }
  return types;
}

function jsonType(value: unknown): string {
  if (value instanceof Raw) return "number";
  if (value instanceof Entries) return "object";
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** One mutation of one argument: wrong type, out of range, too long, too many, null, NUL, … */
function mutateValue(rng: Rng, schema: JsonSchema | undefined, current: unknown): unknown {
  const accepted = schema ? typesOf(schema) : new Set<string>();
  const strings = branches(schema ?? {}).filter((branch) => branch.type === "string");
  const numbers = branches(schema ?? {}).filter((branch) => branch.type === "number" || branch.type === "integer");
  const arrays = branches(schema ?? {}).filter((branch) => branch.type === "array");
  const options: (readonly [() => unknown, number])[] = [
    [
      () => {
        for (let i = 0; i < 10; i += 1) {
          const value = randomValue(rng);
          if (!accepted.has(jsonType(value))) return value;
        }
        return randomValue(rng);
      },
      4,
    ],
    [() => null, 1],
    [() => randomValue(rng), 2],
  ];
  if (typeof current === "string") {
    options.push([() => `${current}\u0000`, 1], [() => "", 1], [() => ` ${current} `, 1], [() => current + randomString(rng, 6), 1]);
  }
  for (const branch of strings) {
    if (branch.maxLength !== undefined && branch.maxLength < 300_000) options.push([() => "y".repeat(branch.maxLength! + 1 + rng.int(3)), 2]);
  }
  for (const branch of numbers) {
    options.push(
      [() => (branch.maximum ?? 2 ** 31) + 1, 1],
      [() => (branch.minimum ?? -(2 ** 31)) - 1, 1],
      [() => (branch.type === "integer" ? 1.5 : raw("1e309")), 1],
      [() => String(current ?? 1), 1],
    );
  }
  for (const branch of arrays) {
    const item = Array.isArray(current) && current.length ? current[0] : "x";
    options.push([() => [], 1], [() => Array.from({ length: (branch.maxItems ?? 100) + 1 }, () => item), 1]);
    if (Array.isArray(current) && current.length) options.push([() => current.map((value) => (rng.chance(0.5) ? randomValue(rng) : value)), 2]);
  }
  if (current instanceof Entries || (current !== null && typeof current === "object" && !Array.isArray(current))) {
    options.push([() => mutateArguments(rng, schema, toEntries(current), 1), 3]);
  }
  return rng.weighted(options)();
}

function toEntries(value: unknown): [string, unknown][] {
  if (value instanceof Entries) return [...value.entries];
  return value !== null && typeof value === "object" && !Array.isArray(value) ? Object.entries(value) : [];
}

/** 1–3 mutations of an argument object: a field dropped, replaced, broken, or an unknown key added. */
function mutateArguments(rng: Rng, schema: JsonSchema | undefined, base: [string, unknown][], times = rng.int(3) + 1): Entries {
  const entries: [string, unknown][] = base.map(([key, value]) => [key, value]);
  const properties = schema?.properties ?? {};
  for (let i = 0; i < times; i += 1) {
    const kind = rng.weighted([
      ["drop", 2],
      ["replace", 6],
      ["absent", 2],
      ["unknown", 1],
      ["special", 1],
      ["duplicate", 1],
    ] as const);
    if (kind === "drop" && entries.length) {
      entries.splice(rng.int(entries.length), 1);
    } else if ((kind === "replace" || kind === "duplicate") && entries.length) {
      const index = rng.int(entries.length);
      const [key, value] = entries[index]!;
      const mutated = mutateValue(rng, properties[key], value);
      if (kind === "duplicate") entries.push([key, mutated]);
      else entries[index] = [key, mutated];
    } else if (kind === "absent") {
      // A field the sample left out, set to something (possibly valid, possibly not).
      const names = Object.keys(properties).filter((name) => !entries.some(([key]) => key === name));
      if (names.length) {
        const name = rng.pick(names);
        entries.push([name, mutateValue(rng, properties[name], undefined)]);
      }
    } else if (kind === "unknown") {
      entries.push([rng.chance(0.5) ? randomString(rng, 16) : `${rng.pick(Object.keys(properties).concat("x"))}_x`, randomValue(rng)]);
    } else {
      entries.push([rng.pick(SPECIAL_KEYS), rng.chance(0.5) ? new Entries(entries.slice(0, 3)) : randomValue(rng)]);
    }
  }
  return new Entries(entries);
}

/**
 * For queries only: the sample with at most one argument replaced by a value of the right type and
 * size (random text, a number in range), so that a share of calls gets past validation and runs
 * the handler with odd but valid input. Mutations never get this: their input is always invalid.
 */
function softArguments(rng: Rng, schema: JsonSchema, base: [string, unknown][]): Entries {
  const entries: [string, unknown][] = base.map(([key, value]) => [key, value]);
  if (!entries.length || rng.chance(0.2)) return new Entries(entries);
  const index = rng.int(entries.length);
  const [key, current] = entries[index]!;
  const property = schema.properties?.[key] ?? {};
  const text = branches(property).find((branch) => branch.type === "string" && branch.enum === undefined && branch.const === undefined);
  const number = branches(property).find((branch) => branch.type === "integer" || branch.type === "number");
  if (typeof current === "string" && text) {
    entries[index] = [key, randomString(rng, Math.max(1, Math.min(text.maxLength ?? 48, 48)))];
  } else if (typeof current === "number" && number) {
    const low = number.minimum ?? 0;
    const high = Math.min(number.maximum ?? 1000, low + 1000);
    entries[index] = [key, rng.pick([low, high, low + rng.int(high - low + 1)])];
  }
  return new Entries(entries);
}

// ---------------------------------------------------------------------------------------------
// Requests

type AuthKind = "none" | "reader" | "writer" | "admin" | "garbage" | "expired";
type Category = keyof typeof COUNTS;
const VALID_AUTH: ReadonlySet<AuthKind> = new Set(["reader", "writer", "admin"]);
const AUTH_WEIGHTS: [AuthKind, number][] = [
  ["none", 1],
  ["garbage", 1],
  ["expired", 1],
  ["reader", 2],
  ["writer", 2],
  ["admin", 3],
];

interface FuzzRequest {
  index: number;
  category: Category;
  auth: AuthKind;
  /** The Authorization or Cookie header this request carries, if any. */
  credential?: [string, string];
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** What it is, for the report: the tool, method or procedure. */
  label: string;
  /**
   * Positions in the answer (0 for a single answer, i for the i-th of a tRPC batch) whose success
   * would mean a write went through: mutation tools and procedures, sent only with invalid input.
   */
  writes: ReadonlySet<number>;
}

const mcpHeaders = (rng: Rng): Record<string, string> => {
  const headers: Record<string, string> = {
    "content-type": rng.weighted([
      ["application/json", 12],
      ["application/json; charset=utf-8", 2],
      ["text/plain", 1],
      ["application/x-www-form-urlencoded", 1],
      ["multipart/form-data; boundary=x", 1],
      ["", 1],
    ]),
    accept: rng.weighted([
      ["application/json, text/event-stream", 12],
      ["application/json", 1],
      ["text/event-stream", 1],
      ["text/html", 1],
      ["*/*", 1],
      ["", 1],
    ]),
  };
  const version = rng.weighted([
    ["2025-06-18", 10],
    ["2025-03-26", 3],
    ["", 2],
    ["2024-11-05", 1],
    ["1999-01-01", 1],
    ["x".repeat(300), 1],
    ["9999-99-99", 1],
  ]);
  if (version) headers["mcp-protocol-version"] = version;
  for (const name of Object.keys(headers)) if (!headers[name]) delete headers[name];
  return headers;
};

/** A valid (or almost valid) JSON-RPC message that does nothing: reads, unknown tools, notifications. */
function harmlessMessage(rng: Rng, readTools: readonly string[], resourceUris: readonly string[]): Record<string, unknown> {
  const id = rng.chance(0.8) ? rng.int(1000) : rng.pick<unknown>(["x", null, -1, 1.5, raw("1e309"), {}, [], true, "𝔘"]);
  const method = rng.weighted([
    ["tools/list", 3],
    ["tools/call", 4],
    ["resources/read", 3],
    ["resources/list", 1],
    ["resources/templates/list", 1],
    ["initialize", 1],
    ["ping", 1],
    ["notifications/initialized", 1],
    ["notifications/cancelled", 1],
    ["prompts/list", 1],
    ["completion/complete", 1],
    ["logging/setLevel", 1],
    ["sampling/createMessage", 1],
    ["tools/destroy", 1],
    ["rpc.discover", 1],
    ["__proto__", 1],
    ["constructor", 1],
    ["", 1],
  ] as const);
  let params: unknown;
  if (method === "tools/call") {
    const name = rng.weighted<unknown>([
      ["health_check", 3],
      [rng.pick(readTools), 2],
      [randomString(rng, 24), 2],
      ["no_such_tool", 1],
      [LAZY_TOOL_NAME, 1],
      ["__proto__", 1],
      ["toString", 1],
      [randomValue(rng), 1],
    ]);
    params = rng.chance(0.8) ? new Entries([["name", name], ["arguments", rng.chance(0.7) ? randomValue(rng) : {}]]) : randomValue(rng);
  } else if (method === "resources/read") {
    const uri = rng.weighted<unknown>([
      [rng.pick(resourceUris), 4],
      [`${rng.pick(resourceUris)}${rng.pick(["%", "%ZZ", "%00", "&x=1", "?limit=1&limit=2", "/..", "#frag", "?agent_token=%00"])}`, 4],
      [`resource://${randomString(rng, 20)}`, 2],
      [rng.pick(["file:///etc/passwd", "http://127.0.0.1/", "resource://", "resource:///", "", "resource://inbox/", "resource://message/2147483648"]), 2],
      [randomValue(rng), 1],
    ]);
    params = rng.chance(0.9) ? { uri } : randomValue(rng);
  } else if (method === "initialize") {
    params = rng.chance(0.5)
      ? { protocolVersion: rng.pick(["2025-06-18", "2025-03-26", "x", ""]), capabilities: randomValue(rng), clientInfo: { name: randomValue(rng), version: "1" } }
      : randomValue(rng);
  } else {
    params = rng.chance(0.5) ? undefined : rng.chance(0.5) ? { cursor: randomValue(rng) } : randomValue(rng);
  }
  const message: Record<string, unknown> = { jsonrpc: "2.0", method };
  if (!method.startsWith("notifications/") || rng.chance(0.2)) message.id = id;
  if (params !== undefined) message.params = params;
  return message;
}

/** Breaks one part of a JSON-RPC message: jsonrpc, id, method or params of the wrong type or absent. */
function breakEnvelope(rng: Rng, message: Record<string, unknown>): unknown {
  const broken = { ...message };
  const field = rng.pick(["jsonrpc", "id", "method", "params", "extra"]);
  if (field === "extra") broken[rng.chance(0.5) ? randomString(rng, 10) : "result"] = randomValue(rng);
  else if (rng.chance(0.3)) delete broken[field];
  else broken[field] = rng.pick<unknown>([1, 2.0, "1.0", "2.0 ", null, true, [], {}, raw("1e309"), nested(50, true), randomString(rng), longString(rng)]);
  return broken;
}

function envelopeBody(rng: Rng, readTools: readonly string[], resourceUris: readonly string[]): string | Uint8Array<ArrayBuffer> {
  const message = () => harmlessMessage(rng, readTools, resourceUris);
  return rng.weighted<() => string | Uint8Array<ArrayBuffer>>([
    [() => rng.pick(["", " ", "\n", "null", "true", "0", "-1", '""', "[]", "{}", "1e309", '"2.0"', "[[]]", "[{}]", "[null]"]), 2],
    [
      () => {
        const text = dump(message());
        return text.slice(0, rng.int(text.length));
      },
      3,
    ],
    [() => Uint8Array.from({ length: rng.int(512) + 1 }, () => rng.int(256)), 2],
    [() => randomString(rng, 200), 1],
    [() => dump(message()), 4],
    [() => dump(breakEnvelope(rng, message())), 6],
    [() => dump(randomValue(rng)), 1],
    [
      () => {
        // Deep nesting (bounded by the body limit): at the top, in params, in arguments, in the id.
        const depth = rng.pick([100, 1_000, 10_000, 50_000, 100_000]);
        const deep = nested(depth, rng.chance(0.5));
        const where = rng.pick(["top", "params", "arguments", "id"]);
        if (where === "top") return deep.text;
        if (where === "params") return dump({ jsonrpc: "2.0", id: 1, method: "tools/list", params: deep });
        if (where === "id") return dump({ jsonrpc: "2.0", id: deep, method: "ping" });
        return dump({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: rng.pick(["health_check", "no_such_tool", ...readTools]), arguments: { deep } } });
      },
      2,
    ],
    [
      () => {
        // Batches: empty, within and past the limit, mixed valid and broken messages.
        const length = rng.pick([0, 1, 2, 3, 8, 9, 20]);
        return dump(Array.from({ length }, () => (rng.chance(0.6) ? message() : rng.chance(0.5) ? breakEnvelope(rng, message()) : randomValue(rng))));
      },
      3,
    ],
    [
      () => {
        // Prototype keys and duplicate keys at the top and in params.
        const base = message();
        return rng.pick([
          () => dump(new Entries([["__proto__", base]])),
          () => dump(new Entries([...Object.entries(base), ["__proto__", { jsonrpc: "2.0", method: "tools/call", id: 9 }]])),
          () => dump(new Entries([...Object.entries(base), ["constructor", { prototype: { polluted: true } }]])),
          () => dump(new Entries([...Object.entries(base), ["method", rng.pick(["tools/list", "ping", 7, null])]])),
          () => dump(new Entries([...Object.entries(base), ["params", new Entries([["__proto__", { name: "health_check" }], ["constructor", {}]])]])),
        ])();
      },
      2,
    ],
  ])();
}

interface Setup {
  samples: Record<string, Record<string, unknown>>;
  readTools: string[];
  resourceUris: string[];
}

const byName = new Map(registered.map(({ operation }) => [operation.name, operation]));
const byPath = new Map(registered.map(({ path, operation }) => [path, operation]));

/** Why the server, parsing `input` for `operation`, could run its handler and write or block; undefined when it cannot. */
function unsafeInput(operation: AnyOperation | undefined, input: unknown): string | undefined {
  if (!operation) return undefined;
  const result = operation.input.safeParse(input ?? {});
  if (!result.success) return undefined;
  if (operation.kind === "mutation") return `valid input for the mutation ${operation.name}`;
  const timeout = (result.data as { timeout_seconds?: unknown }).timeout_seconds;
  if (typeof timeout === "number" && timeout > 0) return `${operation.name} would wait ${timeout} s`;
  return undefined;
}

/** What a POST /api/mcp body makes the server call, and why that would be unsafe. */
function unsafeMcpBody(text: string): string | undefined {
  const json = parsed(text);
  if (!json.ok) return undefined;
  const messages = Array.isArray(json.value) ? json.value : [json.value];
  for (const message of messages) {
    const call = CallToolRequestSchema.safeParse(message);
    if (!call.success) continue;
    const { name, arguments: args } = call.data.params;
    if (name === LAZY_TOOL_NAME) {
      const lazy = lazyToolInput.safeParse(args ?? {});
      if (!lazy.success || !lazy.data.tool_name || lazy.data.arguments === undefined) continue;
      const problem = unsafeInput(byName.get(lazy.data.tool_name), lazy.data.arguments);
      if (problem) return problem;
      continue;
    }
    const problem = unsafeInput(byName.get(name), args);
    if (problem) return problem;
  }
  return undefined;
}

/** The same for a tRPC request: each procedure of the path gets its input from the body (POST) or ?input= (GET). */
function unsafeTrpc(procedures: string[], batch: boolean, contentType: string | undefined, body: string | undefined, query: string | undefined): string | undefined {
  const sources = [body, query].filter((text): text is string => text !== undefined);
  for (const [index, procedure] of procedures.entries()) {
    const operation = byPath.get(procedure) ?? byPath.get(safeDecode(procedure));
    if (!operation) continue;
    // Whatever the method or content type, assume the call could run: only invalid input is safe.
    if (operation.input.safeParse({}).success && (contentType !== "application/json" || !sources.length) && operation.kind === "mutation") {
      return `${operation.name} accepts {} and the input may not be read as JSON`;
    }
    for (const text of sources.length ? sources : [""]) {
      const json = text === "" ? { ok: true as const, value: undefined } : parsed(text);
      if (!json.ok) continue;
      // A batch flag tRPC may not take as one (batch=true, batch=0): the first procedure could get the whole body.
      const inputs = batch ? [(json.value as Record<string, unknown> | null | undefined)?.[String(index)], ...(index === 0 ? [json.value] : [])] : [json.value];
      const problem = inputs.map((input) => unsafeInput(operation, input)).find(Boolean);
      if (problem) return problem;
    }
  }
  return undefined;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function generate(rng: Rng, setup: Setup, category: Category, index: number, credentials: Record<AuthKind, () => [string, string] | undefined>): FuzzRequest {
  const auth = rng.weighted(AUTH_WEIGHTS);
  const credential = credentials[auth]();
  const base = { index, category, auth, credential };
  if (category === "mcp-envelope") {
    const method = rng.weighted([["POST", 20], ["GET", 1], ["PUT", 1], ["DELETE", 1], ["PATCH", 1], ["OPTIONS", 1], ["HEAD", 1]] as const);
    const query = rng.weighted([
      ["", 12],
      ["?profile=core", 1],
      ["?profile=lazy", 1],
      [`?profile=${encode(randomString(rng, 30))}`, 1],
      ["?profile=%ZZ", 1],
      [`?profile=${"a,".repeat(1100)}`, 1],
      ["?profile=&profile=full", 1],
    ]);
    const body = method === "GET" || method === "HEAD" ? undefined : envelopeBody(rng, setup.readTools, setup.resourceUris);
    return { ...base, method, path: `/api/mcp${query}`, headers: mcpHeaders(rng), body, label: `${method} envelope`, writes: new Set() };
  }
  if (category === "mcp-tools") {
    const lazy = rng.chance(0.08);
    // Every tool in turn, so each gets its share whatever the seed.
    const operation = toolOperations[index % toolOperations.length]!;
    const sample = Object.entries(setup.samples[operation.name] ?? {});
    const soft = operation.kind === "query" && rng.chance(0.25);
    const args = soft ? softArguments(rng, schemaOf(operation), sample) : mutateArguments(rng, schemaOf(operation), sample);
    const params = lazy
      ? { name: LAZY_TOOL_NAME, arguments: new Entries([["tool_name", operation.name], ["arguments", args]]) }
      : new Entries([["name", operation.name], ["arguments", args]]);
    const body = dump({ jsonrpc: "2.0", id: index, method: "tools/call", params });
    const writes = operation.kind === "mutation" ? new Set([0]) : new Set<number>();
    const headers = rng.chance(0.9) ? { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" } : mcpHeaders(rng);
    return { ...base, method: "POST", path: lazy ? "/api/mcp?profile=lazy" : "/api/mcp", headers, body, label: `${lazy ? `${LAZY_TOOL_NAME}→` : ""}${operation.name}`, writes };
  }
  // tRPC
  const pickPath = () =>
    rng.weighted<() => string>([
      [() => rng.pick(registered).path, 12],
      [() => rng.pick(registered).path.toUpperCase(), 1],
      [() => `${rng.pick(registered).path}.x`, 1],
      [() => rng.pick(["", ".", "..", "a..b", "__proto__", "constructor", "toString", "system.__proto__", "system.constructor", "hasOwnProperty", "mail", "%ZZ", "%00", "mail%2Esend", "%ED%A0%80", "%C0%AE", "%FF"]), 2],
      [() => encode(randomString(rng, 40)), 1],
      [() => "x".repeat(rng.pick([200, 5000])), 1],
    ])();
  const batch = rng.chance(0.25);
  const procedures = batch ? Array.from({ length: rng.pick([1, 2, 3, 10, 50]) }, pickPath) : [pickPath()];
  const method = rng.weighted([["GET", 8], ["POST", 8], ["PUT", 1], ["DELETE", 1], ["PATCH", 1], ["HEAD", 1], ["OPTIONS", 1]] as const);
  const inputFor = (procedure: string): unknown => {
    const operation = byPath.get(procedure);
    const sample = Object.entries(setup.samples[operation?.name ?? ""] ?? {});
    if (operation?.kind === "query" && rng.chance(0.2)) return softArguments(rng, schemaOf(operation), sample);
    if (operation && rng.chance(0.8)) return mutateArguments(rng, schemaOf(operation), sample);
    return randomValue(rng);
  };
  const inputText = () =>
    rng.weighted<() => string>([
      [() => dump(batch ? Object.fromEntries(procedures.map((procedure, i) => [String(i), inputFor(procedure)])) : inputFor(procedures[0]!)), 8],
      [() => rng.pick(["", "{", "null", "[]", "1e309", "{\"0\":", '"x"', "%ZZ"]), 1],
      [() => randomString(rng, 100), 1],
      [
        () => {
          const deep = nested(rng.pick([100, 1_000, 10_000, 50_000]), rng.chance(0.5));
          return dump(batch ? { "0": { deep } } : { deep });
        },
        1,
      ],
    ])();
  const params: string[] = [];
  if (batch) params.push(rng.pick(["batch=1", "batch=1", "batch=true", "batch=0", "batch=1&batch=1"]));
  let body: string | undefined;
  let contentType: string | undefined;
  let query: string | undefined;
  if (method === "GET" || method === "HEAD") {
    if (rng.chance(0.85)) {
      query = inputText();
      params.push(`input=${rng.chance(0.9) ? encode(query) : query}`);
    }
  } else {
    body = rng.chance(0.9) ? inputText() : "";
    contentType = rng.weighted([
      ["application/json", 12],
      ["text/plain", 1],
      ["application/x-www-form-urlencoded", 1],
      ["multipart/form-data; boundary=x", 1],
      ["application/octet-stream", 1],
      [undefined, 1],
    ] as const);
  }
  const path = `/api/trpc/${procedures.join(",")}${params.length ? `?${params.join("&")}` : ""}`;
  const writes = new Set(procedures.flatMap((procedure, i) => (byPath.get(procedure)?.kind === "mutation" ? [i] : [])));
  const unsafe = unsafeTrpc(procedures, batch, contentType, body, query);
  if (unsafe) throw new Unsafe(unsafe);
  return {
    ...base,
    method,
    path,
    headers: contentType ? { "content-type": contentType } : {},
    body: method === "GET" || method === "HEAD" ? undefined : body,
    label: `${method} ${procedures.length > 1 ? `batch of ${procedures.length}` : procedures[0]!.slice(0, 40)}`,
    writes,
  };
}

class Unsafe extends Error {}

/** A request, generated again until nothing in it could write, block, or echo leak-like text. */
function safeRequest(rng: Rng, setup: Setup, category: Category, index: number, credentials: Record<AuthKind, () => [string, string] | undefined>): FuzzRequest {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    let request: FuzzRequest;
    try {
      request = generate(rng, setup, category, index, credentials);
    } catch (error) {
      if (error instanceof Unsafe) continue;
      throw error;
    }
    const text = typeof request.body === "string" ? request.body : "";
    if (request.path.startsWith("/api/mcp") && unsafeMcpBody(text)) continue;
    if (looksLeaky(text) || looksLeaky(safeDecode(request.path))) continue;
    return request;
  }
  throw new Error(`could not generate a safe ${category} request #${index} (seed ${SEED})`);
}

// ---------------------------------------------------------------------------------------------
// Answers

interface Outcome {
  status: number;
  contentType: string;
  text: string;
}

/** Node's own HTTP parser refuses some requests before any handler sees them: no body, no content type. */
const parserRefusal = (outcome: Outcome) => (outcome.status === 431 || outcome.status === 400) && outcome.contentType === "" && outcome.text === "";

/** What a response owes a client: below 500, JSON (or SSE), and every error a clear, clean message. */
function inspect(request: FuzzRequest, outcome: Outcome): string[] {
  const problems: string[] = [];
  const { status, contentType, text } = outcome;
  const trpc = request.path.startsWith("/api/trpc/");
  const credited = VALID_AUTH.has(request.auth);
  if (status >= 500) problems.push(`status ${status}`);
  if (!credited) {
    // 207: a tRPC batch whose errors have different statuses (each entry is checked below). HEAD on
    // tRPC: 204 and no body for any path (tRPC's own answer; it runs nothing and says nothing).
    if (status < 400 && status !== 207 && !(trpc && request.method === "HEAD" && status === 204 && text === "")) {
      problems.push(`answered ${status} without a valid credential`);
    }
    if (!trpc && request.method === "POST" && status !== 401) problems.push(`MCP POST without a valid credential answered ${status}, not 401`);
  }
  for (const [what, pattern] of LEAKS.slice(0, 1).concat(LEAKS.slice(3))) if (pattern.test(text)) problems.push(`body contains ${what}`);
  if (request.method === "HEAD" || ((status === 202 || status === 204) && text === "") || parserRefusal(outcome)) return problems;

  let body: unknown;
  if (contentType.includes("text/event-stream")) {
    const data = text.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim());
    const decoded = data.map(parsed);
    if (!data.length || decoded.some((item) => !item.ok)) return [...problems, "an event stream without JSON data"];
    body = decoded.map((item) => (item as { value: unknown }).value);
  } else {
    const json = parsed(text);
    if (!json.ok) return [...problems, `not JSON (${contentType || "no content-type"})`];
    body = json.value;
  }
  const messages = Array.isArray(body) ? body : [body];
  if (!messages.length && status >= 400) problems.push("an error status with an empty list");
  for (const [position, message] of messages.entries()) {
    if (message === null || typeof message !== "object") {
      problems.push(`answer ${position} is not an object`);
      continue;
    }
    const { error, result } = message as { error?: unknown; result?: unknown };
    if (error !== undefined) {
      problems.push(...inspectError(error));
    } else if (result !== undefined) {
      const toolResult = result as { isError?: unknown; content?: { type?: string; text?: string }[]; structuredContent?: { error?: { type?: string } } };
      if (toolResult && typeof toolResult === "object" && toolResult.isError === true) {
        const first = toolResult.content?.[0];
        const message = first?.type === "text" ? first.text : undefined;
        problems.push(...inspectMessage(message));
        const type = toolResult.structuredContent?.error?.type ?? message?.split(":")[0];
        if (type === "INTERNAL_ERROR" || type === "DATABASE_UNAVAILABLE") problems.push(`a tool error of type ${type}`);
      } else {
        if (request.writes.has(trpc ? position : 0)) problems.push(`a write with invalid input succeeded (answer ${position})`);
        if (!credited) problems.push(`a result without a valid credential (answer ${position})`);
      }
      if (status >= 400 && status !== 207) problems.push(`status ${status} with a result`);
    } else if (status >= 400 || "jsonrpc" in message) {
      problems.push(`answer ${position} has neither an error nor a result`);
    }
  }
  return problems;
}

/** What kind of answer each message of a response is, for the tally: a result, or which error. */
function answerKinds(outcome: Outcome): string[] {
  const json = parsed(outcome.text);
  if (!json.ok) return [outcome.text ? "not JSON" : "empty"];
  return (Array.isArray(json.value) ? json.value : [json.value]).map((message) => {
    const { error, result } = (message ?? {}) as {
      error?: { code?: unknown; type?: unknown; data?: { code?: unknown; appCode?: unknown } };
      result?: { isError?: unknown; structuredContent?: { error?: { type?: unknown } } };
    };
    if (result?.isError === true) return `tool error ${String(result.structuredContent?.error?.type)}`;
    if (result !== undefined) return "result";
    if (error?.data?.code !== undefined) return `tRPC ${String(error.data.appCode ?? error.data.code)}`;
    if (error?.type !== undefined) return `error ${String(error.type)}`;
    if (error?.code !== undefined) return `JSON-RPC ${String(error.code)}`;
    return "other";
  });
}

function inspectError(error: unknown): string[] {
  if (error === null || typeof error !== "object") return [`error is ${JSON.stringify(error)}, not an object`];
  const { message, code, type, data } = error as { message?: unknown; code?: unknown; type?: unknown; data?: { code?: unknown; stack?: unknown; type?: unknown } };
  const problems = inspectMessage(message);
  if (code === -32603) problems.push("JSON-RPC internal error (-32603)");
  if (type === "INTERNAL_ERROR" || data?.type === "INTERNAL_ERROR" || data?.code === "INTERNAL_SERVER_ERROR") problems.push("an internal error");
  if (data?.stack !== undefined) problems.push("error data carries a stack");
  return problems;
}

function inspectMessage(message: unknown): string[] {
  if (typeof message !== "string" || !message.trim()) return [`error message ${JSON.stringify(message)} is empty or not text`];
  const problems: string[] = [];
  if (message.length > MAX_MESSAGE) problems.push(`error message of ${message.length} characters`);
  if (/^Internal error/i.test(message)) problems.push("a generic internal error");
  for (const [what, pattern] of LEAKS) if (pattern.test(message)) problems.push(`error message contains ${what}`);
  return problems;
}

function excerpt(value: string | Uint8Array | undefined, max = 300): string {
  if (value === undefined) return "(no body)";
  const text = typeof value === "string" ? value : `bytes ${Buffer.from(value).toString("hex")}`;
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text);
}

async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

// ---------------------------------------------------------------------------------------------
// Known bugs
//
// Bugs the fuzz found, since fixed; each is replayed by a directed request at the end.

interface FoundBug {
  id: string;
  /** Where and what, for the report. */
  what: string;
  /** A directed request that shows the bug: the problems it provokes. */
  reproduce(): Promise<string[]>;
}

const FOUND_BUGS: FoundBug[] = [
  {
    // src/mcp/jsonrpc.ts check(): REQUEST_SCHEMAS is a plain object, so REQUEST_SCHEMAS["constructor"]
    // is Object (and "toString", "valueOf", "__proto__", … are inherited too): `.safeParse` is not a
    // function, the TypeError escapes checkPayload, and serveApi answers 500. Any valid token (or
    // local mode) can send it. Body: {"jsonrpc":"2.0","id":1,"method":"constructor"}
    id: "jsonrpc-prototype-method",
    what: "a JSON-RPC method named like an Object.prototype property (constructor, toString, __proto__, …) gets HTTP 500",
    reproduce: () => directed("POST", "/api/mcp", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "constructor" })),
  },
  {
    // src/server/operations/invoke.ts rejectNul() recurses into arguments with a budget of 100,000
    // values but no depth limit: arguments nested ~10,000 deep (a 20 KB body, far below the body
    // limit) overflow the stack; the RangeError becomes INTERNAL_ERROR (MCP: isError result with
    // "Internal error"; tRPC: 500). Body: tools/call health_check {"deep": [[[…10,000…]]]}
    id: "deep-arguments-stack-overflow",
    what: "arguments nested ~10,000 deep overflow the stack in rejectNul: INTERNAL_ERROR instead of INVALID_ARGUMENT",
    reproduce: () => directed("POST", "/api/mcp", dump({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "health_check", arguments: { deep: nested(20_000, false) } } })),
  },
  {
    // PGlite only (the embedded database of local mode): a string parameter whose lone surrogate
    // follows a non-ASCII character ("é\udc52") fails in the database with 22021 "invalid byte
    // sequence for encoding UTF8: 0xef", for ORM and raw queries alike; the call gets INTERNAL_ERROR.
    // Postgres (pg) silently stores U+FFFD instead. Seen on fetch_topic, list_contacts,
    // summarize_thread(_product), get_message_receipts, resource://thread: any string that reaches a
    // query is affected. Nothing refuses lone surrogates at the input boundary (as rejectNul does NUL).
    id: "pglite-lone-surrogate",
    what: "on PGlite a string with a lone surrogate after a non-ASCII character fails in the database: INTERNAL_ERROR",
    reproduce: () => directed("POST", "/api/mcp", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "fetch_topic", arguments: { ...setup.samples.fetch_topic, topic_name: "é\udc52" } } })),
  },
  {
    // src/mcp/server.ts claimedAgent() records the agent_name of a refused call unvalidated (NUL
    // included) and src/server/services/tooling/metrics-recorder.ts writes a whole second of records
    // in one createMany: one NUL makes Postgres refuse the batch and every call's record in it is lost
    // (logged "[metrics] could not write N tool-call records … 0x00"). Any reader can blank the
    // tooling metrics this way. Body: tools/call whois {"project_key": …, "agent_name": "Blue\u0000Dog"}
    id: "metrics-nul-agent-name",
    what: "a NUL in a refused call's agent_name makes the metrics flush fail: the whole batch of tool-call records is lost",
    reproduce: async () => {
      const before = serverErrors.length;
      const problems = await directed("POST", "/api/mcp", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whois", arguments: { project_key: PROJECT, agent_name: "Blue\u0000Dog" } } }));
      await flushToolMetrics(db.prisma);
      return [...problems, ...serverErrors.slice(before).filter((line) => line.startsWith("[metrics]"))];
    },
  },
  {
    // A tRPC mutation POSTed as multipart/form-data whose body is not valid multipart: tRPC's
    // FormData reader (request.formData()) throws "TypeError: Failed to parse body as FormData." in
    // the input middleware, before `invoke`; src/server/api/trpc.ts isMalformedBody() only knows
    // PARSE_ERROR and SyntaxError, so the answer is 500 INTERNAL_SERVER_ERROR. Needs a valid token
    // (any role). Request: POST /api/trpc/mail.purgeOld, Content-Type: multipart/form-data; boundary=x, empty body.
    id: "trpc-malformed-multipart",
    what: "a tRPC mutation with a malformed multipart/form-data body gets HTTP 500",
    reproduce: () => directed("POST", "/api/trpc/mail.purgeOld", "", { "content-type": "multipart/form-data; boundary=x" }),
  },
  {
    // tRPC's own "No procedure found on path \"…\"" and "Invalid URL-encoding in path \"…\"" repeat the
    // whole path (up to Node's 16 KB header limit), where the app's errors quote at most QUOTE_MAX
    // (100) characters of caller input. (The URL-encoding one also comes as text/plain, with a JSON body.)
    id: "trpc-unbounded-path-echo",
    what: "tRPC's 404 and bad-encoding messages repeat the whole requested path (thousands of characters), unlike quote()",
    reproduce: () => directed("GET", `/api/trpc/${"x".repeat(5000)}`),
  },
];

// ---------------------------------------------------------------------------------------------
// The run

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let setup: Setup;
let credentials: Record<AuthKind, () => [string, string] | undefined>;
let adminToken: string;
let digestBefore: Record<string, string>;
const failures: Record<Category, string[]> = { "mcp-envelope": [], "mcp-tools": [], trpc: [] };
const tally = new Map<string, Map<string, number>>();
const serverErrors: string[] = [];

async function sign(claims: JWTPayload, options: { secret?: string; exp?: number | string; audience?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime(options.exp ?? "1h")
    .setAudience(options.audience ?? AUDIENCE)
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

function count(category: string, key: string): void {
  const byKey = tally.get(category) ?? new Map<string, number>();
  byKey.set(key, (byKey.get(key) ?? 0) + 1);
  tally.set(category, byKey);
}

async function exchange(request: FuzzRequest): Promise<Outcome | Error> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.credential) headers[request.credential[0]] = request.credential[1];
  try {
    const response = await fetch(new URL(request.path, server.url), { method: request.method, headers, body: request.body, redirect: "manual" });
    return { status: response.status, contentType: response.headers.get("content-type") ?? "", text: await response.text() };
  } catch (error) {
    return error as Error;
  }
}

/** One hand-written request with the admin token, for the known bugs' directed tests. */
async function directed(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<string[]> {
  const request: FuzzRequest = {
    index: -1,
    category: path.startsWith("/api/trpc/") ? "trpc" : "mcp-envelope",
    auth: "admin",
    credential: ["authorization", `Bearer ${adminToken}`],
    method,
    path,
    headers: headers ?? (body === undefined ? {} : { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" }),
    body,
    label: "directed",
    writes: new Set(),
  };
  const outcome = await exchange(request);
  return outcome instanceof Error ? [`no answer: ${String(outcome.cause ?? outcome)}`] : inspect(request, outcome);
}

async function run(category: Category): Promise<void> {
  // Each category draws from its own stream, so changing one category's count leaves the others' requests as they were.
  const rng = new Rng(SEED ^ { "mcp-envelope": 0x1111, "mcp-tools": 0x2222, trpc: 0x3333 }[category]);
  const requests = Array.from({ length: COUNTS[category] }, (_, index) => safeRequest(rng, setup, category, index, credentials));
  await pool(requests, CONCURRENCY, async (request) => {
    const outcome = await exchange(request);
    if (outcome instanceof Error) {
      count(category, "no answer");
      failures[category].push(describeFailure(request, { status: 0, contentType: "", text: "" }, [`no answer: ${String(outcome.cause ?? outcome)}`]));
      return;
    }
    count(category, parserRefusal(outcome) ? `${outcome.status} (node:http)` : String(outcome.status));
    count("by credential", `${request.auth} ${outcome.status}`);
    for (const kind of answerKinds(outcome)) count(`${category} answers`, kind);
    const problems = inspect(request, outcome);
    if (!problems.length) return;
    failures[category].push(describeFailure(request, outcome, problems));
  });
}

function describeFailure(request: FuzzRequest, outcome: Outcome, problems: string[]): string {
  return [
    `#${request.index} ${request.category} [${request.auth}] ${request.label}: ${problems.join("; ")}`,
    `  request: ${request.method} ${request.path.slice(0, 300)} ${JSON.stringify(request.headers)}`,
    `  body: ${excerpt(request.body)}`,
    `  answer: ${outcome.status} ${outcome.contentType} ${excerpt(outcome.text, 600)}`,
  ].join("\n");
}

function report(category: Category): string {
  const list = failures[category];
  return list.length ? `${list.length} ${category} failures (seed ${SEED}; reproduce with FUZZ_SEED=${SEED}):\n${list.slice(0, 15).join("\n")}` : "";
}

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db, { auth: AUTH });
  // A project with two agents, one message and a valid input for every operation: the fuzz mutates these.
  const { inputs } = await operationSamples(db, PROJECT);
  const readTools = toolOperations.filter((operation) => operation.kind === "query").map((operation) => operation.name);
  const encoded = encodeURIComponent(PROJECT);
  const blue = inputs["resource://inbox"] as { agent_token: string };
  const resourceUris = [
    "resource://config/environment",
    "resource://projects",
    `resource://project/fuzz-main`,
    `resource://agents/${encoded}`,
    `resource://inbox/BlueDog?project=${encoded}&agent_token=${blue.agent_token}`,
    `resource://outbox/GreenLake?project=${encoded}`,
    `resource://thread/MATRIX-1?project=${encoded}&agent_token=${blue.agent_token}`,
    `resource://message/1?project=${encoded}&agent_token=${blue.agent_token}`,
    "resource://tooling/directory",
    "resource://tooling/recent/60",
    `resource://file_reservations/fuzz-main`,
    "resource://nothing/here",
  ];
  setup = { samples: inputs, readTools, resourceUris };

  adminToken = (await mintToken(db.prisma, AUTH, { name: "fuzz-admin", roles: ["admin"], expiresInSeconds: 3600 })).token;
  const reader = await sign({ sub: "fuzz-reader", roles: ["reader"], jti: "fuzz-reader-jti" });
  const writer = await sign({ sub: "fuzz-writer", roles: ["writer"] });
  const expired = await sign({ sub: "fuzz-expired", roles: ["admin"] }, { exp: Math.floor(Date.now() / 1000) - 3600 });
  const garbage: [string, string][] = [
    ["authorization", "Bearer garbage"],
    ["authorization", "Bearer"],
    ["authorization", "Bearer  "],
    ["authorization", "Basic dXNlcjpwYXNz"],
    ["authorization", `Bearer ${"a".repeat(9000)}`],
    ["authorization", `Bearer ${adminToken.slice(0, -3)}xyz`],
    ["authorization", `Bearer ${adminToken}.extra`],
    ["authorization", `Bearer ${await sign({ sub: "x", roles: ["admin"] }, { secret: "another-secret-that-is-long-enough-0123456789" })}`],
    ["authorization", `Bearer ${await sign({ sub: "x", roles: ["admin"] }, { audience: "someone-else" })}`],
    ["authorization", `Bearer ${await sign({ sub: "x", roles: ["root"] })}`],
    ["authorization", `Bearer ${await sign({ sub: "x", roles: ["admin"], agent: { project: PROJECT, name: "NoSuchAgent" } })}`],
    ["authorization", `Bearer ${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"sub":"x","roles":["admin"]}').toString("base64url")}.`],
    ["authorization", "Bearer a.b.c"],
    ["authorization", "bearer \t x"],
    // Dashboard session cookies that are not sessions.
    ["cookie", "next-auth.session-token=garbage"],
    ["cookie", `__Secure-next-auth.session-token=${"z".repeat(3000)}`],
  ];
  // Garbage credentials are handed out in turn, in generation order: deterministic for a seed.
  let garbageTurn = 0;
  credentials = {
    none: () => undefined,
    reader: () => ["authorization", `Bearer ${reader}`],
    writer: () => ["authorization", `Bearer ${writer}`],
    admin: () => ["authorization", `Bearer ${adminToken}`],
    expired: () => ["authorization", `Bearer ${expired}`],
    garbage: () => garbage[garbageTurn++ % garbage.length],
  };

  // Unexpected failures are logged by the server ("[mcp] … failed:"); a fuzz run must cause none.
  const original = console.error.bind(console);
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    serverErrors.push(args.map((arg) => (arg instanceof Error ? `${arg.name}: ${arg.message}` : String(arg))).join(" ").slice(0, 2000));
    original(...args);
  });
  await flushToolMetrics(db.prisma);
  digestBefore = await tableDigest(db);
});

afterAll(async () => {
  vi.restoreAllMocks();
  if (db) await flushToolMetrics(db.prisma);
  await server?.close();
  await db?.close();
});

describe(`fuzz: malformed requests against the running app (seed ${SEED}, FUZZ_SEED to change)`, () => {
  it(`${COUNTS["mcp-envelope"]} malformed JSON-RPC bodies to /api/mcp: no 5xx, every answer a clear error`, async () => {
    await run("mcp-envelope");
    expect(failures["mcp-envelope"], report("mcp-envelope")).toEqual([]);
  }, 300_000);

  it(`${COUNTS["mcp-tools"]} tools/call with mutated arguments, every tool, every credential: refused clearly, nothing written`, async () => {
    await run("mcp-tools");
    expect(failures["mcp-tools"], report("mcp-tools")).toEqual([]);
  }, 300_000);

  it(`${COUNTS.trpc} tRPC requests with random paths, methods and inputs: no 5xx, every answer a clear error`, async () => {
    await run("trpc");
    expect(failures.trpc, report("trpc")).toEqual([]);
  }, 300_000);

  it("afterwards: the server answers, logged no unexpected failure, and the database is unchanged", async () => {
    const lines = [...tally.entries()].map(([category, byKey]) => `  ${category}: ${[...byKey.entries()].sort().map(([key, n]) => `${key}×${n}`).join(", ")}`);
    console.log(`fuzz seed ${SEED} on ${db.label}: ${Object.values(COUNTS).reduce((a, b) => a + b, 0)} requests\n${lines.join("\n")}`);

    const health = await fetch(new URL("/api/health", server.url));
    expect(health.status).toBe(200);
    const list = await fetch(new URL("/api/mcp", server.url), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(list.status).toBe(200);
    const tools = ((await list.json()) as { result: { tools: { name: string }[] } }).result.tools.map((tool) => tool.name);
    expect(tools).toEqual(toolOperations.map((operation) => operation.name));
    await flushToolMetrics(db.prisma);
    expect(serverErrors).toEqual([]);
    expect(await tableDigest(db)).toEqual(digestBefore);
  }, 120_000);
});

// What the fuzz found (and what was then fixed), each as one hand-written request: now answered
// clearly, with nothing logged as a failure.
describe("bugs the fuzz found, fixed", () => {
  for (const bug of FOUND_BUGS) {
    it(`${bug.id}: was ${bug.what}`, async () => {
      const before = serverErrors.length;
      expect(await bug.reproduce()).toEqual([]);
      await flushToolMetrics(db.prisma);
      expect(serverErrors.slice(before)).toEqual([]);
    });
  }

  it("and the database is still unchanged", async () => {
    await flushToolMetrics(db.prisma);
    expect(await tableDigest(db)).toEqual(digestBefore);
  });
});
