import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

// An MCP SDK client whose bearer token can change from one call to the next, for tests that call
// the same operation with many credentials. The MCP endpoint is stateless (every POST is
// authenticated on its own), so one connection serves them all: `as(token)` sets the
// Authorization header of the following requests (undefined: none at all). The last HTTP answer's
// status and WWW-Authenticate header are kept, since the SDK's error only carries the status.

export interface HttpAnswer {
  status: number;
  wwwAuthenticate: string | null;
}

export class BearerMcpClient {
  private bearer: string | undefined;
  /** The status and challenge of the last HTTP response the client received. */
  last: HttpAnswer | undefined;

  private constructor(readonly client: Client) {}

  /** Connects (initialize) with `bearer`, which must be accepted. */
  static async connect(baseUrl: string, bearer: string, path = "/api/mcp"): Promise<BearerMcpClient> {
    const client = new Client({ name: "mailroom-bearer-tests", version: "1.0.0" });
    const bearerClient = new BearerMcpClient(client);
    bearerClient.bearer = bearer;
    const transport = new StreamableHTTPClientTransport(new URL(path, baseUrl), {
      fetch: async (url, init) => {
        const headers = new Headers(init?.headers);
        if (bearerClient.bearer === undefined) headers.delete("authorization");
        else headers.set("authorization", `Bearer ${bearerClient.bearer}`);
        const response = await fetch(url, { ...init, headers });
        bearerClient.last = { status: response.status, wwwAuthenticate: response.headers.get("www-authenticate") };
        return response;
      },
    });
    await client.connect(transport);
    return bearerClient;
  }

  /** The client, sending `bearer` (or no Authorization header) from now on. */
  as(bearer: string | undefined): Client {
    this.bearer = bearer;
    this.last = undefined;
    return this.client;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
