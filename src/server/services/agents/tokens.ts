import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

// Registration tokens: 32 random bytes, base64url (the shape of Python's token_urlsafe(32)).
// Only their sha256 is stored, so a database dump does not let anyone act as an agent.

export function mintToken(): string {
  return randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function tokenMatches(token: string, storedHash: string): boolean {
  const candidate = Buffer.from(hashToken(token), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return candidate.length === stored.length && timingSafeEqual(candidate, stored);
}
