import type { PurgeOldMessagesInput } from "@/server/schemas/messages";
import type { ServiceContext } from "../context";
import { isoTs } from "../format";
import { resolveProject } from "../projects/projects";

const DEFAULT_MAX_AGE_DAYS = 180;

/** purge_old_messages: counts (dry run, the default) or deletes a project's messages older than N days. */
export async function purgeOldMessages(ctx: ServiceContext, input: PurgeOldMessagesInput) {
  const project = await resolveProject(ctx.db, input.project_key);
  const maxAgeDays = input.max_age_days ?? DEFAULT_MAX_AGE_DAYS;
  const cutoff = new Date(Date.now() - maxAgeDays * 86_400_000);
  const where = { projectId: project.id, createdTs: { lt: cutoff } };
  // Recipient rows go with their messages (ON DELETE CASCADE).
  const affected = input.dry_run ? await ctx.db.message.count({ where }) : (await ctx.db.message.deleteMany({ where })).count;
  return { status: input.dry_run ? "dry_run" : "purged", messages_affected: affected, cutoff_date: isoTs(cutoff), max_age_days: maxAgeDays };
}
