import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult, TextResourceContents } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt, SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnyOperation, Permission } from "@/server/operations/define";
import { invoke } from "@/server/operations/invoke";
import { permissionTable, registered } from "@/server/operations/registry";
import { sendMessage } from "@/server/services/messages/send";
import { waitFor } from "../e2e/support/archive-git";
import { BearerMcpClient } from "../helpers/bearer-mcp";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents } from "../helpers/mail";
import { operationSamples } from "../helpers/operation-samples";
import type { OperationSamples } from "../helpers/samples";
import { matrixArchive } from "../helpers/samples/archive";
import { MATRIX_JWT_SECRET } from "../helpers/samples/tokens";
import { tableDigest } from "../helpers/snapshot";

// The permission matrix with real credentials. permissions.test.ts pins who may do what (the
// permission table) with actors injected by a test header; this file takes that table as given
// and calls every registered operation through the server's own resolver (token mode: HS256
// secret, issuer and audience all configured), through MCP (tool or resource, the SDK client) and
// tRPC (HTTP), with:
//
//   no token, and an admin token (no project claim: all projects) that is expired, signed with
//   another secret, for another audience, from another issuer, or revoked; and a token whose
//   roles are empty (the role "none")                     → 401, nothing written
//   reader / writer / admin tokens in scope (every project but OUTSIDE)
//     role below the operation's                          → FORBIDDEN (the role gate), nothing written
//     role enough                                         → allowed, result within its contract
//   reader / writer / admin tokens out of scope (OUTSIDE only)
//     role below the operation's                          → FORBIDDEN (the role gate), nothing written
//     role enough, operation on a project                 → FORBIDDEN (outside the scopes), nothing written
//     role enough, global operation                       → OUT_OF_SCOPE below: refused, or allowed
//                                                           showing nothing of the projects outside
//                                                           the token's scopes
//
// Tokens and dashboard users (tokens.*, users.*) are server-wide: a project-scoped admin is refused
// them in or out of its scopes, and an admin token for every project is allowed; probes at the end
// show what a scoped admin could otherwise do (mint, revoke or disable beyond its scopes).

const ISSUER = "https://mailroom.test/matrix";
const AUDIENCE = "mailroom-matrix";
/** The samples' project, in every in-scope token's scopes. */
const PROJECT = "/matrix/main";
/** The other project: the only one in out-of-scope tokens' scopes, in no in-scope token's. */
const OUTSIDE = "/matrix/outside";

type RoleName = "reader" | "writer" | "admin";
const ROLES: readonly RoleName[] = ["reader", "writer", "admin"];
const ALLOWED: Record<Permission, ReadonlySet<RoleName>> = {
  read: new Set(["reader", "writer", "admin"]),
  write: new Set(["writer", "admin"]),
  admin: new Set(["admin"]),
};
type Scope = "in" | "out";
const SCOPE_LABEL: Record<Scope, string> = { in: "in scope", out: "out of scope" };

/**
 * Global operations (no project_key of their own) as an out-of-scope caller with the role sees
 * them. Operations on a project or agent are FORBIDDEN out of scope by construction (invoke's
 * scope step); every global operation must be listed here, so a new one needs a decision.
 * `allowed`: succeeds, and the result names no project outside the token's scopes.
 */
const OUT_OF_SCOPE: Record<string, "allowed" | "FORBIDDEN" | "NOT_FOUND"> = {
  health_check: "allowed", // server status: no project data
  "resource://config/environment": "allowed",
  ensure_project: "FORBIDDEN", // the sample's human_key is an existing project outside the scopes
  "resource://projects": "allowed", // filtered: only OUTSIDE
  projects_overview: "allowed", // filtered: only OUTSIDE
  ensure_product: "allowed", // products are not in a project; linking one is (products_link)
  search_messages_product: "NOT_FOUND", // no linked project within the scopes: the agent is not found
  fetch_inbox_product: "NOT_FOUND",
  summarize_thread_product: "NOT_FOUND",
  "resource://product": "allowed", // filtered: the product without its (out-of-scope) projects
  dashboard_mail: "allowed", // the unified list (no project_key), filtered: only OUTSIDE's mail
  macro_start_session: "FORBIDDEN", // ensure_project inside
  "resource://tooling/directory": "allowed",
  "resource://tooling/schemas": "allowed",
  "resource://tooling/metrics": "allowed", // filtered: calls made in the scopes' projects only
  "resource://tooling/locks": "allowed",
  "resource://tooling/capabilities": "FORBIDDEN", // the sample names the project
  "resource://tooling/recent": "FORBIDDEN", // the sample names the project
  uninstall_precommit_guard: "FORBIDDEN", // a repository path, no project: server-wide (SERVER_WIDE)
  // Server-wide (credentials reach projects): a project-scoped admin is refused in or out of scope,
  // so that it cannot mint or manage a credential reaching beyond its own projects (SERVER_WIDE below).
  create_token: "FORBIDDEN",
  list_tokens: "FORBIDDEN",
  revoke_token: "FORBIDDEN",
  create_user: "FORBIDDEN",
  list_users: "FORBIDDEN",
  set_user_disabled: "FORBIDDEN",
};

/** Operations on the whole server's credentials: only an admin token for every project may call them. */
const SERVER_WIDE = new Set(["create_token", "list_tokens", "revoke_token", "create_user", "list_users", "set_user_disabled", "install_precommit_guard", "uninstall_precommit_guard"]);

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let mcp: BearerMcpClient;
let samples: OperationSamples;
/** An admin token without a project claim, accepted: for setup only. */
let bootstrap: string;
const stored: { mainReader?: { jti: string }; outsideReader?: { jti: string } } = {};

const secretKey = (secret: string) => new TextEncoder().encode(secret);

interface MintOptions {
  secret?: string;
  issuer?: string;
  audience?: string;
  /** Seconds since the epoch, or a jose time span ("1h"). */
  exp?: number | string;
}

/** A token as any outside tool would mint it with JWT_SECRET: the documented claims, iss and aud. */
function mint(claims: JWTPayload, options: MintOptions = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setExpirationTime(options.exp ?? "1h")
    .sign(secretKey(options.secret ?? MATRIX_JWT_SECRET));
}

async function projectKeys(): Promise<{ slug: string; humanKey: string }[]> {
  return db.prisma.project.findMany({ select: { slug: true, humanKey: true }, orderBy: { id: "asc" } });
}

/** In scope: every project there is now but OUTSIDE (samples made for one call create projects); out: OUTSIDE only. */
async function tokenFor(role: RoleName, scope: Scope): Promise<string> {
  const projects = scope === "out" ? [OUTSIDE] : (await projectKeys()).map((project) => project.humanKey).filter((key) => key !== OUTSIDE);
  return mint({ sub: `matrix-${role}-${scope}`, roles: [role], projects });
}

/** The human keys and slugs of the projects outside a token's scopes: results must name none of them. */
async function foreignNames(scope: Scope): Promise<string[]> {
  return (await projectKeys()).filter((project) => (project.humanKey === OUTSIDE) === (scope === "in")).flatMap((project) => [project.humanKey, project.slug]);
}

interface Invalid {
  label: string;
  /** The bearer token; undefined sends no Authorization header. */
  token: () => Promise<string | undefined>;
  /** What the 401 says. */
  reason: string;
}

let revokedAdmin: string;
const INVALID: readonly Invalid[] = [
  { label: "no token", token: async () => undefined, reason: "This server requires a bearer token" },
  { label: "admin token, expired", token: () => mint({ sub: "matrix-expired", roles: ["admin"] }, { exp: Math.floor(Date.now() / 1000) - 120 }), reason: "Invalid bearer token: it has expired." },
  {
    label: "admin token, wrong signature",
    token: () => mint({ sub: "matrix-forged", roles: ["admin"] }, { secret: "another-secret-that-is-long-enough-0123456789" }),
    reason: "Invalid bearer token: its signature does not verify.",
  },
  { label: "admin token, wrong audience", token: () => mint({ sub: "matrix-aud", roles: ["admin"] }, { audience: "someone-else" }), reason: "Invalid bearer token: wrong audience." },
  { label: "admin token, wrong issuer", token: () => mint({ sub: "matrix-iss", roles: ["admin"] }, { issuer: "https://idp.elsewhere.test" }), reason: "Invalid bearer token: wrong issuer." },
  { label: "admin token, revoked", token: async () => revokedAdmin, reason: "Invalid bearer token: it has been revoked." },
  { label: "token with no roles (role none)", token: () => mint({ sub: "matrix-none", roles: [] }), reason: "Invalid bearer token: claim 'roles'" },
];

interface Outcome {
  ok: boolean;
  /** HTTP status of the answer. */
  status: number | undefined;
  /** FORBIDDEN, NOT_FOUND, AUTHENTICATION_REQUIRED, … when not ok. */
  code?: string;
  /** The WWW-Authenticate header of the answer. */
  challenge?: string | null;
  result?: unknown;
  detail: string;
}

/** The resource URI for an input: placeholders from its fields, the rest as the query. */
function uriFor(operation: AnyOperation, input: Record<string, unknown>): string {
  const rename = operation.resourceFields ?? {};
  const used = new Set<string>();
  const path = operation.resource!.replace(/\{([a-z][a-z0-9_]*)\}/g, (_, placeholder: string) => {
    const field = rename[placeholder] ?? placeholder;
    used.add(field);
    return encodeURIComponent(String(input[field]));
  });
  const query = new URLSearchParams(Object.entries(input).filter(([key]) => !used.has(key)).map(([key, value]) => [key, String(value)]));
  return query.size ? `${path}?${query}` : path;
}

async function viaMcp(token: string | undefined, operation: AnyOperation, input: Record<string, unknown>): Promise<Outcome> {
  const client = mcp.as(token);
  try {
    if (operation.tool) {
      const result = (await client.callTool({ name: operation.name, arguments: input })) as CallToolResult;
      const text = result.content[0]?.type === "text" ? result.content[0].text : "";
      if (result.isError) return { ok: false, status: mcp.last?.status, code: text.split(":")[0], detail: text };
      const structured = result.structuredContent as Record<string, unknown>;
      return {
        ok: true,
        status: mcp.last?.status,
        result: "result" in structured && Object.keys(structured).length === 1 ? structured.result : structured,
        detail: text.slice(0, 200),
      };
    }
    const read = await client.readResource({ uri: uriFor(operation, input) });
    const text = (read.contents[0] as TextResourceContents).text;
    return { ok: true, status: mcp.last?.status, result: JSON.parse(text), detail: text.slice(0, 200) };
  } catch (error) {
    const message = (error as Error).message;
    if (error instanceof StreamableHTTPError) {
      // The transport refused the request itself: no JSON-RPC answer, only the HTTP status.
      return { ok: false, status: error.code, code: error.code === 401 ? "AUTHENTICATION_REQUIRED" : `HTTP ${error.code}`, challenge: mcp.last?.wwwAuthenticate, detail: message };
    }
    return { ok: false, status: mcp.last?.status, code: /(?:MCP error -?\d+: )?([A-Z_]+):/.exec(message)?.[1], detail: message };
  }
}

async function viaTrpc(token: string | undefined, path: string, operation: AnyOperation, input: Record<string, unknown>): Promise<Outcome> {
  const url = new URL(`/api/trpc/${path}`, server.url);
  const headers: Record<string, string> = { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
  let response: Response;
  if (operation.kind === "query") {
    url.searchParams.set("input", JSON.stringify(input));
    response = await fetch(url, { headers });
  } else {
    response = await fetch(url, { method: "POST", headers, body: JSON.stringify(input) });
  }
  const body = (await response.json()) as { result?: { data: unknown }; error?: { message: string; data: { code: string; appCode?: string } } };
  if (body.error) {
    return {
      ok: false,
      status: response.status,
      code: body.error.data.appCode ?? body.error.data.code,
      challenge: response.headers.get("www-authenticate"),
      detail: `${response.status} ${body.error.message}`,
    };
  }
  return { ok: true, status: response.status, result: body.result!.data, detail: JSON.stringify(body.result!.data).slice(0, 200) };
}

type Call = (token: string | undefined, input: Record<string, unknown>) => Promise<Outcome>;

function surfacesOf(path: string, operation: AnyOperation): [string, Call][] {
  return [
    ...(operation.tool || operation.resource ? [["MCP", (token, input) => viaMcp(token, operation, input)] as [string, Call]] : []),
    ["tRPC", (token, input) => viaTrpc(token, path, operation, input)],
  ];
}

/** The operation at a tRPC path. */
function op(path: string): AnyOperation {
  return registered.find((entry) => entry.path === path)!.operation;
}

/** A tRPC call as `token`, failing the test unless it succeeds. */
async function trpcOk<T>(token: string, path: string, input: Record<string, unknown>): Promise<T> {
  const outcome = await viaTrpc(token, path, op(path), input);
  expect(outcome, outcome.detail).toMatchObject({ ok: true });
  return outcome.result as T;
}

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db, { archive: matrixArchive(), auth: { mode: "tokens", secret: MATRIX_JWT_SECRET, issuer: ISSUER, audience: AUDIENCE } });
  samples = await operationSamples(db, PROJECT);
  const outside = await projectWithAgents(db, OUTSIDE, ["RedFox"]);
  // Mail in OUTSIDE, which the unified mail list (dashboard_mail) must show out of scope only.
  await invoke(sendMessage, outside.ctx, {
    project_key: OUTSIDE,
    sender_name: "RedFox",
    sender_token: outside.agents.RedFox!.token,
    to: ["RedFox"],
    subject: "outside note",
    body_md: "for the outside project only",
  });
  bootstrap = await mint({ sub: "matrix-bootstrap", roles: ["admin"] });
  mcp = await BearerMcpClient.connect(server.url, bootstrap);

  // Stored tokens and dashboard users of each project, which listings out of their scope must not show.
  stored.mainReader = await trpcOk(bootstrap, "tokens.create", { name: "main-reader", roles: ["reader"], projects: [PROJECT] });
  stored.outsideReader = await trpcOk(bootstrap, "tokens.create", { name: "outside-reader", roles: ["reader"], projects: [OUTSIDE] });
  await trpcOk(bootstrap, "users.create", { email: "main-reader@example.test", role: "reader", projects: [PROJECT] });
  await trpcOk(bootstrap, "users.create", { email: "outside-reader@example.test", role: "reader", projects: [OUTSIDE] });

  // The revoked admin token worked until it was revoked, through tRPC tokens.revoke.
  const created = await trpcOk<{ token: string; jti: string }>(bootstrap, "tokens.create", { name: "revoked-admin", roles: ["admin"] });
  revokedAdmin = created.token;
  expect(decodeJwt(revokedAdmin)).toMatchObject({ iss: ISSUER, aud: AUDIENCE, roles: ["admin"], jti: created.jti });
  await trpcOk(revokedAdmin, "system.health", {});
  await trpcOk(bootstrap, "tokens.revoke", { jti: created.jti });
  await waitFor("the revocation to reach the resolver", async () => (await viaTrpc(revokedAdmin, "system.health", op("system.health"), {})).status === 401, 5_000, 100);
});

afterAll(async () => {
  await mcp?.close();
  await server?.close();
  await db?.close();
});

describe("the table", () => {
  it("has a sample input for every registered operation", () => {
    expect(Object.keys(samples.inputs).sort()).toEqual(registered.map(({ operation }) => operation.name).sort());
  });

  it("decides out-of-scope calls of every global operation (and of no other)", () => {
    const global = registered.filter(({ operation }) => operation.scope === "global").map(({ operation }) => operation.name);
    expect(Object.keys(OUT_OF_SCOPE).sort()).toEqual(global.sort());
  });

  it("runs on the real resolver in token mode, which checks iss and aud on HS256 tokens too", async () => {
    const good = await viaTrpc(bootstrap, "system.health", op("system.health"), {});
    expect(good.ok, good.detail).toBe(true);
    const unaddressed = await new SignJWT({ sub: "matrix-plain", roles: ["admin"] }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(secretKey(MATRIX_JWT_SECRET));
    const refused = await viaTrpc(unaddressed, "system.health", op("system.health"), {});
    expect({ status: refused.status, code: refused.code }, refused.detail).toEqual({ status: 401, code: "AUTHENTICATION_REQUIRED" });
  });
});

describe("tools/list shows a token only the tools its role may call", () => {
  const toolsFor = (role: RoleName) =>
    registered.filter(({ operation }) => operation.tool && ALLOWED[permissionTable[operation.name]!].has(role)).map(({ operation }) => operation.name);

  for (const role of ROLES) {
    for (const scope of ["in", "out"] as const) {
      const permissions = (Object.keys(ALLOWED) as Permission[]).filter((permission) => ALLOWED[permission].has(role));
      it(`${role} token, ${SCOPE_LABEL[scope]} → exactly the tools needing ${permissions.join(" or ")}`, async () => {
        const names = (await mcp.as(await tokenFor(role, scope)).listTools()).tools.map((tool) => tool.name);
        expect(names).toEqual(toolsFor(role));
        const above = names.filter((name) => !ALLOWED[permissionTable[name]!].has(role));
        expect(above, `${role} sees tools above its role`).toEqual([]);
        if (role === "reader") expect(names.filter((name) => permissionTable[name] !== "read")).toEqual([]);
        if (role === "writer") expect(names.filter((name) => permissionTable[name] === "admin")).toEqual([]);
      });
    }
  }

  for (const invalid of INVALID) {
    it(`${invalid.label} → 401`, async () => {
      await expect(mcp.as(await invalid.token()).listTools()).rejects.toMatchObject({ code: 401 });
      expect(mcp.last?.status).toBe(401);
    });
  }
});

for (const { path, operation } of registered) {
  const permission = permissionTable[operation.name]!;
  const surfaces = surfacesOf(path, operation);
  // undefined: a global operation nobody has decided yet (the table's check above fails).
  const outOfScope = operation.scope === "global" ? OUT_OF_SCOPE[operation.name] : "FORBIDDEN";
  const where = surfaces.map(([surface]) => (surface === "MCP" ? (operation.tool ? "MCP tool" : "MCP resource") : `tRPC ${path}`)).join(" + ");

  describe(`${operation.name} · needs ${permission} · ${operation.scope} scope · ${where}`, () => {
    // 401s and the role gate come before the input is read: any input serves them.
    const anyInput = () => samples.inputs[operation.name] ?? {};
    /** The sample, or skips the cell when there is none (the table's check above fails then). */
    const sample = (skip: () => void) => {
      const found = samples.inputs[operation.name];
      if (!found) skip();
      return found!;
    };
    let before: Record<string, string>;
    beforeAll(async () => {
      before = await tableDigest(db);
    });

    // Denied cells first: none of them may write anything (checked after the last of them).
    for (const invalid of INVALID) {
      it(`${invalid.label} → 401`, async () => {
        const token = await invalid.token();
        for (const [surface, call] of surfaces) {
          const outcome = await call(token, anyInput());
          expect({ surface, ok: outcome.ok, status: outcome.status, code: outcome.code }, outcome.detail).toEqual({ surface, ok: false, status: 401, code: "AUTHENTICATION_REQUIRED" });
          expect(outcome.detail, surface).toContain(invalid.reason);
          // RFC 6750: the challenge, and why the token given was refused.
          if (token === undefined) expect(outcome.challenge, surface).toBe('Bearer realm="mailroom"');
          else expect(outcome.challenge, surface).toContain(`Bearer realm="mailroom", error="invalid_token", error_description="${invalid.reason}`);
        }
      });
    }

    for (const role of ROLES) {
      if (ALLOWED[permission].has(role)) continue;
      for (const scope of ["in", "out"] as const) {
        it(`${role} token, ${SCOPE_LABEL[scope]} → FORBIDDEN (needs ${permission})`, async () => {
          const token = await tokenFor(role, scope);
          for (const [surface, call] of surfaces) {
            const outcome = await call(token, anyInput());
            expect({ surface, ok: outcome.ok, status: outcome.status, code: outcome.code }, outcome.detail).toEqual({
              surface,
              ok: false,
              status: surface === "MCP" ? 200 : 403,
              code: "FORBIDDEN",
            });
            expect(outcome.detail).toContain(`${operation.name} needs the ${permission} role.`);
            // The role gate comes before the input: a denied caller learns nothing of the argument rules.
            expect((await call(token, { no_such_argument: 1 })).code, surface).toBe("FORBIDDEN");
          }
        });
      }
    }

    if (SERVER_WIDE.has(operation.name)) {
      for (const scope of ["in", "out"] as const) {
        it(`admin token, ${SCOPE_LABEL[scope]} → FORBIDDEN (server-wide: needs a credential for every project)`, async () => {
          const token = await tokenFor("admin", scope);
          for (const [surface, call] of surfaces) {
            const outcome = await call(token, anyInput());
            expect({ surface, ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ surface, ok: false, code: "FORBIDDEN" });
            expect(outcome.detail).toContain(`${operation.name} needs a credential for every project`);
          }
        });
      }
      it("the denied calls above changed no table", async () => {
        expect(await tableDigest(db)).toEqual(before);
      });
      it("admin token for every project → allowed", async ({ skip }) => {
        const input = sample(skip);
        for (const [surface, call] of surfaces) {
          const fresh = await samples.fresh?.[operation.name]?.();
          const outcome = await call(await mint({ sub: "matrix-server-admin", roles: ["admin"] }), fresh ?? input);
          expect({ surface, ok: outcome.ok }, outcome.detail).toEqual({ surface, ok: true });
          const contract = operation.output.safeParse(outcome.result);
          expect(contract.success, `${operation.name} result breaks its output contract: ${contract.error?.message}`).toBe(true);
        }
      });
      return;
    }

    // An undecided global operation (no OUT_OF_SCOPE row) fails "decides out-of-scope calls of every global operation" above.
    if (outOfScope !== undefined && outOfScope !== "allowed") {
      for (const role of ROLES) {
        if (!ALLOWED[permission].has(role)) continue;
        const name = `${role} token, out of scope → ${outOfScope} (outside its projects)`;
        const refused = async (input: Record<string, unknown>) => {
          const token = await tokenFor(role, "out");
          const foreign = await foreignNames("out");
          for (const [surface, call] of surfaces) {
            const outcome = await call(token, input);
            expect({ surface, ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ surface, ok: false, code: outOfScope });
            if (outOfScope === "FORBIDDEN") expect(outcome.detail).toContain("outside this credential's project scopes");
            else for (const foreignName of foreign) expect(outcome.detail, `the refusal names ${foreignName}`).not.toContain(foreignName);
          }
        };
        it(name, async ({ skip }) => refused(sample(skip)));
      }
    }

    it("the denied calls above changed no table", async () => {
      expect(await tableDigest(db)).toEqual(before);
    });

    const scopesAllowed: Scope[] = outOfScope === "allowed" ? ["in", "out"] : ["in"];
    for (const scope of scopesAllowed) {
      for (const role of ROLES) {
        if (!ALLOWED[permission].has(role)) continue;
        const results: [string, unknown][] = [];
        const leakCheck = async () => {
          const foreign = await foreignNames(scope);
          for (const [surface, result] of results) {
            const text = JSON.stringify(result);
            for (const name of foreign) expect(text.includes(name), `${surface} result names ${name}, outside the token's scopes: ${text.slice(0, 300)}`).toBe(false);
            await LISTING_CHECKS[operation.name]?.(result, scope);
          }
        };

        it(`${role} token, ${SCOPE_LABEL[scope]} → allowed, naming no project outside its scopes`, async ({ skip }) => {
          const input = sample(skip);
          for (const [surface, call] of surfaces) {
            const fresh = await samples.fresh?.[operation.name]?.();
            // A token minted after the fresh sample, so that its scopes cover the project it made.
            const outcome = await call(await tokenFor(role, scope), fresh ?? input);
            expect({ surface, ok: outcome.ok }, outcome.detail).toEqual({ surface, ok: true });
            const contract = operation.output.safeParse(outcome.result);
            expect(contract.success, `${operation.name} result breaks its output contract: ${contract.error?.message}`).toBe(true);
            results.push([surface, outcome.result]);
          }
          await leakCheck();
        });
      }
    }
  });
}

/** What a filtered listing must show, beyond naming nothing outside the scopes. */
const LISTING_CHECKS: Record<string, (result: unknown, scope: Scope) => void | Promise<void>> = {
  "resource://projects": (result, scope) => {
    const keys = (result as { human_key: string }[]).map((project) => project.human_key);
    if (scope === "out") expect(keys).toEqual([OUTSIDE]);
    else expect(keys).toContain(PROJECT);
  },
  projects_overview: (result, scope) => {
    const projects = result as { human_key: string; agents: { name: string }[] }[];
    if (scope === "out") expect(projects.map((project) => [project.human_key, project.agents.map((agent) => agent.name)])).toEqual([[OUTSIDE, ["RedFox"]]]);
    else expect(projects.map((project) => project.human_key)).toContain(PROJECT);
  },
  "resource://product": (result, scope) => {
    const keys = (result as { projects: { human_key: string }[] }).projects.map((project) => project.human_key);
    expect(keys).toEqual(scope === "out" ? [] : [PROJECT]);
  },
  dashboard_mail: async (result, scope) => {
    const shown = [...new Set((result as { messages: { project: string }[] }).messages.map((message) => message.project))].sort();
    const [main, outside] = await Promise.all([PROJECT, OUTSIDE].map((humanKey) => db.prisma.project.findUniqueOrThrow({ where: { humanKey } })));
    if (scope === "out") expect(shown).toEqual([outside!.slug]);
    else expect(shown).toContain(main!.slug);
  },
  "resource://tooling/metrics": async (result, scope) => {
    if (scope === "in") return;
    // Only calls made in OUTSIDE count (none of this file's calls is made there); read after the
    // result, so rows recorded in between can only raise the bound.
    const calls = (result as { tools: { calls: number }[] }).tools.reduce((sum, tool) => sum + tool.calls, 0);
    const outside = await db.prisma.project.findUniqueOrThrow({ where: { humanKey: OUTSIDE } });
    expect(calls).toBeLessThanOrEqual(await db.prisma.toolCallMetric.count({ where: { projectId: outside.id } }));
  },
};

describe("a project-scoped admin cannot reach beyond its projects through credentials (tRPC tokens.*, users.*)", () => {
  const outsideAdmin = () => tokenFor("admin", "out");

  it("tokens.create without projects (a token for every project) → FORBIDDEN", async () => {
    const outcome = await viaTrpc(await outsideAdmin(), "tokens.create", op("tokens.create"), {
      name: "escalated",
      roles: ["admin"],
    });
    expect({ ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ ok: false, code: "FORBIDDEN" });
  });

  it("tokens.create for a project outside its scopes → FORBIDDEN", async () => {
    const outcome = await viaTrpc(await outsideAdmin(), "tokens.create", op("tokens.create"), {
      name: "sideways",
      roles: ["admin"],
      projects: [PROJECT],
    });
    expect({ ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ ok: false, code: "FORBIDDEN" });
  });

  it("tokens.revoke of a token of a project outside its scopes → FORBIDDEN", async () => {
    const outcome = await viaTrpc(await outsideAdmin(), "tokens.revoke", op("tokens.revoke"), {
      jti: stored.mainReader!.jti,
    });
    expect({ ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ ok: false, code: "FORBIDDEN" });
  });

  it("tokens.create never outlives the caller's own token (as register_agent's bearer_token)", async () => {
    const caller = await mint({ sub: "matrix-short-admin", roles: ["admin"] }, { exp: "10m" });
    const created = await trpcOk<{ token: string }>(caller, "tokens.create", { name: "longer", roles: ["reader"], projects: [PROJECT] });
    expect(decodeJwt(created.token).exp!).toBeLessThanOrEqual(decodeJwt(caller).exp!);
  });

  it("users.create of an admin for every project → FORBIDDEN", async () => {
    const outcome = await viaTrpc(await outsideAdmin(), "users.create", op("users.create"), { email: "escalated@example.test", role: "admin", password: "correct horse battery staple" });
    expect({ ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ ok: false, code: "FORBIDDEN" });
  });

  it("users.create for a project outside its scopes → FORBIDDEN", async () => {
    const outcome = await viaTrpc(await outsideAdmin(), "users.create", op("users.create"), { email: "sideways@example.test", role: "admin", projects: [PROJECT] });
    expect({ ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ ok: false, code: "FORBIDDEN" });
  });

  it("users.setDisabled of a user of a project outside its scopes → FORBIDDEN", async () => {
    const outcome = await viaTrpc(await outsideAdmin(), "users.setDisabled", op("users.setDisabled"), { email: "main-reader@example.test", disabled: true });
    expect({ ok: outcome.ok, code: outcome.code }, outcome.detail).toEqual({ ok: false, code: "FORBIDDEN" });
  });
});
