import { operations } from "@/server/operations/registry";
import { router, routerRecord } from "./trpc";

/** Every registered operation as a tRPC procedure at its registry path (`mail.send`, `projects.list`, …). */
export const appRouter = router(routerRecord(operations));

export type AppRouter = typeof appRouter;
