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

export function UsersAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [showDisabled, setShowDisabled] = useState(true);
  const users = useQuery(trpc.users.list.queryOptions({ include_disabled: showDisabled }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const create = useMutation(trpc.users.create.mutationOptions({ onSuccess: () => void refresh() }));
  const setDisabled = useMutation(trpc.users.setDisabled.mutationOptions({ onSuccess: () => void refresh() }));

  function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const password = String(form.get("password"));
    create.mutate(
      {
        email: String(form.get("email")),
        name: String(form.get("name")),
        role: String(form.get("role")) as "reader" | "writer" | "admin",
        projects: projectList(String(form.get("projects"))),
        password: password || undefined,
      },
      { onSuccess: () => formElement.reset() },
    );
  }

  return (
    <Card data-testid="users-admin">
      <CardHeader>
        <CardTitle>Users</CardTitle>
        <CardDescription>People who sign in to this console. A disabled user&apos;s sessions stop working within a second, on every instance.</CardDescription>
      </CardHeader>
      <CardContent className="space-y-6">
        <form className="grid gap-3 sm:grid-cols-2" onSubmit={submit} aria-label="Create a user">
          <label className="text-sm font-medium">
            Email
            <Input name="email" type="email" required className="mt-1" />
          </label>
          <label className="text-sm font-medium">
            Name
            <Input name="name" maxLength={100} className="mt-1" />
          </label>
          <label className="text-sm font-medium">
            Role
            <select name="role" defaultValue="reader" className="mt-1 h-9 w-full rounded-md border bg-card px-3 text-sm">
              <option value="reader">reader</option>
              <option value="writer">writer</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <label className="text-sm font-medium">
            Projects (comma-separated; empty: all)
            <Input name="projects" className="mt-1" />
          </label>
          <label className="text-sm font-medium sm:col-span-2">
            Password (at least 12 characters; empty: sign-in through OIDC only)
            <Input name="password" type="password" autoComplete="new-password" minLength={12} className="mt-1" />
          </label>
          <div className="sm:col-span-2">
            <Button type="submit" disabled={create.isPending}>
              {create.isPending ? "Creating…" : "Create user"}
            </Button>
          </div>
        </form>
        {create.isError || setDisabled.isError ? (
          <p role="alert" className="text-sm text-destructive">
            {(create.error ?? setDisabled.error)?.message}
          </p>
        ) : null}
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={showDisabled} onChange={(event) => setShowDisabled(event.target.checked)} /> Show disabled users
        </label>
        {users.isPending ? (
          <p className="text-sm text-muted-foreground">Loading users…</p>
        ) : users.isError ? (
          <p role="alert" className="text-sm text-destructive">
            Could not load users: {users.error.message}
          </p>
        ) : users.data.users.length === 0 ? (
          <p className="text-sm text-muted-foreground">No users yet.</p>
        ) : (
          <Table>
            <TableHeader>
              <TableRow>
                <TableHead>Email</TableHead>
                <TableHead>Role</TableHead>
                <TableHead>Projects</TableHead>
                <TableHead>Last sign-in</TableHead>
                <TableHead>
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {users.data.users.map((user) => (
                <TableRow key={user.id} data-testid="user-row" data-user-email={user.email}>
                  <TableCell className="font-medium">
                    {user.email}
                    {user.name ? <span className="ml-2 text-muted-foreground">{user.name}</span> : null}
                  </TableCell>
                  <TableCell>{user.role}</TableCell>
                  <TableCell>{user.projects?.join(", ") ?? "all"}</TableCell>
                  <TableCell>{formatDate(user.last_login_at)}</TableCell>
                  <TableCell className="text-right">
                    {user.disabled_at ? <Badge variant="outline" className="mr-2">disabled</Badge> : null}
                    <Button
                      size="sm"
                      variant="outline"
                      disabled={setDisabled.isPending}
                      onClick={() => setDisabled.mutate({ email: user.email, disabled: !user.disabled_at })}
                      aria-label={`${user.disabled_at ? "Enable" : "Disable"} ${user.email}`}
                    >
                      {user.disabled_at ? "Enable" : "Disable"}
                    </Button>
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
