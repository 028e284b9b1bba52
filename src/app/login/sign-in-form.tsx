"use client";

import { useEffect, useState } from "react";
import { useRouter, useSearchParams } from "next/navigation";
import { signIn } from "next-auth/react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";

/** next-auth's error codes in words; anything else is a message of ours (a rate limit, say). */
const ERRORS: Record<string, string> = {
  CredentialsSignin: "Wrong email or password.",
  AccessDenied: "This account may not sign in here: ask an admin for an account.",
  OAuthSignin: "The sign-in provider could not be reached.",
  OAuthCallback: "The sign-in provider's answer could not be checked.",
  SessionRequired: "Sign in to continue.",
};

/**
 * Where to go after signing in: a path on this site only, never another origin. Resolved the way
 * the browser will resolve it (which drops tabs and newlines and reads backslashes as slashes, so
 * `/\t/evil.example` is `//evil.example`), then kept only when it stays on this origin.
 */
function safeCallback(value: string | null): string {
  if (!value || typeof window === "undefined") return "/";
  try {
    const target = new URL(value, window.location.origin);
    return target.origin === window.location.origin ? `${target.pathname}${target.search}${target.hash}` : "/";
  } catch {
    return "/";
  }
}

export function SignInForm() {
  const params = useSearchParams();
  const router = useRouter();
  const callbackUrl = safeCallback(params.get("callbackUrl"));
  const [error, setError] = useState(() => {
    const code = params.get("error");
    return code ? (ERRORS[code] ?? code) : "";
  });
  const [pending, setPending] = useState(false);
  const [oidc, setOidc] = useState<string | undefined>();

  useEffect(() => {
    fetch("/api/auth/providers")
      .then((response) => (response.ok ? response.json() : {}))
      .then((providers: Record<string, { name: string }>) => setOidc(providers.oidc?.name))
      .catch(() => setOidc(undefined));
  }, []);

  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError("");
    const result = await signIn("credentials", { email: String(form.get("email")), password: String(form.get("password")), redirect: false, callbackUrl });
    setPending(false);
    if (result?.ok && !result.error) router.replace(callbackUrl);
    else setError(ERRORS[result?.error ?? ""] ?? result?.error ?? "Sign-in failed.");
  }

  return (
    <div className="space-y-4">
      <form className="space-y-3" onSubmit={submit} aria-describedby={error ? "sign-in-error" : undefined}>
        <label className="block text-sm font-medium">
          Email
          <Input name="email" type="email" autoComplete="username" required className="mt-1" />
        </label>
        <label className="block text-sm font-medium">
          Password
          <Input name="password" type="password" autoComplete="current-password" required className="mt-1" />
        </label>
        {error ? (
          <p id="sign-in-error" role="alert" className="text-sm text-destructive">
            {error}
          </p>
        ) : null}
        <Button type="submit" className="w-full" disabled={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </Button>
      </form>
      {oidc ? (
        <Button type="button" variant="outline" className="w-full" onClick={() => void signIn("oidc", { callbackUrl })}>
          Sign in with {oidc}
        </Button>
      ) : null}
    </div>
  );
}
