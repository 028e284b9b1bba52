import { Suspense } from "react";
import { MailList } from "@/app/_components/mail-list";
import { PageHeader } from "@/components/page-header";

export const metadata = { title: "All mail · Mailroom" };

export default function UnifiedInboxPage() {
  return (
    <main className="mx-auto max-w-7xl px-4 py-8 sm:px-6">
      <div className="grid gap-6">
        <PageHeader title="All mail">
          <p className="text-sm text-muted-foreground">Every project&apos;s mail, newest first, live.</p>
        </PageHeader>
        {/* The page, the open message and its project come from the URL (useSearchParams). */}
        <Suspense>
          <MailList />
        </Suspense>
      </div>
    </main>
  );
}
