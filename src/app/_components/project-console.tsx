"use client";

import { useState } from "react";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { PageHeader } from "@/components/page-header";
import { relativeTime } from "@/lib/time";
import type { DashboardProject } from "@/server/schemas/dashboard";
import { Compose } from "./compose";
import { MailList } from "./mail-list";
import { StatusBadge } from "./status-badge";
import { useTRPC } from "./trpc-provider";
import { useLiveEvents } from "./use-live-events";

const TABS = [
  { id: "overview", label: "Overview" },
  { id: "mail", label: "Mail" },
  { id: "write", label: "Write" },
] as const;
type Tab = (typeof TABS)[number]["id"];

function agentHref(project: string, agent: string) {
  return `/mail/${encodeURIComponent(project)}/${encodeURIComponent(agent)}`;
}

function Section({ title, description, children, ...props }: { title: string; description?: string; children: React.ReactNode } & React.ComponentProps<"section">) {
  return (
    <Card>
      <CardHeader>
        <CardTitle>{title}</CardTitle>
        {description ? <CardDescription>{description}</CardDescription> : null}
      </CardHeader>
      <CardContent>
        <section aria-label={title} {...props}>
          {children}
        </section>
      </CardContent>
    </Card>
  );
}

function Agents({ project, data }: { project: string; data: DashboardProject }) {
  if (data.agents.length === 0) return <p className="text-sm text-muted-foreground">No agents registered.</p>;
  return (
    <Table>
      <TableHeader>
        <TableRow>
          <TableHead>Agent</TableHead>
          <TableHead>Status</TableHead>
          <TableHead>Working on</TableHead>
          <TableHead>Unread</TableHead>
          <TableHead>Acks overdue</TableHead>
          <TableHead>Last active</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {data.agents.map((agent) => (
          <TableRow key={agent.id} data-testid="console-agent-row">
            <TableCell className="font-medium">
              <Link className="text-primary underline-offset-4 hover:underline" href={agentHref(project, agent.name)} data-nav-row>
                {agent.name}
              </Link>
              <div className="text-xs text-muted-foreground">
                {agent.program} · {agent.model}
              </div>
            </TableCell>
            <TableCell>
              <StatusBadge status={agent.status} />
            </TableCell>
            <TableCell className="max-w-xs truncate text-muted-foreground">{agent.task_description}</TableCell>
            <TableCell>
              <Badge variant={agent.unread > 0 ? "default" : "secondary"}>{agent.unread}</Badge>
            </TableCell>
            <TableCell>
              <Badge variant={agent.ack_overdue > 0 ? "destructive" : "secondary"}>{agent.ack_overdue}</Badge>
            </TableCell>
            <TableCell className="text-muted-foreground" title={agent.last_active_ts}>
              {relativeTime(agent.last_active_ts)}
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

/** Who holds which pattern; an admin can release any of them (the holder hears from HumanOverseer). */
function ReservationsBoard({ project, data }: { project: string; data: DashboardProject }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState<number | null>(null);
  const release = useMutation(
    trpc.dashboard.forceRelease.mutationOptions({
      onSuccess: () => setConfirming(null),
      onSettled: () => void queryClient.invalidateQueries(),
    }),
  );
  if (data.reservations.length === 0) return <p className="text-sm text-muted-foreground" data-testid="reservations-empty">No active file reservations.</p>;
  return (
    <>
      {release.isError ? (
        <p role="alert" className="mb-2 text-sm text-destructive">
          {release.error.message}
        </p>
      ) : null}
      <Table>
        <TableHeader>
          <TableRow>
            <TableHead>Pattern</TableHead>
            <TableHead>Holder</TableHead>
            <TableHead>Kind</TableHead>
            <TableHead>Expires</TableHead>
            <TableHead>State</TableHead>
            <TableHead>
              <span className="sr-only">Actions</span>
            </TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {data.reservations.map((row) => (
            <TableRow key={row.id} data-testid="reservation-row">
              <TableCell>
                <code>{row.path_pattern}</code>
                {row.reason ? <div className="text-xs text-muted-foreground">{row.reason}</div> : null}
              </TableCell>
              <TableCell>
                <Link className="text-primary underline-offset-4 hover:underline" href={agentHref(project, row.agent)}>
                  {row.agent}
                </Link>
              </TableCell>
              <TableCell>{row.exclusive ? "exclusive" : "shared"}</TableCell>
              <TableCell className="text-muted-foreground" title={row.expires_ts}>
                {relativeTime(row.expires_ts)}
              </TableCell>
              <TableCell>
                {row.stale ? (
                  <Badge variant="destructive" title={row.stale_reasons.join(", ")}>
                    stale
                  </Badge>
                ) : (
                  <Badge variant="secondary">active</Badge>
                )}
              </TableCell>
              <TableCell>
                {confirming === row.id ? (
                  <span className="flex gap-1">
                    <Button
                      size="sm"
                      variant="destructive"
                      disabled={release.isPending}
                      onClick={() => release.mutate({ project_key: project, file_reservation_id: row.id })}
                    >
                      Confirm release
                    </Button>
                    <Button size="sm" variant="ghost" onClick={() => setConfirming(null)}>
                      Cancel
                    </Button>
                  </span>
                ) : (
                  <Button size="sm" variant="outline" onClick={() => setConfirming(row.id)} aria-label={`Force-release ${row.path_pattern} held by ${row.agent}`}>
                    Force-release
                  </Button>
                )}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </>
  );
}

function BuildSlots({ data }: { data: DashboardProject }) {
  if (data.build_slots.length === 0) return <p className="text-sm text-muted-foreground">No build slot held.</p>;
  return (
    <Table>
      <TableHeader>
        <TableRow>
          <TableHead>Slot</TableHead>
          <TableHead>Holder</TableHead>
          <TableHead>Branch</TableHead>
          <TableHead>Kind</TableHead>
          <TableHead>Expires</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {data.build_slots.map((slot) => (
          <TableRow key={slot.id} data-testid="build-slot-row">
            <TableCell>
              <code>{slot.slot}</code>
            </TableCell>
            <TableCell>{slot.agent}</TableCell>
            <TableCell>{slot.branch || "—"}</TableCell>
            <TableCell>{slot.exclusive ? "exclusive" : "shared"}</TableCell>
            <TableCell className="text-muted-foreground">{relativeTime(slot.expires_ts)}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

function Contacts({ data }: { data: DashboardProject }) {
  const policies = data.agents.filter((agent) => agent.status !== "retired");
  return (
    <div className="grid gap-4">
      {data.contacts.length === 0 ? (
        <p className="text-sm text-muted-foreground">No contact links.</p>
      ) : (
        <Table>
          <TableHeader>
            <TableRow>
              <TableHead>From</TableHead>
              <TableHead>To</TableHead>
              <TableHead>Status</TableHead>
              <TableHead>Updated</TableHead>
            </TableRow>
          </TableHeader>
          <TableBody>
            {data.contacts.map((link) => (
              <TableRow key={`${link.from}→${link.to}`} data-testid="contact-row">
                <TableCell>{link.from}</TableCell>
                <TableCell>{link.to}</TableCell>
                <TableCell>
                  <Badge variant={link.status === "approved" ? "default" : "outline"}>{link.status}</Badge>
                </TableCell>
                <TableCell className="text-muted-foreground">{relativeTime(link.updated_ts)}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {policies.length > 0 ? (
        <p className="text-sm text-muted-foreground" data-testid="contact-policies">
          Policies: {policies.map((agent) => `${agent.name} ${agent.contact_policy}`).join(" · ")}
        </p>
      ) : null}
    </div>
  );
}

/** One project's console: who is working on what, what they hold, its mail, and writing to its agents. */
export function ProjectConsole({ project }: { project: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const params = useSearchParams();
  const tab: Tab = TABS.find((item) => item.id === params.get("tab"))?.id ?? "overview";
  useLiveEvents(project);
  const details = useQuery(trpc.dashboard.project.queryOptions({ project_key: project }));
  const data = details.data;

  return (
    <div className="grid gap-6">
      <PageHeader title={project} data-testid="project-title">
        <p className="font-mono text-sm text-muted-foreground">{data?.project.human_key ?? ""}</p>
        <p className="mt-1 flex gap-4 text-sm">
          <Link className="text-primary underline-offset-4 hover:underline" href={`/search?project=${encodeURIComponent(project)}`}>
            Search this project
          </Link>
          <Link className="text-primary underline-offset-4 hover:underline" href={`/archive/${encodeURIComponent(project)}`}>
            Archive history
          </Link>
        </p>
      </PageHeader>
      <div className="flex gap-2" role="tablist" aria-label="Project views">
        {TABS.map((item) => (
          <Button
            key={item.id}
            role="tab"
            aria-selected={tab === item.id}
            variant={tab === item.id ? "default" : "outline"}
            size="sm"
            onClick={() => router.replace(item.id === "overview" ? "?" : `?tab=${item.id}`, { scroll: false })}
          >
            {item.label}
          </Button>
        ))}
      </div>
      {tab === "mail" ? (
        <MailList project={project} />
      ) : tab === "write" ? (
        <Compose project={project} />
      ) : details.isPending ? (
        <p className="text-sm text-muted-foreground">Loading project…</p>
      ) : details.isError ? (
        <p role="alert" className="text-sm text-destructive">
          {details.error.message}
        </p>
      ) : (
        <div className="grid gap-6">
          <Section title="Agents" description={`Active: acted in the last ${data!.active_window_minutes} minutes. Acks overdue: pending over ${data!.ack_overdue_minutes} minutes.`}>
            <Agents project={project} data={data!} />
          </Section>
          <Section title="File reservations" data-testid="reservations-board">
            <ReservationsBoard project={project} data={data!} />
          </Section>
          <div className="grid gap-6 lg:grid-cols-2">
            <Section title="Build slots">
              <BuildSlots data={data!} />
            </Section>
            <Section title="Contacts">
              <Contacts data={data!} />
            </Section>
          </div>
        </div>
      )}
    </div>
  );
}
