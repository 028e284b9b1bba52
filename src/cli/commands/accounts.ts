import { randomBytes } from "node:crypto";
import type { AnyOperation } from "@/server/operations/define";
import type { z } from "zod";
import type { createTokenOutput, listTokensOutput, revokeTokenOutput } from "@/server/schemas/tokens";
import type { listUsersOutput, userView } from "@/server/schemas/users";
import { type Command, type CommandGroup, EXIT, type Io, json, UsageError, type OptionValues } from "../command";

// `mailroom user …` and `mailroom token …`: dashboard accounts and bearer tokens, on the database
// directly (server-side commands, like `archive`). Each is the same operation the admin's tRPC
// procedures run (src/server/services/users, src/server/services/tokens), through `invoke`, so
// the same input rules and errors apply.

const jsonOption = { type: "boolean", description: "Print the result as JSON" } as const;

/** Runs `operation` with `input` as the machine's operator, on the database directly. */
async function run(io: Io, operation: AnyOperation, input: Record<string, unknown>): Promise<unknown> {
  const [{ withDatabase }, { invoke }] = await Promise.all([import("../database"), import("@/server/operations/invoke")]);
  return withDatabase(io.signal, (ctx) => invoke(operation, ctx, input));
}

/** A password from stdin (one line), for scripts: `printf %s "$PW" | mailroom user create … --password-stdin`. */
async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > 4096) throw new UsageError("--password-stdin: the password must be one line of at most 1,024 characters");
  }
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

function strings(value: OptionValues[string]): string[] | undefined {
  return Array.isArray(value) && value.length ? value : undefined;
}

const userCreate: Command = {
  name: "user create",
  summary: "Create a dashboard user (the first admin, or anyone later)",
  description: [
    "Without --password-stdin a random password is generated and printed once. With --oidc-only",
    "the user has no password and signs in through the configured OIDC provider.",
  ].join("\n"),
  options: {
    email: { type: "string", required: true, value: "<email>", description: "What the user signs in with" },
    name: { type: "string", value: "<name>", description: "Display name" },
    role: { type: "string", value: "<role>", description: "reader, writer or admin (default reader)" },
    project: { type: "string", multiple: true, value: "<key>", description: "A project the user may see (repeat; default all)" },
    "password-stdin": { type: "boolean", description: "Read the password from standard input" },
    "oidc-only": { type: "boolean", description: "No password: sign-in through OIDC only" },
    json: jsonOption,
  },
  examples: ["mailroom user create --email ada@example.com --role admin", "printf %s \"$PW\" | mailroom user create --email rex@example.com --password-stdin --project /srv/repo"],
  async run(values, io) {
    if (values["password-stdin"] && values["oidc-only"]) throw new UsageError("--password-stdin and --oidc-only exclude each other", "user create");
    const generated = values["password-stdin"] || values["oidc-only"] ? undefined : randomBytes(15).toString("base64url");
    const password = values["password-stdin"] ? await readStdinLine() : generated;
    const { createUserOperation } = await import("@/server/services/users/operations");
    const user = (await run(io, createUserOperation, { email: values.email, name: values.name ?? "", role: values.role ?? "reader", projects: strings(values.project), password })) as z.infer<typeof userView>;
    if (values.json) io.out(json({ ...user, ...(generated ? { password: generated } : {}) }));
    else {
      io.out(`Created ${user.role} ${user.email}${user.projects ? ` (projects: ${user.projects.join(", ")})` : ""}.\n`);
      if (generated) io.out(`Password (shown once): ${generated}\n`);
    }
    return EXIT.ok;
  },
};

const userList: Command = {
  name: "user list",
  summary: "List dashboard users",
  options: { all: { type: "boolean", description: "Include disabled users" }, json: jsonOption },
  async run(values, io) {
    const { listUsersOperation } = await import("@/server/services/users/operations");
    const result = (await run(io, listUsersOperation, { include_disabled: Boolean(values.all), limit: 500 })) as z.infer<typeof listUsersOutput>;
    if (values.json) io.out(json(result));
    else if (result.users.length === 0) io.out("No users yet: `mailroom user create --email <email> --role admin` makes the first admin.\n");
    else {
      for (const user of result.users) {
        io.out(`${user.email}\t${user.role}\t${user.projects?.join(",") ?? "all projects"}\t${user.disabled_at ? `disabled ${user.disabled_at}` : `last sign-in ${user.last_login_at ?? "never"}`}\n`);
      }
    }
    return EXIT.ok;
  },
};

const userDisable: Command = {
  name: "user disable",
  summary: "Disable a dashboard user (their sessions stop within a second), or --enable them again",
  options: {
    email: { type: "string", required: true, value: "<email>", description: "The user" },
    enable: { type: "boolean", description: "Enable the user again" },
    json: jsonOption,
  },
  async run(values, io) {
    const { setUserDisabledOperation } = await import("@/server/services/users/operations");
    const user = (await run(io, setUserDisabledOperation, { email: values.email, disabled: !values.enable })) as z.infer<typeof userView>;
    io.out(values.json ? json(user) : `${user.email} is ${user.disabled_at ? "disabled" : "enabled"}.\n`);
    return EXIT.ok;
  },
};

const tokenCreate: Command = {
  name: "token create",
  summary: "Mint a bearer token for an agent or a tool (shown once)",
  options: {
    name: { type: "string", required: true, value: "<name>", description: "Who or what it is for (its sub claim)" },
    role: { type: "string", multiple: true, required: true, value: "<role>", description: "reader, writer or admin (repeat for several)" },
    project: { type: "string", multiple: true, value: "<key>", description: "A project it may touch (repeat; default all)" },
    agent: { type: "string", value: "<project>:<name>", description: "Bind it to this agent: it then proves that agent" },
    "expires-in-days": { type: "string", value: "<days>", description: "Lifetime in days (default 90)" },
    json: jsonOption,
  },
  examples: ["mailroom token create --name ci --role reader", "mailroom token create --name green --role writer --project /srv/repo --agent /srv/repo:GreenCastle"],
  async run(values, io) {
    let agent: { project: string; name: string } | undefined;
    if (typeof values.agent === "string") {
      const split = values.agent.lastIndexOf(":");
      if (split <= 0) throw new UsageError("--agent must be <project>:<agent name>", "token create");
      agent = { project: values.agent.slice(0, split), name: values.agent.slice(split + 1) };
    }
    const days = values["expires-in-days"] === undefined ? undefined : Number(values["expires-in-days"]);
    if (days !== undefined && !(Number.isFinite(days) && days > 0)) throw new UsageError("--expires-in-days must be a positive number", "token create");
    const { createToken } = await import("@/server/services/tokens/operations");
    const minted = (await run(io, createToken, {
      name: values.name,
      roles: values.role,
      projects: strings(values.project),
      agent,
      expires_in_seconds: days === undefined ? undefined : Math.round(days * 86_400),
    })) as z.infer<typeof createTokenOutput>;
    if (values.json) io.out(json(minted));
    else io.out(`Token ${minted.id} (jti ${minted.jti}), expires ${minted.expires_at ?? "never"}. Shown once:\n${minted.token}\n`);
    return EXIT.ok;
  },
};

const tokenList: Command = {
  name: "token list",
  summary: "List bearer tokens minted here (never their secret)",
  options: { all: { type: "boolean", description: "Include revoked tokens" }, json: jsonOption },
  async run(values, io) {
    const { listTokens } = await import("@/server/services/tokens/operations");
    const result = (await run(io, listTokens, { include_revoked: Boolean(values.all), limit: 500 })) as z.infer<typeof listTokensOutput>;
    if (values.json) io.out(json(result));
    else if (result.tokens.length === 0) io.out("No tokens.\n");
    else {
      for (const token of result.tokens) {
        const bound = token.agent ? ` agent ${token.agent.project}:${token.agent.name}` : "";
        io.out(`${token.id}\t${token.jti ?? "-"}\t${token.name}\t${token.roles.join(",")}\t${token.projects?.join(",") ?? "all projects"}${bound}\t${token.revoked_at ? `revoked ${token.revoked_at}` : `expires ${token.expires_at ?? "never"}`}\n`);
      }
    }
    return EXIT.ok;
  },
};

const tokenRevoke: Command = {
  name: "token revoke",
  summary: "Revoke a token by jti (minted here or elsewhere); every instance refuses it within a second",
  options: { jti: { type: "string", required: true, value: "<jti>", description: "The token's jti" }, json: jsonOption },
  async run(values, io) {
    const { revokeToken } = await import("@/server/services/tokens/operations");
    const result = (await run(io, revokeToken, { jti: values.jti })) as z.infer<typeof revokeTokenOutput>;
    io.out(values.json ? json(result) : `Revoked ${result.jti} at ${result.revoked_at}.\n`);
    return EXIT.ok;
  },
};

export const userCommands: CommandGroup = {
  name: "user",
  summary: "Dashboard users: create (the first admin too), list, disable",
  commands: [userCreate, userList, userDisable],
};

export const tokenCommands: CommandGroup = {
  name: "token",
  summary: "Bearer tokens for agents and tools: create, list, revoke",
  commands: [tokenCreate, tokenList, tokenRevoke],
};
