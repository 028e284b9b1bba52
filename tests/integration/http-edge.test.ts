import { once } from "node:events";
import { createServer, request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHandlers } from "@/server/http/handlers";
import { createRequestListener, type EdgeConfig } from "@/server/http/listener";
import { hostGuardWarning } from "@/server/http/origin";
import { testConfig } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";

// The HTTP edge against hostile clients, over real sockets: oversized bodies are refused without
// being read (the server runs in this process, so its memory and its sockets' byte counts are
// measured directly), bodies a route does not take are never read, and requests addressed to
// other names (DNS rebinding) or sent from other sites' pages get 403.

const MIB = 1024 * 1024;
const LIMIT = 4 * MIB;
const HUGE = 40 * MIB;
/** A server that decides by Content-Length reads no more than the first socket reads' worth. */
const UNREAD = LIMIT / 4;
/** A server counting a chunked body stops at LIMIT, give or take one socket read. */
const READ_TO_LIMIT = LIMIT + MIB;
/** The client also fills both ends' socket buffers (a few MB on loopback) before it notices. */
const WRITTEN_CEILING = HUGE / 2;

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let port: number;

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db, {}, { maxRequestBytes: LIMIT, publicUrl: undefined, allowedHosts: [] });
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server?.close();
  await db?.close();
});

const CHUNK = Buffer.alloc(64 * 1024, "x");

interface Sent {
  status?: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Bytes of the request body the client managed to hand to its socket before it closed. */
  written: number;
  /** Bytes the server took off the connection (request head and body). */
  serverRead: number;
  /** Largest growth of the process's memory while the request was under way. */
  growth: { rss: number; arrayBuffers: number };
}

interface SendOptions {
  path: string;
  method?: string;
  headers?: Record<string, string>;
  /** Body length; sent with Content-Length unless `chunked`. */
  bodyBytes?: number;
  chunked?: boolean;
  /** Stop once the response body contains this (for event streams, which do not end). */
  until?: string;
  target?: { http: Server; port: number };
}

function drainOrClose(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      req.off("drain", done).off("close", done);
      resolve();
    };
    req.on("drain", done).on("close", done);
  });
}

/**
 * One request on a fresh connection, its body streamed from a reused 64 KiB chunk (the test holds
 * no large buffer), written for as long as the server keeps the connection open (and the response
 * has not ended on a kept-alive connection).
 */
async function send(options: SendOptions): Promise<Sent> {
  const target = options.target ?? { http: server.http, port };
  const accepted = once(target.http, "connection") as Promise<[Socket]>;
  // Asking for keep-alive (node sends `Connection: close` on agent-less requests) leaves closing
  // the connection to the server, which is what is under test.
  const headers: Record<string, string> = { connection: "keep-alive", ...options.headers };
  if (options.bodyBytes !== undefined && !options.chunked) headers["content-length"] = String(options.bodyBytes);
  if (options.chunked) headers["transfer-encoding"] = "chunked";
  const req = request({ host: "127.0.0.1", port: target.port, path: options.path, method: options.method ?? "GET", headers, agent: false });

  const base = process.memoryUsage();
  const growth = { rss: 0, arrayBuffers: 0 };
  const sample = () => {
    const now = process.memoryUsage();
    growth.rss = Math.max(growth.rss, now.rss - base.rss);
    growth.arrayBuffers = Math.max(growth.arrayBuffers, now.arrayBuffers - base.arrayBuffers);
  };

  const result: Sent = { headers: {}, body: "", written: 0, serverRead: 0, growth };
  let closed = false;
  const finished = new Promise<void>((resolve) => {
    req.once("close", () => {
      closed = true;
      resolve();
    });
  });
  req.on("error", () => {
    // The server dropping the connection while the body is still being sent is the point.
  });
  req.on("response", (res) => {
    result.status = res.statusCode;
    result.headers = res.headers;
    res.setEncoding("utf8");
    res.on("data", (text: string) => {
      result.body += text;
      if (options.until && result.body.includes(options.until)) req.destroy();
    });
    res.on("error", () => {});
    // A server keeping the connection would wait for the rest of the body: the client gives up.
    res.on("end", () => {
      if (res.headers.connection !== "close") req.destroy();
    });
  });

  if (options.bodyBytes !== undefined) {
    for (let sent = 0; sent < options.bodyBytes && !closed; ) {
      const size = Math.min(CHUNK.length, options.bodyBytes - sent);
      const drained = req.write(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size));
      sent += size;
      result.written = sent;
      sample();
      if (!drained && !closed) await drainOrClose(req);
    }
  }
  if (!closed) req.end();
  await finished;
  sample();
  const [socket] = await accepted;
  result.serverRead = socket.bytesRead;
  return result;
}

function json(sent: Sent): unknown {
  return JSON.parse(sent.body);
}

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" };
const TRPC_HEADERS = { "content-type": "application/json" };

/** The server answered 413 after reading at most LIMIT bytes (none of the body when it knew the length), held no more, and dropped the connection. */
function expectStoppedReading(sent: Sent, chunked: boolean): void {
  const ceiling = chunked ? READ_TO_LIMIT : UNREAD;
  expect(sent.serverRead).toBeLessThan(ceiling);
  expect(sent.growth.arrayBuffers).toBeLessThan(ceiling);
  expect(sent.growth.rss).toBeLessThan(HUGE / 2);
  expect(sent.written).toBeLessThan(WRITTEN_CEILING);
}

describe("request bodies", () => {
  for (const chunked of [false, true]) {
    const framing = chunked ? "chunked (no Content-Length)" : "with Content-Length";

    it(`refuses a 40 MB POST to /api/mcp, ${framing}, with a JSON-RPC 413 and stops reading`, async () => {
      const sent = await send({ path: "/api/mcp", method: "POST", headers: MCP_HEADERS, bodyBytes: HUGE, chunked });
      expect(sent.status).toBe(413);
      expect(sent.headers.connection).toBe("close");
      expect(json(sent)).toEqual({ jsonrpc: "2.0", error: { code: -32600, message: expect.stringContaining(`${LIMIT} bytes`) }, id: null });
      expectStoppedReading(sent, chunked);
    });

    it(`refuses a 40 MB POST to /api/trpc/projects.ensure, ${framing}, with a 413 and stops reading`, async () => {
      const sent = await send({ path: "/api/trpc/projects.ensure", method: "POST", headers: TRPC_HEADERS, bodyBytes: HUGE, chunked });
      expect(sent.status).toBe(413);
      expect(sent.headers.connection).toBe("close");
      expect(json(sent)).toEqual({ error: { type: "PAYLOAD_TOO_LARGE", message: expect.stringContaining(`${LIMIT} bytes`) } });
      expectStoppedReading(sent, chunked);
    });
  }

  it("reads bodies within the limit, with Content-Length and chunked, and keeps the connection", async () => {
    const body = JSON.stringify({ human_key: "/srv/edge/limits" });
    for (const chunked of [false, true]) {
      const req = request({ host: "127.0.0.1", port, path: "/api/trpc/projects.ensure", method: "POST", headers: { ...TRPC_HEADERS, ...(chunked ? {} : { "content-length": String(body.length) }) } });
      req.end(body);
      const [res] = (await once(req, "response")) as [IncomingMessage];
      let text = "";
      for await (const chunk of res) text += chunk;
      expect(res.statusCode).toBe(200);
      expect(res.headers.connection).not.toBe("close");
      expect(JSON.parse(text)).toMatchObject({ result: { data: { human_key: "/srv/edge/limits" } } });
    }
  });

  it("answers GET /api/health carrying a 40 MB body without reading it, and closes the connection", async () => {
    const sent = await send({ path: "/api/health", bodyBytes: HUGE });
    expect(sent.status).toBe(200);
    expect(json(sent)).toMatchObject({ status: "ok" });
    expect(sent.headers.connection).toBe("close");
    expect(sent.written).toBeLessThan(WRITTEN_CEILING);
    expect(sent.serverRead).toBeLessThan(UNREAD);
  });

  it("streams GET /api/events carrying a 40 MB body without reading it", async () => {
    const ensured = await fetch(`${server.url}/api/trpc/projects.ensure`, { method: "POST", headers: TRPC_HEADERS, body: JSON.stringify({ human_key: "/srv/edge/events" }) });
    const { slug } = ((await ensured.json()) as { result: { data: { slug: string } } }).result.data;
    const sent = await send({ path: `/api/events?project=${slug}`, bodyBytes: HUGE, until: "event: ready" });
    expect(sent.status).toBe(200);
    expect(sent.headers["content-type"]).toBe("text/event-stream");
    expect(sent.headers.connection).toBe("close");
    expect(sent.body).toContain("event: ready");
    expect(sent.serverRead).toBeLessThan(UNREAD);
  });

  it("answers a tRPC query (GET) carrying a body without reading it", async () => {
    const sent = await send({ path: "/api/trpc/projects.list", bodyBytes: HUGE });
    expect(sent.status).toBe(200);
    expect(sent.headers.connection).toBe("close");
    expect(sent.serverRead).toBeLessThan(UNREAD);
  });

  it("answers GET and DELETE /api/mcp carrying a body with 405 without reading it", async () => {
    for (const method of ["GET", "DELETE"]) {
      const sent = await send({ path: "/api/mcp", method, headers: MCP_HEADERS, bodyBytes: HUGE });
      expect(sent.status).toBe(405);
      expect(sent.headers.connection).toBe("close");
      expect(sent.serverRead).toBeLessThan(UNREAD);
    }
  });
});

describe("bodies sent to the dashboard (Next)", () => {
  let pages: { http: Server; port: number };
  const seen: string[] = [];

  beforeAll(async () => {
    const handlers = createHandlers({ database: async () => db, events: () => Promise.reject(new Error("no events here")), config: testConfig });
    // Stands in for Next, which would buffer a body it is handed.
    const next = async (req: IncomingMessage, res: ServerResponse) => {
      let size = 0;
      if (req.method !== "GET" && req.method !== "HEAD") for await (const chunk of req) size += (chunk as Buffer).length;
      seen.push(`${req.method} ${req.url} ${size}`);
      res.writeHead(200, { "content-type": "text/html" }).end("<html></html>");
    };
    const http = createServer(createRequestListener(handlers, next, { maxRequestBytes: LIMIT, allowedHosts: [] }));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    pages = { http, port: (http.address() as AddressInfo).port };
  });
  afterAll(async () => {
    pages.http.closeAllConnections();
    await new Promise((resolve) => pages.http.close(resolve));
  });

  it("refuses a POST with a body to a page with 413, unread, never reaching Next", async () => {
    for (const chunked of [false, true]) {
      const sent = await send({ path: "/mail/p/a", method: "POST", headers: { "content-type": "text/plain" }, bodyBytes: HUGE, chunked, target: pages });
      expect(sent.status).toBe(413);
      expect(json(sent)).toEqual({ error: { type: "PAYLOAD_TOO_LARGE", message: expect.stringContaining("takes no request body") } });
      expect(sent.serverRead).toBeLessThan(UNREAD);
    }
    expect(seen).toEqual([]);
  });

  it("hands pages to Next, and a GET carrying a body without it (closing the connection)", async () => {
    const plain = await send({ path: "/", target: pages });
    expect(plain.status).toBe(200);
    const withBody = await send({ path: "/", bodyBytes: HUGE, target: pages });
    expect(withBody.status).toBe(200);
    expect(withBody.headers.connection).toBe("close");
    expect(withBody.serverRead).toBeLessThan(UNREAD);
    expect(seen).toEqual(["GET / 0", "GET / 0"]);
  });
});

describe("Host and Origin", () => {
  const paths: [string, string, Record<string, string>][] = [
    ["/api/mcp", "POST", MCP_HEADERS],
    ["/api/trpc/projects.list", "GET", {}],
    ["/api/events?project=x", "GET", {}],
    ["/api/health", "GET", {}],
    ["/api/ready", "GET", {}],
    ["/mail/p/a", "GET", {}],
  ];
  const mcpBody = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });

  function call(path: string, method: string, headers: Record<string, string>, target = { http: server.http, port }): Promise<Sent> {
    const body = method === "POST" ? mcpBody : undefined;
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: target.port, path, method, headers, agent: false });
      req.on("error", reject);
      req.on("response", async (res) => {
        let text = "";
        for await (const chunk of res) text += chunk;
        resolve({ status: res.statusCode, headers: res.headers, body: text, written: 0, serverRead: 0, growth: { rss: 0, arrayBuffers: 0 } });
      });
      req.end(body);
    });
  }

  it("answers requests addressed to another name with 403, on every path", async () => {
    for (const [path, method, headers] of paths) {
      const sent = await call(path, method, { ...headers, host: "evil.example" });
      expect(sent.status, path).toBe(403);
      const message = "Host 'evil.example' is not allowed; set PUBLIC_URL or ALLOWED_HOSTS";
      expect(json(sent), path).toEqual(path === "/api/mcp" ? { jsonrpc: "2.0", error: { code: -32600, message }, id: null } : { error: { type: "FORBIDDEN", message } });
    }
    for (const host of [`evil.example:${port}`, "127.0.0.1.evil.example", "evil.example@localhost", "localhost.evil.example", "127.0.0.2"]) {
      expect((await call("/api/health", "GET", { host })).status, host).toBe(403);
    }
    // HTTP/1.0 allows leaving Host out; such a request names no allowed host either.
    const socket = connect(port, "127.0.0.1");
    socket.end("GET /api/health HTTP/1.0\r\n\r\n");
    let raw = "";
    for await (const chunk of socket) raw += chunk;
    expect(raw).toMatch(/^HTTP\/1\.1 403 /);
    expect(raw).toContain("A Host header is required.");
  });

  it("quotes at most 100 characters of a refused header", async () => {
    const sent = await call("/api/health", "GET", { host: `${"a".repeat(300)}.example` });
    expect(sent.status).toBe(403);
    const { message } = (json(sent) as { error: { message: string } }).error;
    expect(message).toBe(`Host '${"a".repeat(100)}…' is not allowed; set PUBLIC_URL or ALLOWED_HOSTS`);
  });

  it("answers requests from another site's page (Origin) with 403, on every path", async () => {
    for (const origin of ["http://evil.example", `http://evil.example:${port}`, "null", "file://", `http://127.0.0.1:${port}/path`, `ftp://127.0.0.1:${port}`]) {
      for (const [path, method, headers] of paths) {
        const sent = await call(path, method, { ...headers, origin });
        expect(sent.status, `${origin} ${path}`).toBe(403);
        expect(sent.body).toContain("is not allowed; set PUBLIC_URL or ALLOWED_HOSTS");
      }
    }
  });

  it("serves loopback names at any port, with or without a loopback Origin", async () => {
    const loopback = [`127.0.0.1:${port}`, `localhost:${port}`, "localhost", `[::1]:${port}`, "LOCALHOST:1", `mailroom.localhost:${port}`];
    for (const host of loopback) {
      expect((await call("/api/health", "GET", { host })).status, host).toBe(200);
    }
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, "https://localhost", `http://[::1]:${port}`, `http://app.localhost:${port}`]) {
      const sent = await call("/api/mcp", "POST", { ...MCP_HEADERS, origin });
      expect(sent.status, origin).toBe(200);
      expect(sent.body).toContain("health_check");
    }
    expect((await call("/api/trpc/projects.list", "GET", { origin: `http://localhost:${port}` })).status).toBe(200);
  });

  it("serves PUBLIC_URL's host and ALLOWED_HOSTS entries, and nothing else", async () => {
    const edge: EdgeConfig = { maxRequestBytes: LIMIT, publicUrl: "https://mail.example.com", allowedHosts: ["mailroom.internal:8080", ".corp.example", "10.0.0.5"] };
    const configured = await startTestServer(db, {}, edge);
    const target = { http: configured.http, port: Number(new URL(configured.url).port) };
    try {
      const status = async (headers: Record<string, string>) => (await call("/api/health", "GET", headers, target)).status;
      for (const host of ["mail.example.com", "mail.example.com:443", "MAIL.example.com", "mailroom.internal:8080", "corp.example", "a.corp.example", "a.b.corp.example:3000", "10.0.0.5:3000", `127.0.0.1:${target.port}`]) {
        expect(await status({ host }), host).toBe(200);
      }
      for (const host of ["example.com", "evil.mail.example.com", "mailroom.internal", "mailroom.internal:9090", "evilcorp.example", "corp.example.evil", "10.0.0.6"]) {
        expect(await status({ host }), host).toBe(403);
      }
      for (const origin of ["https://mail.example.com", "http://mail.example.com", "https://a.corp.example", "http://mailroom.internal:8080", "http://localhost:5173"]) {
        expect(await status({ host: "mail.example.com", origin }), origin).toBe(200);
      }
      for (const origin of ["https://evil.example", "https://mail.example.com.evil.example", "http://mailroom.internal:9090", "null"]) {
        expect(await status({ host: "mail.example.com", origin }), origin).toBe(403);
      }
    } finally {
      await configured.close();
    }
  });

  it("warns at start when listening on all interfaces without PUBLIC_URL or ALLOWED_HOSTS", () => {
    for (const hostname of ["0.0.0.0", "::"]) {
      expect(hostGuardWarning(hostname, { allowedHosts: [] })).toContain("set PUBLIC_URL=");
      expect(hostGuardWarning(hostname, { publicUrl: "https://mail.example.com", allowedHosts: [] })).toBeUndefined();
      expect(hostGuardWarning(hostname, { allowedHosts: ["mail.example.com"] })).toBeUndefined();
    }
    for (const hostname of ["127.0.0.1", "localhost", "::1"]) expect(hostGuardWarning(hostname, { allowedHosts: [] })).toBeUndefined();
    expect(hostGuardWarning("192.168.1.5", { allowedHosts: [] })).toContain("requests addressed to 192.168.1.5 get 403");
    expect(hostGuardWarning("192.168.1.5", { allowedHosts: ["192.168.1.5"] })).toBeUndefined();
  });
});
