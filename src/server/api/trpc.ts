import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";
import { AppError, toAppError } from "@/server/errors";
import { isOperation, type AnyOperation, type Operation } from "@/server/operations/define";
import { invoke } from "@/server/operations/invoke";
import type { OperationTree } from "@/server/operations/registry";
import type { ServiceContext } from "@/server/services/context";

// tRPC procedures derived from the operation registry: each calls `invoke`, which checks the
// permission before the input, resolves the scope and runs the handler. Nothing here decides who
// may do what.

export type TrpcContext = ServiceContext;

const t = initTRPC.context<TrpcContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const appCode = cause instanceof AppError ? cause.code : undefined;
    // A body that is not JSON is the caller's mistake; the parser's own text (and any stack) stays in the server.
    const malformed = isMalformedBody(error);
    return {
      ...shape,
      ...(malformed ? { code: -32700 as const, message: "The request body is not valid JSON." } : {}),
      data: { ...shape.data, ...(malformed ? { code: "PARSE_ERROR" as const, httpStatus: 400 } : {}), appCode, stack: undefined },
    };
  },
});

export const router = t.router;

/** A request body that is not JSON: tRPC reports it as an internal error caused by the parser's SyntaxError. */
export function isMalformedBody(error: TRPCError): boolean {
  return error.code === "PARSE_ERROR" || error.cause instanceof SyntaxError;
}

/** Maps service errors to tRPC codes once; unknown errors never leak their text. */
const errorMapping = t.middleware(async ({ next, path }) => {
  const result = await next();
  if (!result.ok && !isMalformedBody(result.error)) {
    const appError = toAppError(result.error.cause ?? result.error);
    if (appError.code === "INTERNAL_ERROR") console.error(`[trpc] ${path} failed:`, result.error.cause ?? result.error);
    throw new TRPCError({ code: appError.trpcCode, message: appError.message, cause: appError });
  }
  return result;
});

// The input is declared for the client's types only: `invoke` parses it (after the permission
// check), so a denied caller learns nothing about the input's rules.
const passThrough = <I>() => z.custom<I>(() => true);

/** Operations whose every argument is optional can be called with no input at all (`projects.list.query()`). */
type ClientInput<I extends z.ZodType> = object extends z.input<I> ? z.input<I> | void : z.input<I>;

function queryOf<I extends z.ZodType, O>(operation: Operation<I, O, "query">) {
  return t.procedure
    .use(errorMapping)
    .input(passThrough<ClientInput<I>>())
    .query(({ ctx, input }) => invoke(operation, ctx, input));
}

function mutationOf<I extends z.ZodType, O>(operation: Operation<I, O, "mutation">) {
  return t.procedure
    .use(errorMapping)
    .input(passThrough<ClientInput<I>>())
    .mutation(({ ctx, input }) => invoke(operation, ctx, input));
}

type ProcedureOf<Op> =
  Op extends Operation<infer I, infer O, "query">
    ? ReturnType<typeof queryOf<I, O>>
    : Op extends Operation<infer I, infer O, "mutation">
      ? ReturnType<typeof mutationOf<I, O>>
      : never;

export type RouterRecordOf<T> = { [K in keyof T]: T[K] extends AnyOperation ? ProcedureOf<T[K]> : RouterRecordOf<T[K]> };

/** The tRPC router record of an operation tree: one procedure per operation, at its registry path. */
export function routerRecord<T extends OperationTree>(tree: T): RouterRecordOf<T> {
  return Object.fromEntries(
    Object.entries(tree).map(([key, value]) => {
      if (!isOperation(value)) return [key, routerRecord(value)];
      const operation = value;
      return [key, operation.kind === "query" ? queryOf(operation as Operation<z.ZodType, unknown, "query">) : mutationOf(operation as Operation<z.ZodType, unknown, "mutation">)];
    }),
  ) as RouterRecordOf<T>;
}
