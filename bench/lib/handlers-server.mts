// Comparison target (`npm run bench -- --server handlers`): the app's framework-free handlers
// (src/server/http/app.ts) served over plain node:http, without Next. The same database setup as
// the app (DATA_DIR / DATABASE_URL from the environment). The gap between this and `next start`
// is Next's own per-request cost. Usage: tsx bench/lib/handlers-server.mts <port>
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { handlers } from "../../src/server/http/app";
import { openAtStartup } from "../../src/server/startup";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error("usage: tsx bench/lib/handlers-server.mts <port>");
  process.exit(2);
}

async function toRequest(req: IncomingMessage): Promise<Request> {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((item) => headers.append(key, item));
    else if (value !== undefined) headers.set(key, value);
  }
  let body: Buffer | undefined;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    body = Buffer.concat(chunks);
  }
  return new Request(`http://127.0.0.1:${port}${req.url ?? "/"}`, { method: req.method, headers, body: body as BodyInit | undefined });
}

function route(request: Request): Promise<Response> | Response {
  const { pathname } = new URL(request.url);
  if (pathname === "/api/mcp") return handlers.mcp(request);
  if (pathname.startsWith("/api/trpc/")) return handlers.trpc(request);
  if (pathname === "/api/health") return handlers.health();
  if (pathname === "/api/ready") return handlers.ready();
  return new Response("not found", { status: 404 });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  headers["content-length"] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(body);
}

await openAtStartup();
const server = createServer((req, res) => {
  toRequest(req)
    .then(route)
    .then((response) => send(res, response))
    .catch((error: unknown) => {
      console.error("[handlers-server]", error);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => console.log(`READY ${port}`));
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
