"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { PageHeader } from "@/components/page-header";
import { Pager } from "@/components/pager";
import { cn } from "@/lib/utils";
import { relativeTime } from "@/lib/time";
import { useTRPC } from "./trpc-provider";
import { useLiveEvents } from "./use-live-events";

type Params = { path?: string | null; cursor?: string | null; sha?: string | null; file?: string | null };

/** One diff line coloured by what it does; the diff is text, never HTML. */
function DiffLine({ line }: { line: string }) {
  const tone = line.startsWith("+++") || line.startsWith("---")
    ? "text-muted-foreground"
    : line.startsWith("+")
      ? "bg-green-500/10 text-green-700 dark:text-green-300"
      : line.startsWith("-")
        ? "bg-red-500/10 text-red-700 dark:text-red-300"
        : line.startsWith("@@")
          ? "text-blue-700 dark:text-blue-300"
          : "";
  return <div className={cn("px-2", tone)}>{line || " "}</div>;
}

function FileView({ project, path, sha }: { project: string; path: string; sha: string | null }) {
  const trpc = useTRPC();
  const file = useQuery(trpc.archive.file.queryOptions({ project_key: project, path, ...(sha ? { sha } : {}) }));
  if (file.isPending) return <p className="text-sm text-muted-foreground">Loading file…</p>;
  if (file.isError) return <p className="text-sm text-destructive">{file.error.message}</p>;
  return (
    <Card data-testid="archive-file">
      <CardHeader>
        <CardTitle className="break-all font-mono text-sm">{file.data.path}</CardTitle>
        <CardDescription>
          at {file.data.commit.slice(0, 12)} · {file.data.size} bytes{file.data.truncated ? " · cut short" : ""}
        </CardDescription>
      </CardHeader>
      <CardContent>
        {file.data.binary ? (
          <p className="text-sm text-muted-foreground">Binary file.</p>
        ) : (
          <pre className="max-h-[70vh] overflow-auto rounded-md border bg-muted p-3 text-xs whitespace-pre-wrap">{file.data.content}</pre>
        )}
      </CardContent>
    </Card>
  );
}

function CommitView({ project, sha, go }: { project: string; sha: string; go: (next: Params) => void }) {
  const trpc = useTRPC();
  const commit = useQuery(trpc.archive.commit.queryOptions({ project_key: project, sha }));
  if (commit.isPending) return <p className="text-sm text-muted-foreground">Loading commit…</p>;
  if (commit.isError) return <p className="text-sm text-destructive">{commit.error.message}</p>;
  const c = commit.data;
  return (
    <Card data-testid="archive-commit">
      <CardHeader>
        <CardTitle className="text-base">{c.summary}</CardTitle>
        <CardDescription>
          <code>{c.sha.slice(0, 12)}</code> · {c.author_name} · {new Date(c.authored_ts).toLocaleString()}
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        {c.message.trim() !== c.summary ? <pre className="text-xs whitespace-pre-wrap text-muted-foreground">{c.message}</pre> : null}
        <ul className="grid gap-1 text-sm" aria-label="Changed files">
          {c.files.map((file) => (
            <li key={file.path} className="flex flex-wrap items-baseline gap-2">
              <Badge variant="outline">{file.status}</Badge>
              <Button variant="ghost" size="sm" className="h-auto px-1 font-mono break-all whitespace-normal" onClick={() => go({ file: file.path })}>
                {file.path}
              </Button>
              <span className="text-xs text-muted-foreground">
                {file.binary ? "binary" : `+${file.insertions ?? 0} −${file.deletions ?? 0}`} ·{" "}
                <button type="button" className="text-primary underline-offset-4 hover:underline" onClick={() => go({ path: file.path, sha: null, file: null, cursor: null })}>
                  history
                </button>
              </span>
            </li>
          ))}
          {c.files_truncated ? <li className="text-xs text-muted-foreground">More files than shown.</li> : null}
        </ul>
        <pre className="max-h-[60vh] overflow-auto rounded-md border bg-muted py-2 text-xs" data-testid="archive-diff">
          {c.diff.split("\n").map((line, index) => (
            <DiffLine key={index} line={line} />
          ))}
        </pre>
        {c.truncated ? <p className="text-xs text-muted-foreground">The diff is cut short.</p> : null}
      </CardContent>
    </Card>
  );
}

/**
 * The Git archive of one project: its commits newest first (paged), narrowed to an agent's folder
 * or any file's history (a thread's file gives the thread's history); a commit's diff; a file as
 * it was at a commit. Everything is in the URL.
 */
export function ArchiveBrowser({ project }: { project: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const params = useSearchParams();
  const path = params.get("path");
  const cursor = params.get("cursor");
  const sha = params.get("sha");
  const file = params.get("file");
  const root = `projects/${project}`;
  const go = (next: Params) => {
    const query = new URLSearchParams(params);
    for (const [key, value] of Object.entries(next)) {
      if (value) query.set(key, value);
      else query.delete(key);
    }
    router.replace(`?${query}`, { scroll: false });
  };
  // New mail means new commits shortly after (the archive is written behind the database).
  useLiveEvents(project);
  const agents = useQuery(trpc.dashboard.project.queryOptions({ project_key: project }));
  const commits = useQuery(trpc.archive.commits.queryOptions({ project_key: project, limit: 30, ...(path ? { path } : {}), ...(cursor ? { cursor } : {}) }));

  return (
    <div className="grid gap-6">
      <PageHeader title={`Archive of ${project}`} data-testid="archive-title">
        <p className="text-sm text-muted-foreground">
          Every message is a commit in the Git archive.{" "}
          <Link className="text-primary underline underline-offset-4" href={`/projects/${encodeURIComponent(project)}`}>
            Back to the project
          </Link>
        </p>
      </PageHeader>
      <div className="flex flex-wrap items-center gap-2 text-sm" role="group" aria-label="History of">
        <span className="text-muted-foreground">History of</span>
        <Button size="sm" variant={path ? "outline" : "default"} onClick={() => go({ path: null, cursor: null, sha: null, file: null })}>
          whole project
        </Button>
        {(agents.data?.agents ?? []).map((agent) => {
          const agentPath = `${root}/agents/${agent.name}`;
          return (
            <Button key={agent.id} size="sm" variant={path === agentPath ? "default" : "outline"} onClick={() => go({ path: agentPath, cursor: null, sha: null, file: null })}>
              {agent.name}
            </Button>
          );
        })}
        {path && !(agents.data?.agents ?? []).some((agent) => path === `${root}/agents/${agent.name}`) ? (
          <Badge variant="secondary" className="font-mono">
            {path}
          </Badge>
        ) : null}
      </div>
      <div className="grid gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
        <Card>
          <CardContent className="grid gap-3">
            {commits.isPending ? (
              <p className="text-sm text-muted-foreground">Loading commits…</p>
            ) : commits.isError ? (
              <p role="alert" className="text-sm text-destructive">
                {commits.error.message}
              </p>
            ) : !commits.data.available ? (
              <p className="text-sm text-muted-foreground">The Git archive is disabled or has no commit yet.</p>
            ) : commits.data.commits.length === 0 ? (
              <p className="text-sm text-muted-foreground">No commits here.</p>
            ) : (
              <ol className="grid gap-1" aria-label="Commits">
                {commits.data.commits.map((commit) => (
                  <li key={commit.sha}>
                    <button
                      type="button"
                      data-nav-row
                      data-testid="archive-commit-row"
                      aria-current={sha === commit.sha ? "true" : undefined}
                      className={cn("w-full rounded-md px-2 py-1 text-left text-sm hover:bg-muted focus-visible:outline-2 focus-visible:outline-primary", sha === commit.sha && "bg-muted")}
                      onClick={() => go({ sha: commit.sha, file: null })}
                    >
                      <span className="block truncate">{commit.summary}</span>
                      <span className="text-xs text-muted-foreground">
                        <code>{commit.sha.slice(0, 8)}</code> · {relativeTime(commit.authored_ts)}
                      </span>
                    </button>
                  </li>
                ))}
              </ol>
            )}
            <Pager
              onNewest={cursor ? () => go({ cursor: null }) : undefined}
              onOlder={commits.data?.next_cursor ? () => go({ cursor: commits.data.next_cursor }) : undefined}
            />
          </CardContent>
        </Card>
        <div className="grid content-start gap-6">
          {file ? <FileView project={project} path={file} sha={sha} /> : sha ? <CommitView project={project} sha={sha} go={go} /> : (
            <p className="text-sm text-muted-foreground">Choose a commit to see its diff.</p>
          )}
        </div>
      </div>
    </div>
  );
}
