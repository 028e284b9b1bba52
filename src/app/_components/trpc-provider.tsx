"use client";

import { useState } from "react";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import type { AppRouter } from "@/server/api/root";
import { TRPC_MAX_BATCH } from "@/lib/limits";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

/** A session that ended (expired, signed out elsewhere, user disabled) sends the browser to sign in again. */
function signInAgainOn401(error: unknown): void {
  const status = (error as { data?: { httpStatus?: number } } | null)?.data?.httpStatus;
  if (status === 401 && window.location.pathname !== "/login") {
    // A full load, not a client-side route change: the sign-in page must start from no cached data.
    // eslint-disable-next-line @next/next/no-location-assign-relative-destination
    window.location.assign(`/login?callbackUrl=${encodeURIComponent(window.location.pathname + window.location.search)}`);
  }
}

export function TrpcProvider({ children }: { children: React.ReactNode }) {
  const [queryClient] = useState(() => new QueryClient({
        defaultOptions: { queries: { staleTime: 5_000 } },
        queryCache: new QueryCache({ onError: signInAgainOn401 }),
        mutationCache: new MutationCache({ onError: signInAgainOn401 }),
      }));
  const [trpcClient] = useState(() => createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: "/api/trpc", maxItems: TRPC_MAX_BATCH })] }));
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
