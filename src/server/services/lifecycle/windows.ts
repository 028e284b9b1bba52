import type { WindowIdentity } from "@/generated/prisma/client";
import { AppError, quote } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import {
  expireWindowInput,
  expireWindowOutput,
  listWindowsInput,
  listWindowsOutput,
  renameWindowInput,
  renameWindowOutput,
  type ExpireWindowInput,
  type RenameWindowInput,
} from "@/server/schemas/lifecycle";
import { canonicalMemorableName } from "../agents/names";
import type { ProjectContext } from "../context";
import { isoTs, isoTsOrNull } from "../format";

const DAY_MS = 24 * 3600 * 1000;
const UUID = /^(?:urn:uuid:)?\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

/** The canonical form (lowercase, dashed) of any spelling Python's uuid.UUID accepts. */
export function canonicalWindowUuid(value: string): string {
  const parts = UUID.exec(value.trim());
  if (!parts) throw new AppError("INVALID_WINDOW_UUID", `window_uuid '${quote(value)}' is not a valid UUID.`, { field: "window_uuid" });
  return parts.slice(1).join("-").toLowerCase();
}

async function requireWindow(ctx: ProjectContext, windowUuid: string): Promise<WindowIdentity> {
  const window = await ctx.db.windowIdentity.findUnique({ where: { projectId_windowUuid: { projectId: ctx.project.id, windowUuid } } });
  if (!window) {
    throw new AppError("WINDOW_NOT_FOUND", `Window identity '${windowUuid}' not found in project '${ctx.project.slug}'.`, { field: "window_uuid" });
  }
  return window;
}

/** Window identities that have not expired, oldest first. */
export const listWindowIdentities = defineOperation({
  name: "list_window_identities",
  description: "List a project's unexpired window identities (persistent names per terminal window).",
  input: listWindowsInput,
  output: listWindowsOutput,
  permission: "read",
  kind: "query",
  scope: "project",
  tool: { profile: "extended", title: "List window identities" },
  async handler(ctx) {
    const now = new Date();
    const rows = await ctx.db.windowIdentity.findMany({
      where: { projectId: ctx.project.id, OR: [{ expiresTs: null }, { expiresTs: { gt: now } }] },
      orderBy: { id: "asc" },
      take: 1000,
    });
    const identities = rows.map((row) => ({
      id: row.id,
      window_uuid: row.windowUuid,
      display_name: row.displayName,
      created_ts: isoTs(row.createdTs),
      last_active_ts: isoTs(row.lastActiveTs),
      expires_ts: isoTsOrNull(row.expiresTs),
      age_days: Math.max(0, Math.floor((now.getTime() - row.createdTs.getTime()) / DAY_MS)),
    }));
    return { identities, count: identities.length };
  },
});

export const renameWindow = defineOperation({
  name: "rename_window",
  description: "Give a window identity a new adjective+noun display name (e.g. GreenLake).",
  input: renameWindowInput,
  output: renameWindowOutput,
  permission: "write",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Rename window", idempotent: true },
  async handler(ctx, input: RenameWindowInput) {
    const windowUuid = canonicalWindowUuid(input.window_uuid);
    // As upstream: adjective+noun only (explicit ids such as alpha-one are not window names).
    const displayName = canonicalMemorableName(input.new_display_name);
    if (!displayName) {
      throw new AppError("INVALID_DISPLAY_NAME", `'${quote(input.new_display_name)}' is not a valid adjective+noun name (e.g. GreenLake).`, {
        field: "new_display_name",
      });
    }
    const window = await requireWindow(ctx, windowUuid);
    const updated = await ctx.db.windowIdentity.update({ where: { id: window.id }, data: { displayName, lastActiveTs: new Date() } });
    return {
      id: updated.id,
      window_uuid: updated.windowUuid,
      display_name: updated.displayName,
      old_display_name: window.displayName,
      last_active_ts: isoTs(updated.lastActiveTs),
    };
  },
});

export const expireWindow = defineOperation({
  name: "expire_window",
  description: "Expire a window identity now (idempotent); it leaves list_window_identities.",
  input: expireWindowInput,
  output: expireWindowOutput,
  permission: "write",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Expire window", idempotent: true },
  async handler(ctx, input: ExpireWindowInput) {
    const window = await requireWindow(ctx, canonicalWindowUuid(input.window_uuid));
    const now = new Date();
    // An identity already expired keeps its expiry: expiring twice changes nothing.
    const updated = window.expiresTs && window.expiresTs <= now ? window : await ctx.db.windowIdentity.update({ where: { id: window.id }, data: { expiresTs: now } });
    return { window_uuid: updated.windowUuid, display_name: updated.displayName, expired: true as const, expired_at: isoTs(updated.expiresTs!) };
  },
});
