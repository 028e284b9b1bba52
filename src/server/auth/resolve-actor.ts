import { AppError } from "@/server/errors";
import { LOCAL_OPERATOR, type Actor } from "./actor";

/**
 * The one place that decides who is calling, for MCP, tRPC, SSE and plain routes alike.
 * Mailroom runs in local mode for now: it listens on 127.0.0.1 by default (see README) and treats
 * the caller as the machine's operator. Bearer credentials are refused rather than ignored, so a
 * client that believes it is authenticating finds out it is not.
 */
export async function resolveActor(request: Request): Promise<Actor> {
  const authorization = request.headers.get("authorization");
  if (authorization) {
    throw new AppError(
      "AUTHENTICATION_REQUIRED",
      "Bearer credentials are not accepted by this server (local mode); remove the Authorization header.",
    );
  }
  return LOCAL_OPERATOR;
}
