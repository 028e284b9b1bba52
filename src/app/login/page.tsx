import { Suspense } from "react";
import { SignInForm } from "./sign-in-form";

export const metadata = { title: "Sign in · Mailroom" };

export default function LoginPage() {
  return (
    <main className="mx-auto flex min-h-screen max-w-sm flex-col justify-center px-6 py-10">
      <h1 className="mb-1 text-2xl font-bold tracking-tight">Mailroom</h1>
      <p className="mb-6 text-sm text-muted-foreground">Sign in to the overseer&apos;s console.</p>
      {/* useSearchParams needs a Suspense boundary to prerender. */}
      <Suspense>
        <SignInForm />
      </Suspense>
    </main>
  );
}
