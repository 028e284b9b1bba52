"use client";

import { useEffect } from "react";
import { useQueryClient } from "@tanstack/react-query";

/** Refetches the dashboard's queries whenever the project's event stream reports new mail, a read or an ack. */
export function useLiveMail(project: string) {
  const queryClient = useQueryClient();
  useEffect(() => {
    const source = new EventSource(`/api/events?project=${encodeURIComponent(project)}`);
    const refresh = () => void queryClient.invalidateQueries();
    for (const type of ["message", "read", "ack"]) source.addEventListener(type, refresh);
    return () => source.close();
  }, [project, queryClient]);
}
