"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { HighlightedSnippet } from "@/components/highlighted-snippet";
import { PageHeader } from "@/components/page-header";
import { useTRPC } from "../_components/trpc-provider";

/** Full-text search of one project's mail (the search_messages engine); the query lives in the URL. */
export function MessageSearch() {
  const trpc = useTRPC();
  const router = useRouter();
  const params = useSearchParams();
  const project = params.get("project") ?? "";
  const query = params.get("q") ?? "";
  const projects = useQuery(trpc.projects.list.queryOptions());
  const hits = useQuery({ ...trpc.messages.search.queryOptions({ project_key: project, query, limit: 50 }), enabled: Boolean(project && query.trim()) });

  function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    router.replace(`/search?${new URLSearchParams({ project: String(form.get("project")), q: String(form.get("q")) })}`);
  }

  return (
    <div className="grid gap-6">
      <PageHeader title="Search mail" />
      <form className="flex flex-wrap gap-3" onSubmit={submit} role="search" key={`${project}\u0000${query}`}>
        <label className="sr-only" htmlFor="search-project">
          Project
        </label>
        <select id="search-project" name="project" defaultValue={project} required className="h-9 rounded-md border bg-card px-3 text-sm">
          <option value="" disabled>
            Project…
          </option>
          {(projects.data ?? []).map((item) => (
            <option key={item.slug} value={item.slug}>
              {item.slug}
            </option>
          ))}
        </select>
        <label className="sr-only" htmlFor="search-query">
          Search
        </label>
        <Input id="search-query" name="q" defaultValue={query} required maxLength={1000} placeholder='words, "a phrase", subject:plan' className="w-auto flex-1" />
        <Button type="submit">Search</Button>
      </form>
      {!project || !query.trim() ? (
        <p className="text-sm text-muted-foreground">Choose a project and type what to look for.</p>
      ) : hits.isPending ? (
        <p className="text-sm text-muted-foreground">Searching…</p>
      ) : hits.isError ? (
        <p role="alert" className="text-sm text-destructive">
          {hits.error.message}
        </p>
      ) : hits.data.length === 0 ? (
        <p className="text-sm text-muted-foreground">No message matches.</p>
      ) : (
        <ol className="grid gap-3" aria-label="Results">
          {hits.data.map((hit) => (
            <li key={hit.id}>
              <Card data-testid="search-hit">
                <CardContent className="grid gap-1 py-4">
                  <div className="flex flex-wrap items-baseline gap-2">
                    <Link
                      className="font-medium text-primary underline-offset-4 hover:underline"
                      href={`/mail/${encodeURIComponent(project)}/${encodeURIComponent(hit.from)}?tab=sent&message=${hit.id}${hit.thread_id ? "&thread=1" : ""}`}
                    >
                      {hit.subject || "(no subject)"}
                    </Link>
                    {hit.importance !== "normal" ? <Badge variant="secondary">{hit.importance}</Badge> : null}
                    <span className="text-xs text-muted-foreground">
                      {hit.from} · {new Date(hit.created_ts).toLocaleString()}
                      {hit.thread_id ? ` · thread ${hit.thread_id}` : ""}
                    </span>
                  </div>
                  <p className="text-sm text-muted-foreground">
                    <HighlightedSnippet snippet={hit.snippet} />
                  </p>
                </CardContent>
              </Card>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
