import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import type { Db } from "@/server/db/client";
import { authenticateUser, createUser } from "@/server/services/users/accounts";
import { email as emailSchema } from "@/server/schemas/users";
import { PASSWORD_MAX_LENGTH } from "./passwords";
import type { AuthConfig } from "./config";
import { DEFAULT_SESSION_MAX_AGE_S } from "./sessions";
import { AppError } from "@/server/errors";
import { clientKey, type RateLimits } from "./rate-limits";

// next-auth's configuration: a password provider over the users table, and an OpenID Connect
// provider when OIDC_ISSUER is set. Sessions are JWTs in an encrypted cookie holding the user's
// id (`uid`); every request re-reads the user (src/server/auth/sessions.ts).

export interface SignInDeps {
  auth: AuthConfig;
  db: () => Promise<Db>;
  limits: () => Promise<RateLimits>;
  /** The caller's address, from the request next-auth hands to authorize. */
  clientAddress: (headers: Record<string, unknown> | undefined) => string;
}

declare module "next-auth/jwt" {
  interface JWT {
    uid?: number;
    role?: string;
    /** When the user signed in (seconds): the session ends SESSION_MAX_AGE_HOURS after it, however often renewed. */
    signedInAt?: number;
  }
}

export function createAuthOptions(deps: SignInDeps): NextAuthOptions {
  const { auth } = deps;
  const providers: NextAuthOptions["providers"] = [
    CredentialsProvider({
      id: "credentials",
      name: "Password",
      credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
      async authorize(credentials, request) {
        const email = emailSchema.safeParse(credentials?.email);
        const password = credentials?.password;
        if (!email.success || typeof password !== "string" || password.length === 0 || password.length > PASSWORD_MAX_LENGTH) return null;
        try {
          // Every attempt counts as a failure of the client's address before the password is
          // hashed, so concurrent guesses cannot all slip in ahead of their count; a right one is
          // given back. Past the limit this throws RATE_LIMITED, whose message the form shows.
          const limits = await deps.limits();
          const key = clientKey(deps.clientAddress(request.headers));
          await limits.consume("auth_failures", key);
          const user = await authenticateUser(await deps.db(), email.data, password);
          if (!user) return null;
          await limits.refund("auth_failures", key);
          return { id: String(user.id), email: user.email, name: user.name || user.email };
        } catch (error) {
          // next-auth puts the message in the sign-in page's URL: only our own messages go there.
          if (error instanceof AppError) throw new Error(error.message);
          console.error("[auth] sign-in failed:", error);
          throw new Error("Sign-in is unavailable right now; try again shortly.");
        }
      },
    }),
  ];
  const oidc = auth.oidc;
  if (oidc) {
    providers.push({
      id: "oidc",
      name: oidc.name,
      type: "oauth",
      wellKnown: `${oidc.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`,
      clientId: oidc.clientId,
      clientSecret: oidc.clientSecret,
      authorization: { params: { scope: "openid email profile" } },
      idToken: true,
      checks: ["pkce", "state"],
      profile(profile: { sub: string; email?: string; name?: string }) {
        return { id: profile.sub, email: profile.email ?? null, name: profile.name ?? profile.email ?? profile.sub };
      },
    });
  }
  return {
    secret: auth.sessionSecret,
    session: { strategy: "jwt", maxAge: auth.sessionMaxAgeSeconds ?? DEFAULT_SESSION_MAX_AGE_S },
    useSecureCookies: auth.secureCookies ?? false,
    pages: { signIn: "/login", error: "/login" },
    providers,
    callbacks: {
      /** An OIDC identity maps to the user with its (verified) email, created only when OIDC_DEFAULT_ROLE allows. */
      async signIn({ account, user, profile }) {
        if (account?.provider !== "oidc") return true;
        const email = emailSchema.safeParse(user.email);
        // Only an address the provider vouches for maps to an account (a missing claim does not).
        if (!email.success || (profile as { email_verified?: unknown } | undefined)?.email_verified !== true) return false;
        try {
          const db = await deps.db();
          const existing = await db.user.findUnique({ where: { email: email.data } });
          if (existing) return !existing.disabledAt;
          if (!oidc?.defaultRole) return false;
          await createUser(db, { email: email.data, name: user.name ?? "", role: oidc.defaultRole });
          return true;
        } catch (error) {
          // next-auth would put a thrown error's text in the sign-in page's URL.
          console.error("[auth] OIDC sign-in failed:", error);
          return false;
        }
      },
      async jwt({ token, user, account }) {
        if (!user) return token;
        token.signedInAt = Math.floor(Date.now() / 1000);
        if (account?.provider === "oidc") {
          const row = await (await deps.db()).user.findUnique({ where: { email: String(user.email).toLowerCase() }, select: { id: true, role: true } });
          if (row) {
            token.uid = row.id;
            token.role = row.role;
            await (await deps.db()).user.update({ where: { id: row.id }, data: { lastLoginAt: new Date() } });
          }
          return token;
        }
        const row = await (await deps.db()).user.findUnique({ where: { id: Number(user.id) }, select: { id: true, role: true } });
        token.uid = row?.id;
        token.role = row?.role;
        return token;
      },
      session({ session, token }) {
        return { ...session, user: { ...session.user, role: token.role } };
      },
    },
  };
}
