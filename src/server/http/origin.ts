import { env } from "@/env";

// The Host/Origin guard against DNS rebinding and cross-site requests. A web page on
// evil.example can make a browser send requests to 127.0.0.1:3000 by pointing its own name at
// 127.0.0.1 (the browser then sends `Host: evil.example`), or by posting cross-origin (the
// browser sends `Origin: http://evil.example`). Answering only the names the server is meant to
// be reached by, and only pages served from them, closes both (the MCP spec requires the Origin
// check for Streamable HTTP).

/** Which names the server answers to besides the loopback ones. */
export interface HostPolicy {
  /** The URL clients reach the server by (PUBLIC_URL): its host name is allowed, at any port. */
  publicUrl?: string;
  /** ALLOWED_HOSTS entries: `name`, `name:port` (that port only), or `.domain` (the domain and all its subdomains). */
  allowedHosts: readonly string[];
}

export function hostPolicyFromEnv(): HostPolicy {
  return { publicUrl: env.PUBLIC_URL, allowedHosts: env.ALLOWED_HOSTS };
}

/** Either a fetch `Headers` or node's `IncomingMessage.headers`. */
export type HeaderSource = Pick<Headers, "get"> | Readonly<Record<string, string | string[] | undefined>>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof headers.get === "function") return (headers as Pick<Headers, "get">).get(name) ?? undefined;
  const value = (headers as Readonly<Record<string, string | string[] | undefined>>)[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

interface HostName {
  name: string;
  port?: string;
}

// A host name, an IPv4 address or a bracketed IPv6 address, then an optional port. Deliberately
// strict: `new URL()` would read `evil.example@localhost` as the host `localhost`.
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::(\d{1,5}))?$/;

function parseHost(value: string): HostName | undefined {
  const match = HOST.exec(value.toLowerCase());
  if (!match) return undefined;
  return { name: match[1]!, port: match[2] };
}

interface HostRule extends HostName {
  /** `.domain` entries: the domain itself and every name under it. */
  subdomains: boolean;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

function isLoopback(name: string): boolean {
  return LOOPBACK_NAMES.has(name) || name.endsWith(".localhost");
}

function compileRules(policy: HostPolicy): HostRule[] {
  const rules: HostRule[] = [];
  if (policy.publicUrl) rules.push({ name: new URL(policy.publicUrl).hostname, subdomains: false });
  for (const entry of policy.allowedHosts) {
    const subdomains = entry.startsWith(".");
    const parsed = parseHost(subdomains ? entry.slice(1) : entry);
    if (!parsed) throw new Error(`ALLOWED_HOSTS entry '${entry}' is not a host name with an optional :port`);
    rules.push({ ...parsed, subdomains });
  }
  return rules;
}

function matches(rule: HostRule, host: HostName): boolean {
  if (rule.port !== undefined && rule.port !== host.port) return false;
  return host.name === rule.name || (rule.subdomains && host.name.endsWith(`.${rule.name}`));
}

const QUOTE_LIMIT = 100;

function quote(value: string): string {
  return value.length > QUOTE_LIMIT ? `'${value.slice(0, QUOTE_LIMIT)}…'` : `'${value}'`;
}

const ORIGIN = /^(https?):\/\/([^/?#]+)$/;

/**
 * Builds the guard for a policy: given a request's headers, it returns why the request is
 * refused (the 403 message), or undefined when it may pass. Loopback names (`localhost`,
 * `127.0.0.1`, `[::1]`, `*.localhost`) are always allowed, at any port. A request without an
 * Origin header (curl, MCP clients, server-to-server) is judged by its Host alone.
 */
export function createHostGuard(policy: HostPolicy): (headers: HeaderSource) => string | undefined {
  const rules = compileRules(policy);
  const publicOrigin = policy.publicUrl ? new URL(policy.publicUrl).origin : undefined;
  const allowed = (value: string): boolean => {
    const host = parseHost(value);
    return host !== undefined && (isLoopback(host.name) || rules.some((rule) => matches(rule, host)));
  };
  const hint = "set PUBLIC_URL or ALLOWED_HOSTS";

  return (headers) => {
    const host = header(headers, "host");
    if (!host) return "A Host header is required.";
    if (!allowed(host)) return `Host ${quote(host)} is not allowed; ${hint}`;
    const origin = header(headers, "origin");
    if (origin === undefined || origin === publicOrigin) return undefined;
    const match = ORIGIN.exec(origin.toLowerCase());
    if (!match || !allowed(match[2]!)) return `Origin ${quote(origin)} is not allowed; ${hint}`;
    return undefined;
  };
}

const WILDCARD_ADDRESSES = new Set(["0.0.0.0", "::", "[::]"]);

/**
 * The startup warning for a server that other machines can reach under names the guard refuses:
 * listening on all interfaces (or a non-loopback address) with neither PUBLIC_URL nor
 * ALLOWED_HOSTS naming how clients reach it. Undefined when there is nothing to warn about.
 */
export function hostGuardWarning(hostname: string, policy: HostPolicy): string | undefined {
  const configured = Boolean(policy.publicUrl) || policy.allowedHosts.length > 0;
  if (WILDCARD_ADDRESSES.has(hostname)) {
    if (configured) return undefined;
    return (
      `[mailroom] HOSTNAME=${hostname}: other machines can reach this server, but it answers only requests ` +
      `addressed to localhost, 127.0.0.1 or [::1]; any other Host or Origin gets 403 (a guard against DNS rebinding). ` +
      `If clients reach it as, say, https://mail.example.com, set PUBLIC_URL=https://mail.example.com ` +
      `(or ALLOWED_HOSTS=mail.example.com,10.0.0.5 for several names).`
    );
  }
  const self = hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
  if (createHostGuard(policy)({ host: self }) === undefined) return undefined;
  return (
    `[mailroom] HOSTNAME=${hostname}: requests addressed to ${self} get 403 from the Host guard; ` +
    `add it to ALLOWED_HOSTS (or set PUBLIC_URL) if clients reach the server by that name.`
  );
}

/** Prints hostGuardWarning for the environment's settings, if there is one; server.mts calls it at start. */
export function printHostGuardWarning(hostname: string = env.HOSTNAME, policy: HostPolicy = hostPolicyFromEnv()): void {
  const warning = hostGuardWarning(hostname, policy);
  if (warning) console.warn(warning);
}
