/**
 * Set by the node:http edge on every API request from the socket's peer address (a value the
 * client sent under this name is replaced), for limits keyed by client: failed authentications.
 */
export const CLIENT_ADDRESS_HEADER = "x-mailroom-client-address";

/**
 * The client's address: the socket's peer, or with `trustedHops` proxies in front (each appending
 * the address it saw to X-Forwarded-For) the entry the nearest of them wrote. Entries a client
 * wrote itself sit further left and are never read.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustedHops: number): string {
  if (trustedHops > 0 && forwardedFor !== undefined) {
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean);
    const seen = hops[Math.max(0, hops.length - trustedHops)];
    if (seen && /^[0-9a-f:.]{2,45}$/i.test(seen)) return seen;
  }
  return socketAddress ?? "unknown";
}
