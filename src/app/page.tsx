import { ProjectsOverview } from "./_components/projects-overview";
import { OverseerBadge } from "./_components/overseer-badge";
import { SessionMenu } from "./_components/session-menu";

export default function HomePage() {
  return (
    <main className="mx-auto max-w-5xl px-6 py-10">
      <header className="mb-8 flex items-baseline justify-between">
        <div>
          <h1 className="text-2xl font-bold tracking-tight">Mailroom</h1>
          <p className="text-sm text-muted-foreground">Projects and the agents working in them.</p>
        </div>
        <div className="flex items-center gap-4">
          <OverseerBadge />
          <a className="text-sm text-primary underline-offset-4 hover:underline" href="/search">
            search
          </a>
          <a className="text-sm text-primary underline-offset-4 hover:underline" href="/admin">
            admin
          </a>
          <a className="text-sm text-primary underline-offset-4 hover:underline" href="/api/health">
            health
          </a>
          <SessionMenu />
        </div>
      </header>
      <ProjectsOverview />
    </main>
  );
}
