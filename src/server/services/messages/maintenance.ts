import { z } from "zod";
import { defineOperation } from "@/server/operations/define";
import { timestamp } from "@/server/schemas/common";
import { purgeOldMessagesInput } from "@/server/schemas/messages";
import { cleanUpAfterDelete } from "../attachments/store";
import { isoTs } from "../format";

const DEFAULT_MAX_AGE_DAYS = 180;

/** purge_old_messages: counts (dry run, the default) or deletes a project's messages older than N days. */
export const purgeOldMessages = defineOperation({
  name: "purge_old_messages",
  description: "Count (dry_run, default) or delete a project's messages older than max_age_days (default 180). Admin only.",
  input: purgeOldMessagesInput,
  output: z.strictObject({
    status: z.enum(["dry_run", "purged"]),
    messages_affected: z.number().int(),
    cutoff_date: timestamp,
    max_age_days: z.number().int(),
  }),
  permission: "admin",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Purge old messages", destructive: true },
  async handler(ctx, input) {
    const maxAgeDays = input.max_age_days ?? DEFAULT_MAX_AGE_DAYS;
    const cutoff = new Date(Date.now() - maxAgeDays * 86_400_000);
    const where = { projectId: ctx.project.id, createdTs: { lt: cutoff } };
    // Recipient rows go with their messages (ON DELETE CASCADE); blobs only they referred to, after.
    const affected = input.dry_run ? await ctx.db.message.count({ where }) : (await ctx.db.message.deleteMany({ where })).count;
    if (!input.dry_run && affected > 0) await cleanUpAfterDelete(ctx);
    return {
      status: input.dry_run ? ("dry_run" as const) : ("purged" as const),
      messages_affected: affected,
      cutoff_date: isoTs(cutoff),
      max_age_days: maxAgeDays,
    };
  },
});
