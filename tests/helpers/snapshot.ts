import type { Database } from "@/server/db/client";

/**
 * Tables the surfaces write for every call, refused ones included, in the background: a record of
 * what was asked (tool_call_metrics), not something the call wrote.
 */
const CALL_LOGS = ["tool_call_metrics"];

/** A digest of every row of every table: equal digests mean nothing was written in between. */
export async function tableDigest(db: Database): Promise<Record<string, string>> {
  const tables = (
    await db.prisma.$queryRawUnsafe<{ name: string }[]>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
  ).filter(({ name }) => !CALL_LOGS.includes(name));
  const digest: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await db.prisma.$queryRawUnsafe<{ md5: string }[]>(
      `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS md5 FROM "${name}" t`,
    );
    digest[name] = row!.md5;
  }
  return digest;
}
