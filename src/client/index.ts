import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { TRPC_MAX_BATCH } from "@/lib/limits";
import type { AppRouter } from "@/server/api/root";

export type { AppRouter };

export interface MailroomClientOptions {
  /** Base URL of a Mailroom server, e.g. http://127.0.0.1:3000 */
  url: string;
  /** Bearer credential, sent as `Authorization: Bearer <token>` when given. */
  token?: string;
}

/** A typed tRPC client for scripts and internal tools: `await client.projects.list.query()`. */
export function createMailroomClient({ url, token }: MailroomClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: new URL("/api/trpc", url).toString(),
        maxItems: TRPC_MAX_BATCH,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}

export type MailroomClient = ReturnType<typeof createMailroomClient>;
