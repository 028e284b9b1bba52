import { defineOperation } from "@/server/operations/define";
import { createUserInput, listUsersInput, listUsersOutput, setUserDisabledInput, userView as userViewSchema } from "@/server/schemas/users";
import { AppError, quote } from "@/server/errors";
import { createUser, userView } from "./accounts";

// Dashboard accounts for the admin page and the CLI (tRPC only, admin role).

export const createUserOperation = defineOperation({
  name: "create_user",
  description: "Create a dashboard user with a role and optional project scopes (a password, or none to sign in through OIDC only).",
  input: createUserInput,
  output: userViewSchema,
  permission: "admin",
  serverWide: true,
  kind: "mutation",
  scope: "global",
  async handler(ctx, input) {
    return userView(await createUser(ctx.db, input));
  },
});

export const listUsersOperation = defineOperation({
  name: "list_users",
  description: "Dashboard users, oldest first.",
  input: listUsersInput,
  output: listUsersOutput,
  permission: "admin",
  serverWide: true,
  kind: "query",
  scope: "global",
  async handler(ctx, input) {
    const rows = await ctx.db.user.findMany({ where: input.include_disabled ? {} : { disabledAt: null }, orderBy: { id: "asc" }, take: input.limit });
    return { users: rows.map(userView) };
  },
});

export const setUserDisabledOperation = defineOperation({
  name: "set_user_disabled",
  description: "Disable a dashboard user (their sessions and the tokens they created stop working within a second on every instance), or enable them again.",
  input: setUserDisabledInput,
  output: userViewSchema,
  permission: "admin",
  serverWide: true,
  kind: "mutation",
  scope: "global",
  async handler(ctx, input) {
    const user = await ctx.db.user.findUnique({ where: { email: input.email } });
    if (!user) throw new AppError("NOT_FOUND", `No user with email '${quote(input.email)}'.`, { field: "email" });
    if (input.disabled && ctx.actor.principal === `user:${user.id}`) {
      throw new AppError("INVALID_ARGUMENT", "You cannot disable your own account.", { field: "email" });
    }
    const now = new Date();
    // The tokens a user created end with the account: a stolen session must not outlast it as a
    // token. Enabling the user again does not bring them back.
    const [updated] = await ctx.db.$transaction([
      ctx.db.user.update({ where: { id: user.id }, data: { disabledAt: input.disabled ? (user.disabledAt ?? now) : null } }),
      ...(input.disabled ? [ctx.db.apiToken.updateMany({ where: { userId: user.id, revokedAt: null }, data: { revokedAt: now } })] : []),
    ]);
    return userView(updated);
  },
});

export const userOperations = { create: createUserOperation, list: listUsersOperation, setDisabled: setUserDisabledOperation } as const;
