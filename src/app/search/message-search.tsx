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

const IMPORTANCE = ["low", "normal", "high", "urgent"] as const;
type Importance = (typeof IMPORTANCE)[number];
const FILTERS = [
  { name: "sender", label: "From", type: "text" },
  { name: "recipient", label: "To", type: "text" },
  { name: "thread", label: "Thread", type: "text" },
  { name: "topic", label: "Topic", type: "text" },
  { name: "since", label: "Since", type: "date" },
  { name: "until", label: "Until", type: "date" },
] as const;
type FilterName = (typeof FILTERS)[number]["name"];

/** Full-text search of one project's mail (the search_messages engine); the query lives in the URL. */
export function MessageSearch() {
  const trpc = useTRPC();
  const router = useRouter();
  const params = useSearchParams();
  const project = params.get("project") ?? "";
  const query = params.get("q") ?? "";
  const filters = Object.fromEntries(FILTERS.map((filter) => [filter.name, params.get(filter.name) ?? ""])) as Record<FilterName, string>;
  const importance = params.get("importance") ?? "";
  const projects = useQuery(trpc.projects.list.queryOptions());
  const hits = useQuery({
    ...trpc.messages.search.queryOptions({
      project_key: project,
      query,
      limit: 50,
      sender: filters.sender || null,
      recipient: filters.recipient || null,
      thread_id: filters.thread || null,
      topic: filters.topic || null,
      since_ts: filters.since ? new Date(filters.since).toISOString() : null,
      until_ts: filters.until ? new Date(`${filters.until}T23:59:59.999`).toISOString() : null,
      importance: IMPORTANCE.includes(importance as Importance) ? [importance as Importance] : null,
    }),
    enabled: Boolean(project && query.trim()),
  });

  function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const next = new URLSearchParams();
    // Only what was filled in goes to the URL, so a link stays short and a reload repeats the search.
    for (const key of ["project", "q", "importance", ...FILTERS.map((filter) => filter.name)]) {
      const value = String(form.get(key) ?? "").trim();
      if (value) next.set(key, value);
    }
    router.replace(`/search?${next}`);
  }

  return (
    <div className="grid gap-6">
      <PageHeader title="Search mail" />
      <form className="flex flex-wrap gap-3" onSubmit={submit} role="search" key={params.toString()}>
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
        <fieldset className="flex w-full flex-wrap gap-3">
          <legend className="sr-only">Filters</legend>
          {FILTERS.map((filter) => (
            <label key={filter.name} className="grid gap-1 text-xs text-muted-foreground">
              {filter.label}
              <Input name={filter.name} type={filter.type} defaultValue={filters[filter.name]} maxLength={128} className="h-8 w-40" />
            </label>
          ))}
          <label className="grid gap-1 text-xs text-muted-foreground">
            Importance
            <select name="importance" defaultValue={importance} className="h-8 rounded-md border bg-card px-2 text-sm text-foreground">
              <option value="">any</option>
              {IMPORTANCE.map((level) => (
                <option key={level} value={level}>
                  {level}
                </option>
              ))}
            </select>
          </label>
        </fieldset>
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
                      href={`/projects/${encodeURIComponent(project)}?tab=mail&message=${hit.id}${hit.thread_id ? "&thread=1" : ""}`}
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
