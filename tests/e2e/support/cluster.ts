import { rmSync } from "node:fs";
import { createDatabase, makeDataDir, requireBuild, spawnServer, waitUntilReady, type ServerProcess } from "./app-server";

// Several instances of the built app on one Postgres database, as a deployment behind a load
// balancer runs them: each its own process, port and DATA_DIR; nothing shared but the database.

export interface Cluster {
  /** The instances, in start order. */
  servers: ServerProcess[];
  /** The database they share (a fresh one, dropped by stop). */
  databaseUrl: string;
  /** Every instance's output, labelled, for failure reports. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `count` instances on a fresh database of the Postgres server `serverUrl`, one after the
 * other (the first one migrates the database; the machine may have few cores), with `env` added to
 * each instance's environment.
 */
export async function startCluster(serverUrl: string, count: number, env: Record<string, string> = {}): Promise<Cluster> {
  requireBuild();
  const database = await createDatabase(serverUrl);
  const servers: ServerProcess[] = [];
  const dataDirs: string[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.kill()));
    await database.drop();
    for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    for (let index = 0; index < count; index += 1) {
      dataDirs.push(makeDataDir());
      // A port can be taken between probing it and the server binding it: retry on EADDRINUSE.
      for (let attempt = 1; ; attempt += 1) {
        const server = await spawnServer({ dataDir: dataDirs[index]!, databaseUrl: database.url, env });
        servers.push(server);
        try {
          await waitUntilReady(server);
          break;
        } catch (error) {
          servers.pop();
          await server.kill();
          if (attempt < 3 && server.output().includes("EADDRINUSE")) continue;
          throw error;
        }
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    servers,
    databaseUrl: database.url,
    output: () => servers.map((server) => `--- output of the instance on ${server.url} ---\n${server.output()}`).join("\n"),
    stop,
  };
}
