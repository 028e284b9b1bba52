import { SetupForm } from "./setup-form";

export const metadata = { title: "First admin · Mailroom" };

export default function SetupPage() {
  return (
    <main className="mx-auto flex min-h-screen max-w-sm flex-col justify-center px-6 py-10">
      <h1 className="mb-1 text-2xl font-bold tracking-tight">Create the first admin</h1>
      <p className="mb-6 text-sm text-muted-foreground">
        This server has no user yet. The link printed at its start works once; after that, admins create users.
      </p>
      <SetupForm />
    </main>
  );
}
