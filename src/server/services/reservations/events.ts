import { Prisma as P } from "@/generated/prisma/client";
import type { Db } from "@/server/db/client";
import { MAIL_EVENTS_CHANNEL } from "@/server/db/mail-sql";
import type { ReservationAction } from "@/server/events/bus";

// Reservation changes reach the event bus like mail does: NOTIFY in the statement or transaction
// that makes the change, so subscribers hear of it exactly when it commits, on every instance.
// NOTIFY payloads are limited to 8000 bytes: the id and holder lists are cut short (count is whole).
// The same statement or transaction queues the change for the Git archive: one archive_outbox row
// (kind 'file_reservation', every changed id) per project, so the archive's reservation files
// follow every grant, renewal, release, expiry and force-release.
const EVENT_IDS_MAX = 400;
const EVENT_AGENTS_MAX = 100;

export interface ChangedRow {
  id: number;
  project_id: number;
  agent_id: number;
}

/** One event per project for `rows`, sent when the surrounding transaction commits. */
export async function notifyReservations(db: Db, projectId: number, action: ReservationAction, rows: { id: number; agentId: number }[]): Promise<void> {
  if (rows.length === 0) return;
  const ids = rows.map((row) => row.id).slice(0, EVENT_IDS_MAX);
  const agents = [...new Set(rows.map((row) => row.agentId))].slice(0, EVENT_AGENTS_MAX);
  const payload = JSON.stringify({ t: "reservation", p: projectId, r: action, n: rows.length, i: ids, a: agents });
  await db.$executeRaw`SELECT pg_notify(${MAIL_EVENTS_CHANNEL}, ${payload})`;
  const outbox = JSON.stringify({ reservation_ids: [...new Set(rows.map((row) => row.id))].sort((a, b) => a - b) });
  await db.$executeRaw`INSERT INTO archive_outbox (project_id, kind, payload) VALUES (${projectId}, 'file_reservation', ${outbox}::jsonb)`;
}

/**
 * Runs a data-modifying statement `changed` (RETURNING at least id, project_id, agent_id) and
 * notifies one event per project it touched, in the same statement, which also queues the
 * change for the archive (a data-modifying WITH runs whether or not the query reads it).
 */
export function changedWithNotify<R extends ChangedRow>(db: Db, action: ReservationAction, changed: P.Sql): Promise<R[]> {
  return db.$queryRaw<(R & { notices: number })[]>`
    WITH changed AS (${changed}),
    notified AS (
      SELECT pg_notify(${MAIL_EVENTS_CHANNEL}, json_build_object(
        't', 'reservation', 'p', project_id, 'r', ${action}::text, 'n', count(*),
        'i', (array_agg(id ORDER BY id))[1:${EVENT_IDS_MAX}],
        'a', (array_agg(DISTINCT agent_id))[1:${EVENT_AGENTS_MAX}])::text)
      FROM changed GROUP BY project_id
    ),
    outbox AS (
      INSERT INTO archive_outbox (project_id, kind, payload)
      SELECT project_id, 'file_reservation', jsonb_build_object('reservation_ids', jsonb_agg(id ORDER BY id))
      FROM changed GROUP BY project_id
    )
    SELECT changed.*, (SELECT count(*) FROM notified)::int AS notices FROM changed ORDER BY id`.then((rows) =>
    rows.map(({ notices: _notices, ...row }) => row as unknown as R),
  );
}

/** Releases (released_ts = now) the unreleased reservations `where` selects, with one event per project. */
export function releaseWhere(db: Db, action: ReservationAction, now: Date, where: P.Sql): Promise<ChangedRow[]> {
  return changedWithNotify<ChangedRow>(
    db,
    action,
    P.sql`UPDATE file_reservations SET released_ts = ${now} WHERE released_ts IS NULL AND (${where}) RETURNING id, project_id, agent_id`,
  );
}
