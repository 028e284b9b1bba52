"use client";

import { useState, useSyncExternalStore } from "react";
import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";

function onHashChange(notify: () => void): () => void {
  window.addEventListener("hashchange", notify);
  return () => window.removeEventListener("hashchange", notify);
}

export function SetupForm() {
  const router = useRouter();
  // The link's secret is in the fragment, which browsers never send: it stays out of access logs.
  const token = useSyncExternalStore(onHashChange, () => window.location.hash.slice(1), () => "");
  const [error, setError] = useState("");
  const [pending, setPending] = useState(false);

  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    setPending(true);
    setError("");
    const response = await fetch("/api/setup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, email, name: String(form.get("name")), password }),
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
      setPending(false);
      setError(body.error?.message ?? `Setup failed (${response.status}).`);
      return;
    }
    const result = await signIn("credentials", { email, password, redirect: false, callbackUrl: "/" });
    router.replace(result?.ok && !result.error ? "/" : "/login");
  }

  if (!token) {
    return <p className="text-sm text-muted-foreground">Open the setup link the server printed at its start (it ends with #…).</p>;
  }
  return (
    <form className="space-y-3" onSubmit={submit}>
      <label className="block text-sm font-medium">
        Email
        <Input name="email" type="email" autoComplete="username" required className="mt-1" />
      </label>
      <label className="block text-sm font-medium">
        Name
        <Input name="name" autoComplete="name" className="mt-1" />
      </label>
      <label className="block text-sm font-medium">
        Password (at least 12 characters)
        <Input name="password" type="password" autoComplete="new-password" minLength={12} required className="mt-1" />
      </label>
      {error ? (
        <p role="alert" className="text-sm text-destructive">
          {error}
        </p>
      ) : null}
      <Button type="submit" className="w-full" disabled={pending}>
        {pending ? "Creating…" : "Create admin and sign in"}
      </Button>
    </form>
  );
}
