"use client";

import { useEffect, useState } from "react";
import { signOut } from "next-auth/react";
import { Button } from "@/components/ui/button";

interface Session {
  user?: { email?: string | null; name?: string | null; role?: string };
}

/** Who is signed in, and a way out; nothing in local mode (there is no sign-in there). */
export function SessionMenu() {
  const [session, setSession] = useState<Session | null>(null);
  useEffect(() => {
    fetch("/api/auth/session")
      .then((response) => (response.ok ? response.json() : null))
      .then((body: Session | null) => setSession(body?.user ? body : null))
      .catch(() => setSession(null));
  }, []);
  if (!session?.user) return null;
  return (
    <div className="flex items-center gap-3 text-sm">
      <span className="text-muted-foreground" data-testid="signed-in-as">
        {session.user.email}
        {session.user.role ? ` · ${session.user.role}` : ""}
      </span>
      <Button size="sm" variant="outline" onClick={() => void signOut({ callbackUrl: "/login" })}>
        Sign out
      </Button>
    </div>
  );
}
