import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

// Dashboard passwords, hashed with scrypt (memory-hard, in node:crypto, run on libuv's thread
// pool so a login never blocks the event loop). Stored as `scrypt$N$r$p$salt$hash` (base64url), so
// the cost can be raised later while old hashes still verify.

const COST = { N: 1 << 15, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

export const PASSWORD_MIN_LENGTH = 12;
/** scrypt's cost does not depend on the length, but what a request may carry is bounded everywhere. */
export const PASSWORD_MAX_LENGTH = 1024;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  // 128·N·r bytes are needed; the default maxmem (32 MiB) is exactly that for N=2^15, r=8.
  const options: ScryptOptions = { ...cost, maxmem: 128 * cost.N * cost.r * 2 };
  return new Promise((resolve, reject) => scrypt(password.normalize("NFKC"), salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, COST);
  return ["scrypt", COST.N, COST.r, COST.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

const STORED = /^scrypt\$(\d{1,7})\$(\d{1,2})\$(\d{1,2})\$([\w-]{1,64})\$([\w-]{1,128})$/;
/** Verified against when there is no user, so an unknown email costs as much as a wrong password. */
const DECOY = `scrypt$${COST.N}$${COST.r}$${COST.p}$${"A".repeat(22)}$${"A".repeat(43)}`;

/** Whether `password` matches `stored`; false for an empty or unreadable hash (OIDC-only users). */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const match = STORED.exec(stored || DECOY);
  if (!match) return false;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const expected = Buffer.from(match[5]!, "base64url");
  const key = await derive(password, Buffer.from(match[4]!, "base64url"), { N, r, p });
  return Boolean(stored) && key.length === expected.length && timingSafeEqual(key, expected);
}
