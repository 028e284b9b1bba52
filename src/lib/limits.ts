// Limits the server enforces and its own clients must respect (shared by server and browser code).

/** Most procedure calls in one tRPC batch request: one request must not queue unbounded work. */
export const TRPC_MAX_BATCH = 10;
