import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Database } from "@/server/db/client";
import { createEventBus, type EventBus } from "@/server/events/bus";
import { createHandlers, type HandlerDeps } from "@/server/http/handlers";
import { createRequestListener, edgeConfigFromEnv, type EdgeConfig } from "@/server/http/listener";
import type { ServiceConfig } from "@/server/services/context";
import { testConfig } from "./context";

// Serves the app's own request handlers over real HTTP behind the same edge as server.mts (the
// Host/Origin guard and body limits), so tests can use the MCP SDK client and the tRPC client
// against them without building Next.

export interface TestServer {
  url: string;
  /** The node:http server, for tests that watch its connections. */
  http: Server;
  close(): Promise<void>;
}

export async function startTestServer(
  database: Database,
  config: Partial<ServiceConfig> = {},
  edge: Partial<EdgeConfig> = {},
  options: Pick<HandlerDeps, "resolveActor"> & { pages?: Parameters<typeof createRequestListener>[1] } = {},
): Promise<TestServer> {
  let bus: Promise<EventBus> | undefined;
  const events = () => (bus ??= createEventBus(database, database.url));
  const handlers = createHandlers({ database: async () => database, events, config: { ...testConfig, ...config }, resolveActor: options.resolveActor });
  // `pages` stands in for Next: what the dashboard's page requests reach once the edge lets them through.
  const server = createServer(createRequestListener(handlers, options.pages, { ...edgeConfigFromEnv(), ...edge }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    http: server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      await handlers.close();
      if (bus) await (await bus).close();
    },
  };
}
