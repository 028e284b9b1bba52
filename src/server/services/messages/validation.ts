import { AppError, quote } from "@/server/errors";

// Argument rules shared by the mail tools, with mcp_agent_mail's error types.

const THREAD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TOPIC = /^[A-Za-z0-9_-]{1,64}$/;

/** A thread id after strip; blank means none. */
export function normalizeThreadId(value: string | null | undefined, field = "thread_id"): string | null {
  const candidate = (value ?? "").trim();
  if (!candidate) return null;
  if (!THREAD_ID.test(candidate)) {
    throw new AppError(
      "INVALID_THREAD_ID",
      `Invalid ${field} '${quote(candidate)}': use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. FEAT-123).`,
      { field },
    );
  }
  return candidate;
}

export function normalizeTopic(value: string | null | undefined, field = "topic"): string | null {
  if (value === null || value === undefined) return null;
  const candidate = value.trim();
  if (!TOPIC.test(candidate)) {
    throw new AppError(
      "INVALID_TOPIC",
      `Invalid ${field} '${quote(value)}': use 1-64 letters, digits, '_' or '-' (no spaces), e.g. architecture.`,
      { field },
    );
  }
  return candidate;
}

/** ISO-8601; a trailing Z or an offset is honoured, a timestamp without one is taken as UTC. */
export function parseTimestamp(value: string | null | undefined, field = "since_ts"): Date | null {
  const candidate = (value ?? "").trim();
  if (!candidate) return null;
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
  if (!iso.test(candidate)) {
    throw new AppError("INVALID_TIMESTAMP", `Invalid ${field} '${quote(candidate)}': expected ISO-8601 such as 2026-01-31T12:00:00Z.`, { field });
  }
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(candidate);
  const date = new Date(hasZone ? candidate.replace(" ", "T") : `${candidate.replace(" ", "T")}Z`);
  if (Number.isNaN(date.getTime()) || !isCalendarDate(candidate)) {
    throw new AppError("INVALID_TIMESTAMP", `Invalid ${field} '${quote(candidate)}': not a real date.`, { field });
  }
  return date;
}

/** Date rolls 2026-02-30 over to March 2 and T24:00 to the next day; ISO-8601 readers refuse both. */
function isCalendarDate(candidate: string): boolean {
  const [, year, month, day, hour] = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}))?/i.exec(candidate) ?? [];
  const check = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return check.getUTCMonth() === Number(month) - 1 && check.getUTCDate() === Number(day) && (hour === undefined || Number(hour) < 24);
}

/** limit < 1 is an error; above `max` it is capped (the reference's rule for inbox reads). */
export function clampLimit(limit: number, max = 1000, field = "limit"): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new AppError("INVALID_LIMIT", `${field} must be a whole number of at least 1; got ${limit}.`, { field });
  }
  return Math.min(limit, max);
}

/** A list argument that may arrive as one string; blanks are dropped. */
export function asNameList(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => item.trim()).filter(Boolean);
}

export const SUBJECT_MAX = 200;

/** The first SUBJECT_MAX characters (code points, as upstream's Python slice): never half an emoji. */
export function truncateSubject(subject: string): string {
  if (subject.length <= SUBJECT_MAX) return subject;
  return Array.from(subject).slice(0, SUBJECT_MAX).join("");
}
