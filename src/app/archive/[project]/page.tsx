import { Suspense } from "react";
import { ArchiveBrowser } from "@/app/_components/archive-browser";

export const metadata = { title: "Archive · Mailroom" };

export default async function ArchivePage({ params }: { params: Promise<{ project: string }> }) {
  const { project } = await params;
  return (
    <main className="mx-auto max-w-7xl px-4 py-8 sm:px-6">
      {/* The filter, page, commit and file come from the URL (useSearchParams). */}
      <Suspense>
        <ArchiveBrowser project={decodeURIComponent(project)} />
      </Suspense>
    </main>
  );
}
