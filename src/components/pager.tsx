import { Button } from "@/components/ui/button";

/** Newest-first paging by cursor: back to the newest page, and on to older ones while there are. */
export function Pager({ onNewest, onOlder }: { onNewest?: () => void; onOlder?: () => void }) {
  return (
    <nav className="flex gap-2" aria-label="Pages">
      {onNewest ? (
        <Button size="sm" variant="outline" onClick={onNewest}>
          Newest
        </Button>
      ) : null}
      {onOlder ? (
        <Button size="sm" variant="outline" onClick={onOlder}>
          Older
        </Button>
      ) : null}
    </nav>
  );
}
