"use client";

import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { MarkdownBody } from "@/components/markdown";
import { cn } from "@/lib/utils";
import { OVERSEER_NAME } from "@/lib/overseer";
import { Compose } from "./compose";
import { useTRPC } from "./trpc-provider";

export function importanceVariant(importance: string) {
  return importance === "urgent" || importance === "high" ? "destructive" : "secondary";
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The whole conversation a message belongs to, oldest first, each body rendered. */
function ThreadView({ project, threadId, current }: { project: string; threadId: string; current: number }) {
  const trpc = useTRPC();
  const thread = useQuery(trpc.messages.thread.queryOptions({ project_key: project, thread_id: threadId }));
  if (thread.isPending) return <p className="text-sm text-muted-foreground">Loading thread…</p>;
  if (thread.isError) return <p className="text-sm text-destructive">{thread.error.message}</p>;
  const summary = thread.data.summary;
  return (
    <div className="grid gap-4">
      <section aria-label="Thread summary" data-testid="thread-summary" className="rounded-md border bg-muted p-3 text-sm">
        <p>
          {summary.total_messages} message{summary.total_messages === 1 ? "" : "s"} from {summary.participants.join(", ")}
          {summary.open_actions + summary.done_actions > 0 ? ` · ${summary.done_actions} of ${summary.open_actions + summary.done_actions} tasks done` : ""}
        </p>
        {summary.action_items.length > 0 ? (
          <>
            <h3 className="mt-2 font-medium">Action items</h3>
            <ul className="list-disc pl-5" data-testid="thread-actions">
              {summary.action_items.map((item, index) => (
                <li key={index}>{item}</li>
              ))}
            </ul>
          </>
        ) : null}
        {summary.key_points.length > 0 ? (
          <>
            <h3 className="mt-2 font-medium">Key points</h3>
            <ul className="list-disc pl-5">
              {summary.key_points.map((item, index) => (
                <li key={index}>{item}</li>
              ))}
            </ul>
          </>
        ) : null}
      </section>
      <ol className="grid gap-4" data-testid="thread-view" aria-label={`Thread ${threadId}`}>
        {thread.data.messages.map((message) => (
          <li key={message.id} data-testid="thread-message" className={cn("rounded-md border p-3", message.id === current && "border-primary")}>
            <p className="mb-2 text-xs text-muted-foreground">
              <span className="font-medium text-foreground">{message.from}</span> → {message.to.join(", ")} · {new Date(message.created_ts).toLocaleString()}
              {message.subject ? ` · ${message.subject}` : ""}
            </p>
            <MarkdownBody text={message.body_md ?? ""} />
          </li>
        ))}
      </ol>
    </div>
  );
}

/** Each recipient's delivered / read / acknowledged state. */
function Receipts({ project, messageId, ackRequired }: { project: string; messageId: number; ackRequired: boolean }) {
  const trpc = useTRPC();
  const receipts = useQuery(trpc.dashboard.receipts.queryOptions({ project_key: project, message_id: messageId }));
  if (receipts.isPending) return <p className="text-sm text-muted-foreground">Loading recipients…</p>;
  if (receipts.isError) return <p className="text-sm text-destructive">{receipts.error.message}</p>;
  return (
    <Table data-testid="receipts">
      <TableHeader>
        <TableRow>
          <TableHead>Recipient</TableHead>
          <TableHead>State</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {receipts.data.map((row) => {
          const state = row.ack_at ? "acknowledged" : row.read_at ? "read" : "delivered";
          return (
            <TableRow key={`${row.project}/${row.agent}`} data-testid="receipt-row">
              <TableCell>
                {row.kind === "to" ? "" : `${row.kind} `}
                {row.agent}
                {row.project === project ? "" : <span className="text-muted-foreground"> @{row.project}</span>}
              </TableCell>
              <TableCell>
                <Badge variant={state === "delivered" ? "outline" : "secondary"} data-testid="receipt-state">
                  {state}
                </Badge>{" "}
                <span className="text-xs text-muted-foreground">
                  {row.ack_at ? new Date(row.ack_at).toLocaleString() : row.read_at ? new Date(row.read_at).toLocaleString() : ackRequired ? "ack due" : ""}
                </span>
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}

/**
 * One message as the overseer sees it: headers, the body rendered (or the whole thread), each
 * recipient's state, attachments to download, and a reply as HumanOverseer.
 */
export function MessageDetail({ project, messageId, openThread, onClose }: { project: string; messageId: number; openThread: boolean; onClose?: () => void }) {
  const trpc = useTRPC();
  const [showThread, setShowThread] = useState(openThread);
  const [replying, setReplying] = useState(false);
  const message = useQuery(trpc.messages.get.queryOptions({ project_key: project, message_id: messageId }));
  if (message.isPending) return <p className="text-sm text-muted-foreground">Loading message…</p>;
  if (message.isError) return <p className="text-sm text-destructive">{message.error.message}</p>;
  const m = message.data;
  return (
    <Card data-testid="message-detail">
      <CardHeader>
        <div className="flex items-start justify-between gap-2">
          <CardTitle>{m.subject || "(no subject)"}</CardTitle>
          {onClose ? (
            <Button variant="ghost" size="sm" onClick={onClose} data-close-detail aria-label="Close (Esc)">
              ✕
            </Button>
          ) : null}
        </div>
        <CardDescription>
          {m.from} → {[...m.to, ...m.cc.map((name) => `cc ${name}`), ...m.bcc.map((name) => `bcc ${name}`)].join(", ")} ·{" "}
          {new Date(m.created_ts).toLocaleString()}
          {m.importance !== "normal" ? (
            <>
              {" "}
              <Badge variant={importanceVariant(m.importance)}>{m.importance}</Badge>
            </>
          ) : null}
          {m.thread_id ? (
            <>
              {" · "}
              <Button variant="ghost" size="sm" aria-expanded={showThread} onClick={() => setShowThread(!showThread)}>
                {showThread ? "Hide thread" : `Thread ${m.thread_id}`}
              </Button>
            </>
          ) : null}
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        {showThread && m.thread_id ? (
          <ThreadView project={project} threadId={m.thread_id} current={m.id} />
        ) : (
          /* Rendered Markdown; raw HTML in it is shown as text, never run (bodies are written by agents). */
          <MarkdownBody text={m.body_md ?? ""} data-testid="message-body" />
        )}
        {m.attachments.length > 0 ? (
          <section aria-label="Attachments">
            <h3 className="mb-1 text-sm font-medium">Attachments</h3>
            <ul className="grid gap-1 text-sm" data-testid="attachments">
              {m.attachments.map((file) => (
                <li key={file.sha256}>
                  <a
                    className="text-primary underline underline-offset-4"
                    href={`/api/attachments/${m.id}/${file.sha256}?${new URLSearchParams({ project })}`}
                    download={file.name}
                  >
                    {file.name}
                  </a>{" "}
                  <span className="text-muted-foreground">
                    {file.media_type} · {formatBytes(file.bytes)}
                  </span>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
        <Receipts project={project} messageId={m.id} ackRequired={m.ack_required} />
        {m.from !== OVERSEER_NAME && !replying ? (
          <Button className="justify-self-start" size="sm" variant="outline" onClick={() => setReplying(true)}>
            Reply as {OVERSEER_NAME}
          </Button>
        ) : null}
        {replying ? (
          <Compose project={project} to={[m.from]} threadId={m.thread_id ?? String(m.id)} initialSubject={m.subject.startsWith("Re:") ? m.subject : `Re: ${m.subject}`} />
        ) : null}
      </CardContent>
    </Card>
  );
}
