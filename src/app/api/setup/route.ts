import { handlers } from "@/server/http/app";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function POST(request: Request) {
  return handlers.setup(request);
}
