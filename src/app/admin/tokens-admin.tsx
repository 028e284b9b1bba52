"use client";

import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useTRPC } from "../_components/trpc-provider";
import { formatDate, projectList } from "./fields";

const ROLES = ["reader", "writer", "admin"] as const;

export function TokensAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [showRevoked, setShowRevoked] = useState(false);
  const [minted, setMinted] = useState<{ name: string; token: string } | undefined>();
  const tokens = useQuery(trpc.tokens.list.queryOptions({ include_revoked: showRevoked }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.tokens.list.queryKey() });
  const create = useMutation(
    trpc.tokens.create.mutationOptions({
      onSuccess: (result, input) => {
        setMinted({ name: input.name, token: result.token });
        void refresh();
      },
    }),
  );
  const revoke = useMutation(trpc.tokens.revoke.mutationOptions({ onSuccess: () => void refresh() }));

  function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const days = Number(form.get("days"));
    const agentProject = String(form.get("agentProject")).trim();
    const agentName = String(form.get("agentName")).trim();
    create.mutate({
      name: String(form.get("name")),
      roles: ROLES.filter((role) => form.get(`role-${role}`) === "on"),
      projects: projectList(String(form.get("projects"))),
      agent: agentProject && agentName ? { project: agentProject, name: agentName } : undefined,
      expires_in_seconds: Math.round(days * 86_400),
    });
  }

  return (
    <Card data-testid="tokens-admin">
      <CardHeader>
        <CardTitle>API tokens</CardTitle>
        <CardDescription>
          An agent puts one header in its MCP client&apos;s configuration: <code>Authorization: Bearer &lt;token&gt;</code>. A token is shown once; revoking it takes
          effect on every instance within a second.
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-6">
        <form className="grid gap-3 sm:grid-cols-2" onSubmit={submit} aria-label="Create a token">
          <label className="text-sm font-medium">
            Name
            <Input name="name" required maxLength={100} placeholder="ci, GreenCastle, …" className="mt-1" />
          </label>
          <label className="text-sm font-medium">
            Projects (comma-separated; empty: all)
            <Input name="projects" placeholder="/srv/repo, backend" className="mt-1" />
          </label>
          <fieldset className="text-sm">
            <legend className="font-medium">Roles</legend>
            <div className="mt-2 flex gap-4">
              {ROLES.map((role) => (
                <label key={role} className="flex items-center gap-1">
                  <input type="checkbox" name={`role-${role}`} defaultChecked={role === "writer"} /> {role}
                </label>
              ))}
            </div>
          </fieldset>
          <label className="text-sm font-medium">
            Expires in (days)
            <Input name="days" type="number" min={1} max={1825} defaultValue={90} required className="mt-1" />
          </label>
          <label className="text-sm font-medium">
            Bound agent&apos;s project (optional)
            <Input name="agentProject" className="mt-1" />
          </label>
          <label className="text-sm font-medium">
            Bound agent&apos;s name (optional)
            <Input name="agentName" className="mt-1" />
          </label>
          <div className="sm:col-span-2">
            <Button type="submit" disabled={create.isPending}>
              {create.isPending ? "Creating…" : "Create token"}
            </Button>
          </div>
        </form>
        {create.isError ? (
          <p role="alert" className="text-sm text-destructive">
            {create.error.message}
          </p>
        ) : null}
        {minted ? (
          <div className="rounded-md border bg-muted p-3 text-sm" data-testid="minted-token">
            <p className="mb-2 font-medium">Token for {minted.name} — copy it now, it is not shown again:</p>
            <code className="block break-all">{minted.token}</code>
            <div className="mt-2 flex gap-2">
              <Button size="sm" variant="outline" onClick={() => void navigator.clipboard?.writeText(minted.token)}>
                Copy
              </Button>
              <Button size="sm" variant="ghost" onClick={() => setMinted(undefined)}>
                Done
              </Button>
            </div>
          </div>
        ) : null}
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={showRevoked} onChange={(event) => setShowRevoked(event.target.checked)} /> Show revoked tokens
        </label>
        {tokens.isPending ? (
          <p className="text-sm text-muted-foreground">Loading tokens…</p>
        ) : tokens.isError ? (
          <p role="alert" className="text-sm text-destructive">
            Could not load tokens: {tokens.error.message}
          </p>
        ) : tokens.data.tokens.length === 0 ? (
          <p className="text-sm text-muted-foreground">No tokens yet.</p>
        ) : (
          <Table>
            <TableHeader>
              <TableRow>
                <TableHead>Name</TableHead>
                <TableHead>Roles</TableHead>
                <TableHead>Projects</TableHead>
                <TableHead>Agent</TableHead>
                <TableHead>Expires</TableHead>
                <TableHead>
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {tokens.data.tokens.map((token) => (
                <TableRow key={token.id} data-testid="token-row" data-token-jti={token.jti ?? ""}>
                  <TableCell className="font-medium">{token.name}</TableCell>
                  <TableCell>{token.roles.join(", ")}</TableCell>
                  <TableCell>{token.projects?.join(", ") ?? "all"}</TableCell>
                  <TableCell>{token.agent ? `${token.agent.name} (${token.agent.project})` : "—"}</TableCell>
                  <TableCell>{formatDate(token.expires_at)}</TableCell>
                  <TableCell className="text-right">
                    {token.revoked_at ? (
                      <Badge variant="outline">revoked</Badge>
                    ) : token.jti ? (
                      <Button size="sm" variant="outline" disabled={revoke.isPending} onClick={() => revoke.mutate({ jti: token.jti! })} aria-label={`Revoke ${token.name}`}>
                        Revoke
                      </Button>
                    ) : null}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}
