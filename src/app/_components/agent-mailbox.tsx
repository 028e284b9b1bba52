"use client";

import { useState } from "react";
import { useRouter, useSearchParams } from "next/navigation";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Textarea } from "@/components/ui/input";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { MarkdownBody } from "@/components/markdown";
import { PageHeader } from "@/components/page-header";
import { cn } from "@/lib/utils";
import { OVERSEER_NAME } from "@/lib/overseer";
import { useTRPC } from "./trpc-provider";
import { useLiveMail } from "./use-live-mail";

type Tab = "inbox" | "outbox";


function importanceVariant(importance: string) {
  return importance === "urgent" || importance === "high" ? "destructive" : "secondary";
}

/** The whole conversation a message belongs to, oldest first, each body rendered. */
function ThreadView({ project, threadId, current }: { project: string; threadId: string; current: number }) {
  const trpc = useTRPC();
  const thread = useQuery(trpc.messages.thread.queryOptions({ project_key: project, thread_id: threadId }));
  if (thread.isPending) return <p className="text-sm text-muted-foreground">Loading thread…</p>;
  if (thread.isError) return <p className="text-sm text-destructive">{thread.error.message}</p>;
  return (
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
  );
}

function MessageDetail({ project, messageId, openThread }: { project: string; messageId: number; openThread: boolean }) {
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
        <CardTitle>{m.subject || "(no subject)"}</CardTitle>
        <CardDescription>
          {m.from} → {[...m.to, ...m.cc.map((name) => `cc ${name}`), ...m.bcc.map((name) => `bcc ${name}`)].join(", ")} ·{" "}
          {new Date(m.created_ts).toLocaleString()}
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
      <CardContent>
        {showThread && m.thread_id ? (
          <ThreadView project={project} threadId={m.thread_id} current={m.id} />
        ) : (
          /* Rendered Markdown; raw HTML in it is shown as text, never run (bodies are written by agents). */
          <MarkdownBody text={m.body_md ?? ""} data-testid="message-body" />
        )}
        {m.from !== OVERSEER_NAME && !replying ? (
          <Button className="mt-4" size="sm" variant="outline" onClick={() => setReplying(true)}>
            Reply as {OVERSEER_NAME}
          </Button>
        ) : null}
        {replying ? (
          <div className="mt-4">
            <Compose project={project} agent={m.from} threadId={m.thread_id ?? String(m.id)} initialSubject={m.subject.startsWith("Re:") ? m.subject : `Re: ${m.subject}`} />
          </div>
        ) : null}
      </CardContent>
    </Card>
  );
}

interface ComposeProps {
  project: string;
  agent: string;
  /** A reply: the thread it continues, and its subject. */
  threadId?: string;
  initialSubject?: string;
}

function Compose({ project, agent, threadId, initialSubject = "" }: ComposeProps) {
  const trpc = useTRPC();
  const [subject, setSubject] = useState(initialSubject);
  const [body, setBody] = useState("");
  const send = useMutation(
    trpc.messages.overseerSend.mutationOptions({
      onSuccess: () => {
        setSubject("");
        setBody("");
      },
    }),
  );
  return (
    <Card>
      <CardHeader>
        <CardTitle>{threadId ? `Reply to ${agent}` : `Write to ${agent}`}</CardTitle>
        <CardDescription>Sent as HumanOverseer with high importance.</CardDescription>
      </CardHeader>
      <CardContent>
        <form
          className="grid gap-3"
          onSubmit={(event) => {
            event.preventDefault();
            send.mutate({ project_key: project, recipients: [agent], subject, body_md: body, thread_id: threadId });
          }}
        >
          <Input aria-label="Subject" placeholder="Subject" value={subject} onChange={(e) => setSubject(e.target.value)} required maxLength={200} />
          <Textarea aria-label="Message" placeholder="Markdown message" value={body} onChange={(e) => setBody(e.target.value)} required />
          <div className="flex items-center gap-3">
            <Button type="submit" disabled={send.isPending}>
              {send.isPending ? "Sending…" : "Send"}
            </Button>
            {send.isSuccess ? <span className="text-sm text-muted-foreground">Sent (message {send.data.message_id}).</span> : null}
            {send.isError ? <span className="text-sm text-destructive">{send.error.message}</span> : null}
          </div>
        </form>
      </CardContent>
    </Card>
  );
}

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
  useLiveMail(project);
  const input = { project_key: project, agent_name: agent, limit: 50 };
  const inbox = useQuery({ ...trpc.messages.inbox.queryOptions(input), enabled: tab === "inbox" });
  const outbox = useQuery({ ...trpc.messages.outbox.queryOptions(input), enabled: tab === "outbox" });
  const current = tab === "inbox" ? inbox : outbox;
  const agentMissing = current.isError && current.error.data?.code === "NOT_FOUND";

  return (
    <div className="grid gap-6">
      <PageHeader title={agent} data-testid="mailbox-title">
        <p className="text-sm text-muted-foreground">Project {project}</p>
      </PageHeader>
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
          {selected !== null ? <MessageDetail key={selected} project={project} messageId={selected} openThread={params.get("thread") === "1"} /> : null}
          {/* No compose form for an agent that does not exist, nor to the overseer itself (replies are per message). */}
          {agentMissing || agent === OVERSEER_NAME ? null : <Compose project={project} agent={agent} />}
        </div>
      </div>
    </div>
  );
}
