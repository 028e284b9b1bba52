"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent } from "@/components/ui/card";
import { Pager } from "@/components/pager";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { cn } from "@/lib/utils";
import { relativeTime } from "@/lib/time";
import { importanceVariant, MessageDetail } from "./message-view";
import { useTRPC } from "./trpc-provider";
import { useLiveEvents } from "./use-live-events";

const PAGE = 50;

function positiveInt(value: string | null): number | null {
  const number = Number(value);
  return Number.isSafeInteger(number) && number > 0 ? number : null;
}

/**
 * Every message of one project, or of every project (the unified inbox), newest first and paged
 * on the server, with each recipient's read and ack state; a row opens the message beside the
 * list. The page, the open message and its project live in the URL.
 */
export function MailList({ project }: { project?: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const params = useSearchParams();
  const before = positiveInt(params.get("before"));
  const selected = positiveInt(params.get("message"));
  const selectedProject = project ?? params.get("in");
  useLiveEvents(project);
  const mail = useQuery(trpc.dashboard.mail.queryOptions({ project_key: project, limit: PAGE, before_id: before }));

  const show = (next: { before?: number | null; message?: { id: number; project: string } | null }) => {
    const query = new URLSearchParams(params);
    const set = (key: string, value: string | number | null | undefined) => (value === null || value === undefined ? query.delete(key) : query.set(key, String(value)));
    if (next.before !== undefined) set("before", next.before);
    if (next.message !== undefined) {
      set("message", next.message?.id);
      set("in", project === undefined ? next.message?.project : null);
    }
    router.replace(`?${query}`, { scroll: false });
  };

  return (
    <div className="grid gap-6 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
      <Card>
        <CardContent className="grid gap-3">
          {mail.isPending ? (
            <p className="text-sm text-muted-foreground">Loading mail…</p>
          ) : mail.isError ? (
            <p role="alert" className="text-sm text-destructive">
              {mail.error.message}
            </p>
          ) : mail.data.messages.length === 0 ? (
            <p className="text-sm text-muted-foreground" data-testid="mail-empty">
              {before ? "No older messages." : "No mail yet."}
            </p>
          ) : (
            <Table aria-label="Messages">
              <TableHeader>
                <TableRow>
                  {project === undefined ? <TableHead>Project</TableHead> : null}
                  <TableHead>From → to</TableHead>
                  <TableHead>Subject</TableHead>
                  <TableHead>Read</TableHead>
                  <TableHead>When</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {mail.data.messages.map((message) => {
                  const total = message.recipients.length;
                  const read = message.recipients.filter((recipient) => recipient.read_at).length;
                  const acked = message.recipients.filter((recipient) => recipient.ack_at).length;
                  const open = () => show({ message: { id: message.id, project: message.project } });
                  return (
                    <TableRow
                      key={message.id}
                      data-testid="project-mail-row"
                      data-nav-row
                      tabIndex={0}
                      aria-selected={selected === message.id}
                      className={cn("cursor-pointer", selected === message.id && "bg-muted")}
                      onClick={open}
                      onKeyDown={(event) => {
                        if (event.key === "Enter" || event.key === " ") {
                          event.preventDefault();
                          open();
                        }
                      }}
                    >
                      {project === undefined ? <TableCell className="text-muted-foreground">{message.project}</TableCell> : null}
                      <TableCell>
                        <span className="font-medium">{message.from}</span> → {message.recipients.map((recipient) => recipient.agent).join(", ")}
                      </TableCell>
                      <TableCell>
                        {message.subject || "(no subject)"}{" "}
                        {message.importance !== "normal" ? <Badge variant={importanceVariant(message.importance)}>{message.importance}</Badge> : null}
                        {message.attachments > 0 ? (
                          <Badge variant="outline" className="ml-1">
                            {message.attachments} file{message.attachments === 1 ? "" : "s"}
                          </Badge>
                        ) : null}
                      </TableCell>
                      <TableCell className="whitespace-nowrap text-muted-foreground" data-testid="read-state">
                        {read}/{total}
                        {message.ack_required ? ` · ack ${acked}/${total}` : ""}
                      </TableCell>
                      <TableCell className="whitespace-nowrap text-muted-foreground" title={message.created_ts}>
                        {relativeTime(message.created_ts)}
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          )}
          <Pager
            onNewest={before ? () => show({ before: null }) : undefined}
            onOlder={mail.data?.next_before_id ? () => show({ before: mail.data.next_before_id }) : undefined}
          />
        </CardContent>
      </Card>
      <div className="grid content-start gap-6">
        {selected !== null && selectedProject ? (
          <MessageDetail
            key={`${selectedProject}/${selected}`}
            project={selectedProject}
            messageId={selected}
            openThread={params.get("thread") === "1"}
            onClose={() => show({ message: null })}
          />
        ) : (
          <p className="text-sm text-muted-foreground">Choose a message to read it with its recipients&apos; state.</p>
        )}
      </div>
    </div>
  );
}
