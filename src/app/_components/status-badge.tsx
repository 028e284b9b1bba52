import { Badge } from "@/components/ui/badge";

/** Active (acted recently), idle or retired: the overview's first question about an agent. */
export function StatusBadge({ status }: { status: "active" | "idle" | "retired" }) {
  return (
    <Badge variant={status === "active" ? "default" : "outline"} data-testid="agent-status">
      {status}
    </Badge>
  );
}
