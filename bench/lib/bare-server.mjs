// The machine's limit: a bare node:http server answering a trivial JSON body, shaped like
// GET /api/health. Run by bench/run.mts in its own process (never in the load generator's event
// loop): `node bench/lib/bare-server.mjs <port>`. Prints "READY <port>" once it listens.
import http from "node:http";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error("usage: node bench/lib/bare-server.mjs <port>");
  process.exit(2);
}

const server = http.createServer((_request, response) => {
  const body = JSON.stringify({ status: "ok", timestamp: new Date().toISOString() });
  response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => console.log(`READY ${port}`));

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
// Stop with the benchmark even if it dies without a chance to signal us.
process.on("disconnect", () => process.exit(0));
