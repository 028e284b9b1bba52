"use client";

import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { relativeTime } from "@/lib/time";
import { ACTIVE_WINDOW_MINUTES } from "@/lib/dashboard";
import { OVERSEER_NAME } from "@/lib/overseer";
import { StatusBadge } from "./status-badge";
import { useTRPC } from "./trpc-provider";

function agentStatus(agent: { retired_at?: string; last_active_ts: string }): "active" | "idle" | "retired" {
  if (agent.retired_at) return "retired";
  return Date.now() - Date.parse(agent.last_active_ts) <= ACTIVE_WINDOW_MINUTES * 60_000 ? "active" : "idle";
}

function Stat({ label, value, alert }: { label: string; value: number; alert?: boolean }) {
  return (
    <div className="rounded-md border px-3 py-2" data-testid={`stat-${label.toLowerCase().replace(/\s+/g, "-")}`}>
      <div className={alert && value > 0 ? "text-lg font-semibold text-destructive" : "text-lg font-semibold"}>{value}</div>
      <div className="text-xs text-muted-foreground">{label}</div>
    </div>
  );
}

/** Every project at a glance: who is active, what waits, what is held. Live through the page's event stream. */
export function ProjectsOverview() {
  const trpc = useTRPC();
  const overview = useQuery(trpc.projects.overview.queryOptions());

  if (overview.isPending) return <p className="text-muted-foreground">Loading projects…</p>;
  if (overview.isError) {
    return (
      <p role="alert" className="text-destructive">
        Could not load projects: {overview.error.message}
      </p>
    );
  }
  if (overview.data.length === 0) {
    return (
      <Card>
        <CardContent>
          <p className="text-muted-foreground">
            No projects yet. An agent creates one with <code>ensure_project</code> through the MCP endpoint at <code>/api/mcp</code>.
          </p>
        </CardContent>
      </Card>
    );
  }
  return (
    <div className="grid gap-6">
      {overview.data.map((project) => {
        const statuses = project.agents.map(agentStatus);
        // The human is not one of the fleet: HumanOverseer is left out of the agents' counts.
        const count = (status: string) => statuses.filter((item, index) => item === status && project.agents[index]!.name !== OVERSEER_NAME).length;
        const unread = project.agents.reduce((sum, agent) => sum + agent.unread_count, 0);
        return (
          <Card key={project.id} data-testid="project-card" data-project-slug={project.slug}>
            <CardHeader>
              <CardTitle>
                <Link className="text-primary underline-offset-4 hover:underline" href={`/projects/${encodeURIComponent(project.slug)}`} data-nav-row>
                  {project.slug}
                </Link>
              </CardTitle>
              <CardDescription className="font-mono">{project.human_key}</CardDescription>
            </CardHeader>
            <CardContent className="grid gap-4">
              <div className="grid grid-cols-3 gap-2 sm:grid-cols-6">
                <Stat label="Active" value={count("active")} />
                <Stat label="Idle" value={count("idle")} />
                <Stat label="Retired" value={count("retired")} />
                <Stat label="Unread" value={unread} />
                <Stat label="Acks overdue" value={project.ack_overdue} alert />
                <Stat label="Reservations" value={project.active_reservations} />
              </div>
              {project.active_build_slots > 0 ? (
                <p className="text-sm text-muted-foreground">
                  {project.active_build_slots} build slot{project.active_build_slots === 1 ? "" : "s"} held.
                </p>
              ) : null}
              {project.agents.length === 0 ? (
                <p className="text-sm text-muted-foreground">No agents registered.</p>
              ) : (
                <Table>
                  <TableHeader>
                    <TableRow>
                      <TableHead>Agent</TableHead>
                      <TableHead>Status</TableHead>
                      <TableHead className="hidden sm:table-cell">Program</TableHead>
                      <TableHead className="hidden md:table-cell">Task</TableHead>
                      <TableHead>Unread</TableHead>
                      <TableHead>Last active</TableHead>
                    </TableRow>
                  </TableHeader>
                  <TableBody>
                    {project.agents.map((agent, index) => (
                      <TableRow key={agent.id} data-testid="agent-row">
                        <TableCell className="font-medium" data-testid="agent-name">
                          <Link
                            className="text-primary underline-offset-4 hover:underline"
                            href={`/mail/${encodeURIComponent(project.slug)}/${encodeURIComponent(agent.name)}`}
                          >
                            {agent.name}
                          </Link>
                          {agent.retired_at ? (
                            <Badge variant="outline" className="ml-2">
                              retired
                            </Badge>
                          ) : null}
                        </TableCell>
                        <TableCell>
                          <StatusBadge status={statuses[index]!} />
                        </TableCell>
                        <TableCell className="hidden sm:table-cell">
                          {agent.program} · {agent.model}
                        </TableCell>
                        <TableCell className="hidden max-w-xs truncate text-muted-foreground md:table-cell">{agent.task_description}</TableCell>
                        <TableCell>
                          <Badge variant={agent.unread_count > 0 ? "default" : "secondary"}>{agent.unread_count}</Badge>
                        </TableCell>
                        <TableCell className="text-muted-foreground" title={agent.last_active_ts}>
                          {relativeTime(agent.last_active_ts)}
                        </TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              )}
            </CardContent>
          </Card>
        );
      })}
    </div>
  );
}

/** The latest mail across every project, newest first; live with the page. */
export function ActivityFeed() {
  const trpc = useTRPC();
  const recent = useQuery(trpc.dashboard.mail.queryOptions({ limit: 15 }));
  return (
    <Card>
      <CardHeader>
        <CardTitle>Recent activity</CardTitle>
        <CardDescription>
          <Link className="text-primary underline-offset-4 hover:underline" href="/inbox">
            All mail →
          </Link>
        </CardDescription>
      </CardHeader>
      <CardContent>
        {recent.isPending ? (
          <p className="text-sm text-muted-foreground">Loading activity…</p>
        ) : recent.isError ? (
          <p role="alert" className="text-sm text-destructive">
            {recent.error.message}
          </p>
        ) : recent.data.messages.length === 0 ? (
          <p className="text-sm text-muted-foreground">No mail yet.</p>
        ) : (
          <ol className="grid gap-3" data-testid="activity-feed">
            {recent.data.messages.map((message) => (
              <li key={message.id} className="text-sm" data-testid="activity-item">
                <Link
                  className="font-medium text-primary underline-offset-4 hover:underline"
                  href={`/projects/${encodeURIComponent(message.project)}?tab=mail&message=${message.id}`}
                >
                  {message.subject || "(no subject)"}
                </Link>
                <div className="text-xs text-muted-foreground">
                  {message.from} → {message.recipients.map((recipient) => recipient.agent).join(", ")} · {message.project} · {relativeTime(message.created_ts)}
                </div>
              </li>
            ))}
          </ol>
        )}
      </CardContent>
    </Card>
  );
}
