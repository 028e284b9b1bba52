import { Suspense } from "react";
import { AgentMailbox } from "@/app/_components/agent-mailbox";

export default async function AgentMailPage({ params }: { params: Promise<{ project: string; agent: string }> }) {
  const { project, agent } = await params;
  return (
    <main className="mx-auto max-w-6xl px-6 py-10">
      {/* The mailbox reads its tab and open message from the URL (useSearchParams). */}
      <Suspense>
        <AgentMailbox project={decodeURIComponent(project)} agent={decodeURIComponent(agent)} />
      </Suspense>
    </main>
  );
}
