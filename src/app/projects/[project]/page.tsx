import { Suspense } from "react";
import { ProjectConsole } from "@/app/_components/project-console";

export default async function ProjectPage({ params }: { params: Promise<{ project: string }> }) {
  const { project } = await params;
  return (
    <main className="mx-auto max-w-7xl px-4 py-8 sm:px-6">
      {/* The tab and the open message come from the URL (useSearchParams). */}
      <Suspense>
        <ProjectConsole project={decodeURIComponent(project)} />
      </Suspense>
    </main>
  );
}
