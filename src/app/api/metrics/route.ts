import { handlers } from "@/server/http/app";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function GET(request: Request) {
  return handlers.metrics(request);
}
