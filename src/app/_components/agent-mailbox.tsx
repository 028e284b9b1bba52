"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { PageHeader } from "@/components/page-header";
import { cn } from "@/lib/utils";
import { OVERSEER_NAME } from "@/lib/overseer";
import { AgentProfile } from "./agent-profile";
import { Compose } from "./compose";
import { importanceVariant, MessageDetail } from "./message-view";
import { useTRPC } from "./trpc-provider";
import { useLiveEvents } from "./use-live-events";

type Tab = "inbox" | "outbox";


export function AgentMailbox({ project, agent }: { project: string; agent: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const params = useSearchParams();
  // The tab and the open message live in the URL, so a link or a reload comes back to them.
  const tab: Tab = params.get("tab") === "sent" ? "outbox" : "inbox";
  const selectedParam = Number(params.get("message"));
  const selected = Number.isSafeInteger(selectedParam) && selectedParam > 0 ? selectedParam : null;
  const show = (next: { tab?: Tab; message?: number | null }) => {
    const query = new URLSearchParams();
    if ((next.tab ?? tab) === "outbox") query.set("tab", "sent");
    const message = next.message === undefined ? selected : next.message;
    if (message !== null) query.set("message", String(message));
    router.replace(`?${query}`, { scroll: false });
  };
  const setSelected = (message: number | null) => show({ message });
  useLiveEvents(project);
  const input = { project_key: project, agent_name: agent, limit: 50 };
  const inbox = useQuery({ ...trpc.messages.inbox.queryOptions(input), enabled: tab === "inbox" });
  const outbox = useQuery({ ...trpc.messages.outbox.queryOptions(input), enabled: tab === "outbox" });
  const current = tab === "inbox" ? inbox : outbox;
  const agentMissing = current.isError && current.error.data?.code === "NOT_FOUND";

  return (
    <div className="grid gap-6">
      <PageHeader title={agent} data-testid="mailbox-title">
        <p className="text-sm text-muted-foreground">
          Project{" "}
          <a className="text-primary underline underline-offset-4" href={`/projects/${encodeURIComponent(project)}`}>
            {project}
          </a>
        </p>
      </PageHeader>
      {agentMissing ? null : <AgentProfile project={project} agent={agent} />}
      <div className="flex gap-2" role="tablist">
        {(["inbox", "outbox"] as const).map((name) => (
          <Button
            key={name}
            role="tab"
            aria-selected={tab === name}
            variant={tab === name ? "default" : "outline"}
            size="sm"
            onClick={() => {
              // The open message belongs to the list it was opened from.
              if (tab !== name) show({ tab: name, message: null });
            }}
          >
            {name === "inbox" ? "Inbox" : "Sent"}
          </Button>
        ))}
      </div>
      <div className="grid gap-6 lg:grid-cols-2">
        <Card>
          <CardContent>
            {current.isPending ? (
              <p className="text-sm text-muted-foreground">Loading…</p>
            ) : current.isError ? (
              <p role="alert" className="text-sm text-destructive">
                {current.error.message}
              </p>
            ) : current.data.messages.length === 0 ? (
              <p className="text-sm text-muted-foreground">No messages.</p>
            ) : (
              <Table>
                <TableHeader>
                  <TableRow>
                    <TableHead>{tab === "inbox" ? "From" : "To"}</TableHead>
                    <TableHead>Subject</TableHead>
                    <TableHead>When</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {current.data.messages.map((message) => {
                    const unread = "read_at" in message && !message.read_at;
                    return (
                      <TableRow
                        key={message.id}
                        data-testid="mail-row"
                        data-nav-row
                        className={cn("cursor-pointer focus-visible:outline-2 focus-visible:outline-primary", selected === message.id && "bg-muted")}
                        tabIndex={0}
                        aria-selected={selected === message.id}
                        onClick={() => setSelected(message.id)}
                        onKeyDown={(event) => {
                          if (event.key === "Enter" || event.key === " ") {
                            event.preventDefault();
                            setSelected(message.id);
                          }
                        }}
                      >
                        <TableCell className={cn(unread && "font-semibold")}>
                          {"to" in message ? message.to.join(", ") : message.from}
                        </TableCell>
                        <TableCell className={cn(unread && "font-semibold")}>
                          {message.subject || "(no subject)"}{" "}
                          {message.importance !== "normal" ? <Badge variant={importanceVariant(message.importance)}>{message.importance}</Badge> : null}
                          {message.ack_required ? <Badge variant="outline" className="ml-1">ack</Badge> : null}
                        </TableCell>
                        <TableCell className="text-muted-foreground">{new Date(message.created_ts).toLocaleString()}</TableCell>
                      </TableRow>
                    );
                  })}
                </TableBody>
              </Table>
            )}
          </CardContent>
        </Card>
        <div className="grid content-start gap-6">
          {selected !== null ? <MessageDetail key={selected} project={project} messageId={selected} openThread={params.get("thread") === "1"} onClose={() => setSelected(null)} /> : null}
          {/* No compose form for an agent that does not exist, nor to the overseer itself (replies are per message). */}
          {agentMissing || agent === OVERSEER_NAME ? null : <Compose project={project} to={[agent]} />}
        </div>
      </div>
    </div>
  );
}
