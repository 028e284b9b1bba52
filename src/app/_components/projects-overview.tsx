"use client";

import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useTRPC } from "./trpc-provider";

function relativeTime(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

export function ProjectsOverview() {
  const trpc = useTRPC();
  const overview = useQuery({ ...trpc.projects.overview.queryOptions(), refetchInterval: 10_000 });

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
      {overview.data.map((project) => (
        <Card key={project.id} data-testid="project-card" data-project-slug={project.slug}>
          <CardHeader>
            <CardTitle>{project.slug}</CardTitle>
            <CardDescription className="font-mono">{project.human_key}</CardDescription>
          </CardHeader>
          <CardContent>
            {project.agents.length === 0 ? (
              <p className="text-sm text-muted-foreground">No agents registered.</p>
            ) : (
              <Table>
                <TableHeader>
                  <TableRow>
                    <TableHead>Agent</TableHead>
                    <TableHead>Program</TableHead>
                    <TableHead>Model</TableHead>
                    <TableHead>Task</TableHead>
                    <TableHead>Unread</TableHead>
                    <TableHead>Last active</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {project.agents.map((agent) => (
                    <TableRow key={agent.id} data-testid="agent-row">
                      <TableCell className="font-medium" data-testid="agent-name">
                        <Link
                          className="text-primary underline-offset-4 hover:underline"
                          href={`/mail/${encodeURIComponent(project.slug)}/${encodeURIComponent(agent.name)}`}
                        >
                          {agent.name}
                        </Link>
                        {agent.retired_at ? <Badge variant="outline" className="ml-2">retired</Badge> : null}
                      </TableCell>
                      <TableCell>{agent.program}</TableCell>
                      <TableCell>{agent.model}</TableCell>
                      <TableCell className="max-w-xs truncate text-muted-foreground">{agent.task_description}</TableCell>
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
      ))}
    </div>
  );
}
