/** "12s ago", "5m ago", "3h ago", "2d ago"; and "in 4m" for times ahead (expiries). */
export function relativeTime(iso: string, now = Date.now()): string {
  const delta = Math.round((Date.parse(iso) - now) / 1000);
  const seconds = Math.abs(delta);
  const amount =
    seconds < 60 ? `${seconds}s` : seconds < 3600 ? `${Math.round(seconds / 60)}m` : seconds < 86_400 ? `${Math.round(seconds / 3600)}h` : `${Math.round(seconds / 86_400)}d`;
  return delta > 0 ? `in ${amount}` : `${amount} ago`;
}
