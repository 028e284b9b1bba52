"use client";

import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { OVERSEER_NAME } from "@/lib/overseer";
import { useTRPC } from "./trpc-provider";

/** Notification.permission has no change event that every browser fires; a request's answer is kept in state. */
const noChanges = () => () => {};


/**
 * Mail waiting for the human: HumanOverseer's unread messages across projects, linked to the
 * project with the most, and a browser notification when more arrive (once allowed).
 */
export function OverseerBadge() {
  const trpc = useTRPC();
  const overview = useQuery({ ...trpc.projects.overview.queryOptions(), refetchInterval: 10_000 });
  const waiting = (overview.data ?? [])
    .map((project) => ({ slug: project.slug, unread: project.agents.find((agent) => agent.name === OVERSEER_NAME)?.unread_count ?? 0 }))
    .filter((entry) => entry.unread > 0)
    .sort((a, b) => b.unread - a.unread);
  const total = waiting.reduce((sum, entry) => sum + entry.unread, 0);
  // Read on the client only (the server renders "unsupported"), so hydration matches.
  const system = useSyncExternalStore(
    noChanges,
    () => ("Notification" in window ? Notification.permission : "unsupported"),
    () => "unsupported" as const,
  );
  const [answered, setPermission] = useState<NotificationPermission | undefined>();
  const permission = answered ?? system;
  const previous = useRef<number | undefined>(undefined);

  useEffect(() => {
    if (overview.data === undefined) return;
    if (previous.current !== undefined && total > previous.current && permission === "granted") {
      new Notification("Mailroom", { body: `${total} unread message${total === 1 ? "" : "s"} for the overseer`, tag: "mailroom-overseer" });
    }
    previous.current = total;
  }, [overview.data, total, permission]);

  return (
    <div className="flex items-center gap-2 text-sm">
      {total > 0 ? (
        <Link
          href={`/mail/${encodeURIComponent(waiting[0]!.slug)}/${OVERSEER_NAME}`}
          className="text-primary underline-offset-4 hover:underline"
          data-testid="overseer-inbox"
        >
          Overseer inbox <Badge aria-label={`${total} unread`}>{total}</Badge>
        </Link>
      ) : (
        <span className="text-muted-foreground" data-testid="overseer-inbox">
          Overseer inbox: nothing waiting
        </span>
      )}
      {permission === "default" ? (
        <Button size="sm" variant="ghost" onClick={() => void Notification.requestPermission().then(setPermission)}>
          Notify me
        </Button>
      ) : null}
    </div>
  );
}
