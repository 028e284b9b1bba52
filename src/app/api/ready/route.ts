import { handlers } from "@/server/http/app";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function GET() {
  return handlers.ready();
}
