import { TokensAdmin } from "./tokens-admin";
import { UsersAdmin } from "./users-admin";

export const metadata = { title: "Admin · Mailroom" };

export default function AdminPage() {
  return (
    <main className="mx-auto max-w-5xl px-6 py-10">
      <header className="mb-8">
        <h1 className="text-2xl font-bold tracking-tight">Admin</h1>
        <p className="text-sm text-muted-foreground">Bearer tokens for agents and tools, and the people who sign in here.</p>
      </header>
      <div className="grid gap-8">
        <TokensAdmin />
        <UsersAdmin />
      </div>
    </main>
  );
}
