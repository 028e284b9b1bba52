"use client";

import { useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Textarea } from "@/components/ui/input";
import { OVERSEER_NAME } from "@/lib/overseer";
import { useTRPC } from "./trpc-provider";

interface ComposeProps {
  project: string;
  /** Fixed recipients (a reply, one agent's page); omitted, the overseer picks agents or the whole project. */
  to?: string[];
  /** A reply: the thread it continues, and its subject. */
  threadId?: string;
  initialSubject?: string;
}

/** The project's agents the overseer may write to: everyone but itself and the retired. */
function useRecipients(project: string, enabled: boolean) {
  const trpc = useTRPC();
  const details = useQuery({ ...trpc.dashboard.project.queryOptions({ project_key: project }), enabled });
  return (details.data?.agents ?? []).filter((agent) => agent.name !== OVERSEER_NAME && agent.status !== "retired").map((agent) => agent.name);
}

/** Writes as HumanOverseer: high importance and the overseer preamble are added by overseer_send. */
export function Compose({ project, to, threadId, initialSubject = "" }: ComposeProps) {
  const trpc = useTRPC();
  const candidates = useRecipients(project, to === undefined);
  const [picked, setPicked] = useState<string[]>([]);
  const [broadcast, setBroadcast] = useState(false);
  const [subject, setSubject] = useState(initialSubject);
  const [body, setBody] = useState("");
  const send = useMutation(
    trpc.messages.overseerSend.mutationOptions({
      onSuccess: () => {
        setSubject(initialSubject);
        setBody("");
      },
    }),
  );
  const recipients = to ?? (broadcast ? candidates : picked);
  const title = threadId ? `Reply to ${recipients.join(", ")}` : to ? `Write to ${to.join(", ")}` : "Write to agents";
  return (
    <Card data-testid="compose">
      <CardHeader>
        <CardTitle>{title}</CardTitle>
        <CardDescription>Sent as {OVERSEER_NAME} with high importance.</CardDescription>
      </CardHeader>
      <CardContent>
        <form
          className="grid gap-3"
          onSubmit={(event) => {
            event.preventDefault();
            if (recipients.length === 0) return;
            send.mutate({ project_key: project, recipients, subject, body_md: body, thread_id: threadId });
          }}
        >
          {to === undefined ? (
            <fieldset className="grid gap-2">
              <legend className="mb-1 text-sm font-medium">Recipients</legend>
              <label className="flex items-center gap-2 text-sm">
                <input type="checkbox" checked={broadcast} onChange={(event) => setBroadcast(event.target.checked)} />
                Every active agent of {project} (broadcast)
              </label>
              {broadcast ? null : candidates.length === 0 ? (
                <p className="text-sm text-muted-foreground">No agent to write to yet.</p>
              ) : (
                <div className="flex flex-wrap gap-x-4 gap-y-1">
                  {candidates.map((name) => (
                    <label key={name} className="flex items-center gap-1 text-sm">
                      <input
                        type="checkbox"
                        checked={picked.includes(name)}
                        onChange={(event) => setPicked(event.target.checked ? [...picked, name] : picked.filter((item) => item !== name))}
                      />
                      {name}
                    </label>
                  ))}
                </div>
              )}
            </fieldset>
          ) : null}
          <Input aria-label="Subject" placeholder="Subject" value={subject} onChange={(e) => setSubject(e.target.value)} required maxLength={200} />
          <Textarea aria-label="Message" placeholder="Markdown message" value={body} onChange={(e) => setBody(e.target.value)} required maxLength={50_000} />
          <div className="flex items-center gap-3">
            <Button type="submit" disabled={send.isPending || recipients.length === 0}>
              {send.isPending ? "Sending…" : recipients.length > 1 ? `Send to ${recipients.length} agents` : "Send"}
            </Button>
            {send.isSuccess ? (
              <span className="text-sm text-muted-foreground" role="status">
                Sent (message {send.data.message_id}) to {send.data.recipients.join(", ")}.
              </span>
            ) : null}
            {send.isError ? (
              <span className="text-sm text-destructive" role="alert">
                {send.error.message}
              </span>
            ) : null}
          </div>
        </form>
      </CardContent>
    </Card>
  );
}
