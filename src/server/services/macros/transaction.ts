import type { Prisma } from "@/server/db/client";
import type { ServiceContext } from "../context";

/** Steps wait on reservation locks and connections; a macro is several calls, so allow it time. */
const MACRO_TRANSACTION = { maxWait: 60_000, timeout: 60_000 };

/**
 * `withTransaction` with a macro's time budget: every write of the macro commits together or not
 * at all (a later step that fails leaves nothing of the earlier ones). Joins an open transaction.
 */
export function inMacroTransaction<C extends ServiceContext, T>(ctx: C, fn: (tx: C) => Promise<T>): Promise<T> {
  if (ctx.inTransaction) return fn(ctx);
  return (ctx.db as Prisma).$transaction((db) => fn({ ...ctx, db, inTransaction: true }), MACRO_TRANSACTION);
}
