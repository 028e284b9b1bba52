import Link from "next/link";
import { SessionMenu } from "../_components/session-menu";
import { TokensAdmin } from "./tokens-admin";
import { UsersAdmin } from "./users-admin";

export const metadata = { title: "Admin · Mailroom" };

export default function AdminPage() {
  return (
    <main className="mx-auto max-w-5xl px-6 py-10">
      <header className="mb-8 flex items-baseline justify-between">
        <div>
          <h1 className="text-2xl font-bold tracking-tight">Admin</h1>
          <p className="text-sm text-muted-foreground">
            Bearer tokens for agents and tools, and the people who sign in here. <Link className="text-primary underline-offset-4 hover:underline" href="/">Back to projects</Link>
          </p>
        </div>
        <SessionMenu />
      </header>
      <div className="grid gap-8">
        <TokensAdmin />
        <UsersAdmin />
      </div>
    </main>
  );
}
