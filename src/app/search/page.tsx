import { Suspense } from "react";
import { MessageSearch } from "./message-search";

export const metadata = { title: "Search · Mailroom" };

export default function SearchPage() {
  return (
    <main className="mx-auto max-w-5xl px-6 py-10">
      {/* useSearchParams needs a Suspense boundary to prerender. */}
      <Suspense>
        <MessageSearch />
      </Suspense>
    </main>
  );
}
