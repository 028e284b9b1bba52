"use client";

import { useEffect } from "react";
import { useQueryClient } from "@tanstack/react-query";

const EVENT_TYPES = ["message", "read", "ack", "reservation"] as const;
/** A burst of events (a broadcast, a batch of reads) refetches once. */
const COALESCE_MS = 250;

/**
 * Keeps the page live: refetches the dashboard's queries whenever the event stream reports new
 * mail, a read, an ack or a reservation change, in one project or (no project) in every project
 * the overseer may see. EventSource reconnects by itself after a dropped connection.
 */
export function useLiveEvents(project?: string) {
  const queryClient = useQueryClient();
  useEffect(() => {
    const source = new EventSource(project ? `/api/events?project=${encodeURIComponent(project)}` : "/api/events");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        void queryClient.invalidateQueries();
      }, COALESCE_MS);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, refresh);
    return () => {
      clearTimeout(timer);
      source.close();
    };
  }, [project, queryClient]);
}
