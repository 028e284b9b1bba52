import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { hasRole, type Role } from "@/server/auth/actor";
import { AppError, toAppError } from "@/server/errors";
import { describeIssues } from "@/mcp/registry";
import type { ServiceContext } from "@/server/services/context";

export type TrpcContext = ServiceContext;

const t = initTRPC.context<TrpcContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const appCode = cause instanceof AppError ? cause.code : undefined;
    const message = cause instanceof ZodError ? `Invalid input: ${describeIssues(cause)}` : shape.message;
    return { ...shape, message, data: { ...shape.data, appCode, stack: undefined } };
  },
});

export const router = t.router;

/** Maps service errors to tRPC codes once; unknown errors never leak their text. */
const errorMapping = t.middleware(async ({ next, path }) => {
  const result = await next();
  if (!result.ok && !(result.error.cause instanceof ZodError) && result.error.code !== "BAD_REQUEST") {
    const appError = toAppError(result.error.cause ?? result.error);
    if (appError.code === "INTERNAL_ERROR") console.error(`[trpc] ${path} failed:`, result.error.cause ?? result.error);
    throw new TRPCError({ code: appError.trpcCode, message: appError.message, cause: appError });
  }
  return result;
});

function requireRole(role: Role) {
  return t.middleware(({ ctx, next }) => {
    if (!hasRole(ctx.actor, role)) throw new TRPCError({ code: "FORBIDDEN", message: `This operation needs the ${role} role.` });
    return next();
  });
}

export const readProcedure = t.procedure.use(errorMapping).use(requireRole("read"));
export const writeProcedure = t.procedure.use(errorMapping).use(requireRole("write"));
/** Reading every agent's mail (the overseer's dashboard) is an admin operation. */
export const adminProcedure = t.procedure.use(errorMapping).use(requireRole("admin"));
