import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Database } from "@/server/db/client";
import { createEventBus, type EventBus } from "@/server/events/bus";
import { createHandlers } from "@/server/http/handlers";
import { serveApi } from "@/server/http/node";
import type { ServiceConfig } from "@/server/services/context";
import { testConfig } from "./context";

// Serves the app's own request handlers over real HTTP (as server.mts does in production), so
// tests can use the MCP SDK client and the tRPC client against them without building Next.

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

export async function startTestServer(database: Database, config: Partial<ServiceConfig> = {}): Promise<TestServer> {
  let bus: Promise<EventBus> | undefined;
  const events = () => (bus ??= createEventBus(database, database.url));
  const handlers = createHandlers({ database: async () => database, events, config: { ...testConfig, ...config } });
  const server = createServer((req, res) => serveApi(handlers, req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      if (bus) await (await bus).close();
    },
  };
}
