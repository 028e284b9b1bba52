import path from "node:path";

/** strip, lower-case, every run outside [a-z0-9] becomes `-`, trimmed of `-`; empty → `project`. */
export function slugify(value: string): string {
  const slug = value.trim().toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return slug || "project";
}

/** POSIX absolute paths and Windows drive paths (`C:\…`) both count as absolute. */
export function isAbsoluteKey(value: string): boolean {
  return path.posix.isAbsolute(value) || path.win32.isAbsolute(value);
}

/**
 * Collapses `//` and `..` and drops trailing slashes, without resolving symlinks: resolving them
 * merged unrelated projects upstream (mcp_agent_mail#126).
 */
export function normalizeHumanKey(value: string): string {
  const trimmed = value.trim();
  if (path.win32.isAbsolute(trimmed) && !path.posix.isAbsolute(trimmed)) {
    const normalized = path.win32.normalize(trimmed);
    // The root of a drive or share (`C:\`, `\\server\share\`) keeps its separator: `C:` alone is
    // a drive-relative path, not an absolute one.
    return normalized === path.win32.parse(normalized).root ? normalized : normalized.replace(/[\\/]+$/, "");
  }
  const normalized = path.posix.normalize(trimmed);
  return normalized.length > 1 ? normalized.replace(/\/+$/, "") : normalized;
}

/** Whether a project identifier is written as a path rather than a slug. */
export function looksLikePath(value: string): boolean {
  return (
    isAbsoluteKey(value) ||
    value.startsWith("~") ||
    value.startsWith(".") ||
    value.includes("/") ||
    value.includes("\\")
  );
}

const PLACEHOLDER_MARKERS = ["your_project", "placeholder", "<project>", "{project}", "$project", "your-project"];

export function isPlaceholderKey(value: string): boolean {
  const lower = value.toLowerCase();
  return PLACEHOLDER_MARKERS.some((marker) => lower.includes(marker));
}
