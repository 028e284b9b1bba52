"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { relativeTime } from "@/lib/time";
import { StatusBadge } from "./status-badge";
import { useTRPC } from "./trpc-provider";

/** An agent's profile, what it holds (reservations, build slots), and retire / unretire for admins. */
export function AgentProfile({ project, agent }: { project: string; agent: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const details = useQuery(trpc.dashboard.project.queryOptions({ project_key: project }));
  const onSettled = () => void queryClient.invalidateQueries();
  const retire = useMutation(trpc.lifecycle.retireAgent.mutationOptions({ onSettled }));
  const unretire = useMutation(trpc.lifecycle.unretireAgent.mutationOptions({ onSettled }));
  if (details.isPending) return <p className="text-sm text-muted-foreground">Loading profile…</p>;
  if (details.isError) return <p className="text-sm text-destructive">{details.error.message}</p>;
  const profile = details.data.agents.find((item) => item.name.toLowerCase() === agent.toLowerCase());
  if (!profile) return null;
  const reservations = details.data.reservations.filter((row) => row.agent === profile.name);
  const slots = details.data.build_slots.filter((row) => row.agent === profile.name);
  const action = profile.status === "retired" ? unretire : retire;
  const error = retire.error ?? unretire.error;
  return (
    <Card data-testid="agent-profile">
      <CardHeader>
        <div className="flex flex-wrap items-center justify-between gap-2">
          <CardTitle className="flex items-center gap-2">
            Profile <StatusBadge status={profile.status} />
          </CardTitle>
          <Button size="sm" variant="outline" disabled={action.isPending} onClick={() => action.mutate({ project_key: project, agent_name: profile.name })}>
            {profile.status === "retired" ? "Unretire" : "Retire"}
          </Button>
        </div>
        <CardDescription>
          {profile.program} · {profile.model} · contact policy {profile.contact_policy} · registered {relativeTime(profile.inception_ts)} · last active{" "}
          {relativeTime(profile.last_active_ts)}
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-2 text-sm">
        {error ? (
          <p role="alert" className="text-destructive">
            {error.message}
          </p>
        ) : null}
        {profile.task_description ? <p>{profile.task_description}</p> : null}
        <p>
          <Badge variant={profile.unread > 0 ? "default" : "secondary"}>{profile.unread} unread</Badge>{" "}
          <Badge variant={profile.ack_overdue > 0 ? "destructive" : "secondary"}>{profile.ack_overdue} acks overdue</Badge>
        </p>
        <div data-testid="agent-reservations">
          {reservations.length === 0 ? (
            <p className="text-muted-foreground">Holds no file reservation.</p>
          ) : (
            <ul className="grid gap-1">
              {reservations.map((row) => (
                <li key={row.id}>
                  <code>{row.path_pattern}</code> {row.exclusive ? "exclusive" : "shared"}, expires {relativeTime(row.expires_ts)}
                  {row.stale ? <Badge variant="destructive" className="ml-2">stale</Badge> : null}
                </li>
              ))}
            </ul>
          )}
        </div>
        {slots.length > 0 ? (
          <ul className="grid gap-1">
            {slots.map((slot) => (
              <li key={slot.id}>
                Build slot <code>{slot.slot}</code>
                {slot.branch ? ` on ${slot.branch}` : ""}, expires {relativeTime(slot.expires_ts)}
              </li>
            ))}
          </ul>
        ) : null}
      </CardContent>
    </Card>
  );
}
