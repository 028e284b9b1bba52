import { handlers } from "@/server/http/app";

// Under `next dev`; in production server.mts answers /api/auth/* with the same handler first.
export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function GET(request: Request) {
  return handlers.auth(request);
}
export { GET as POST };
