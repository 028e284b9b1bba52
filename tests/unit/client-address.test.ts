import { describe, expect, it } from "vitest";
import { clientKey } from "@/server/auth/rate-limits";
import { clientAddress } from "@/server/http/client-address";

// Whose failed authentications are counted: the socket's peer, or behind TRUSTED_PROXY_HOPS
// proxies the address the nearest one saw; IPv6 clients by their /64.

describe("clientAddress", () => {
  it("is the socket's peer unless proxies are trusted: a client's own X-Forwarded-For is ignored", () => {
    expect(clientAddress("10.0.0.9", "1.2.3.4", 0)).toBe("10.0.0.9");
    expect(clientAddress(undefined, undefined, 0)).toBe("unknown");
  });

  it("behind N trusted proxies, is the entry the nearest of them appended; entries a client forged sit further left", () => {
    expect(clientAddress("10.0.0.1", "203.0.113.7", 1)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.1", "6.6.6.6, 203.0.113.7", 1)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.1", ["6.6.6.6, 203.0.113.7", "10.0.0.2"], 2)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.1", "203.0.113.7", 3)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.1", "not an address", 1)).toBe("10.0.0.1");
    expect(clientAddress("10.0.0.1", undefined, 1)).toBe("10.0.0.1");
  });
});

describe("clientKey", () => {
  it("keys IPv4 by address and IPv6 by its /64", () => {
    expect(clientKey("203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:db8:1:2:ffff::9")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
  });
});
