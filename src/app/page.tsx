"use client";

import { ActivityFeed, ProjectsOverview } from "./_components/projects-overview";
import { useLiveEvents } from "./_components/use-live-events";

export default function HomePage() {
  // Every project's events: new mail, reads, acks and reservation changes refresh the page.
  useLiveEvents();
  return (
    <main className="mx-auto max-w-7xl px-4 py-8 sm:px-6">
      <header className="mb-6">
        <h1 className="text-2xl font-bold tracking-tight">Projects</h1>
        <p className="text-sm text-muted-foreground">Who is working on what, what waits for them, and what they hold.</p>
      </header>
      <div className="grid gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
        <ProjectsOverview />
        <div className="grid content-start gap-6">
          <ActivityFeed />
        </div>
      </div>
    </main>
  );
}
