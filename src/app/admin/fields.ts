/** "a, b ,c" → ["a","b","c"]; empty → undefined (the operation's "all projects"). */
export function projectList(text: string): string[] | undefined {
  const keys = text
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean);
  return keys.length ? keys : undefined;
}

export function formatDate(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "never";
}
