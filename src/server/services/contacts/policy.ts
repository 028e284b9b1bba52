import { AppError } from "@/server/errors";

// The four contact policies of mcp_agent_mail and the TTLs of its contact links (§3.1, §4.3).

export const CONTACT_POLICIES = ["open", "auto", "contacts_only", "block_all"] as const;
export type ContactPolicy = (typeof CONTACT_POLICIES)[number];

/** How long a contact request stays pending, by default (7 days). */
export const REQUEST_TTL_SECONDS = 7 * 86_400;
/** How long an approval lasts, by default (30 days). */
export const APPROVAL_TTL_SECONDS = 30 * 86_400;
/** Shorter TTLs are raised to this. */
export const MIN_LINK_TTL_SECONDS = 60;

/** Lower-cased; anything that is not a policy becomes `auto`, as upstream does. */
export function normalizePolicy(value: string): ContactPolicy {
  const candidate = value.trim().toLowerCase();
  return (CONTACT_POLICIES as readonly string[]).includes(candidate) ? (candidate as ContactPolicy) : "auto";
}

export function linkExpiry(now: Date, ttlSeconds: number): Date {
  return new Date(now.getTime() + Math.max(MIN_LINK_TTL_SECONDS, ttlSeconds) * 1000);
}

/** block_all means nobody: not a reply in a shared thread, not a contact request. */
export function contactBlocked(names: string[]): AppError {
  return new AppError("CONTACT_BLOCKED", `Recipient is not accepting messages. (contact policy block_all: ${names.join(", ")})`, {
    recipients: names,
  });
}
