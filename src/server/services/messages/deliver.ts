import type { Agent, Project } from "@/generated/prisma/client";
import { AppError, isUniqueViolation, quote } from "@/server/errors";
import { insertMessages, recipientsOf, visibleMessages, type InsertedMessage } from "@/server/db/mail-sql";
import type { Db } from "@/server/db/client";
import { withTransaction, type ServiceContext } from "../context";
import type { PreparedAttachment } from "../attachments/input";
import { attachmentViews } from "../attachments/meta";
import { storeBlobs } from "../attachments/store";
import { enforceContactPolicy } from "../contacts/enforce";
import { isoTs } from "../format";
import { assertMaySend, assertProjectOpen } from "../lifecycle/guards";
import { archiveSurfaceFilter, guardArchiveSurfaces } from "./archive-guard";
import { routeRecipients, type RecipientKind, type RoutedDelivery } from "./routing";
import { messageBase, withRecipients, type MessageBase, type RecipientLists } from "./views";
import { groupByMessage, recipientLists } from "./viewer";

export interface DeliveryPayload extends MessageBase, RecipientLists {}

export interface SendResult {
  deliveries: { project: string; payload: DeliveryPayload }[];
  count: number;
  verified_sender: true;
  /** Present when an idempotency_key matched an earlier call: nothing was delivered this time. */
  idempotent_replay?: true;
}

export interface Outgoing {
  project: Project;
  sender: Agent;
  lists: Record<RecipientKind, string[]>;
  subject: string;
  bodyMd: string;
  importance: string;
  ackRequired: boolean;
  threadId: string | null;
  topic: string | null;
  idempotency?: { key: string; tool: string };
  /** Recipients already resolved (broadcast, overseer); skips name routing. */
  routed?: RoutedDelivery[];
  /**
   * Contact-policy enforcement (send and reply); absent for mail that is not an agent's own
   * (the human overseer, a contact request, which checks block_all itself).
   */
  contacts?: { autoContact: boolean };
  /** Checked and read already (../attachments/input.ts); stored with the messages, all or nothing. */
  attachments?: PreparedAttachment[];
}

export function assertWithinLimits(ctx: ServiceContext, bodyMd: string, recipientCount: number): void {
  const bytes = Buffer.byteLength(bodyMd, "utf8");
  if (bytes > ctx.config.maxBodyBytes) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      `body_md is ${bytes} bytes; the limit is ${ctx.config.maxBodyBytes} bytes (MAX_BODY_BYTES).`,
      { field: "body_md" },
    );
  }
  if (recipientCount > ctx.config.maxRecipients) {
    throw new AppError(
      "TOO_MANY_RECIPIENTS",
      `${recipientCount} recipients; at most ${ctx.config.maxRecipients} per message (MAX_RECIPIENTS).`,
      { field: "to" },
    );
  }
}

/** The first result of a call made earlier with the same idempotency key, rebuilt from the database. */
export async function replayIdempotent(ctx: ServiceContext, sender: Agent, key: string, tool: string): Promise<SendResult | undefined> {
  const record = await ctx.db.idempotencyKey.findUnique({ where: { senderId_key: { senderId: sender.id, key } } });
  if (!record) return undefined;
  if (record.tool !== tool) {
    throw new AppError("INVALID_ARGUMENT", `idempotency_key '${quote(key)}' was already used by ${record.tool}; use a new key for ${tool}.`, {
      field: "idempotency_key",
    });
  }
  const messages = await ctx.db.message.findMany({ where: { id: { in: record.messageIds } }, select: { id: true, projectId: true } });
  const projects = await ctx.db.project.findMany({ where: { id: { in: messages.map((m) => m.projectId) } } });
  const viewer = { kind: "agent" as const, agent: sender };
  const rows = (
    await Promise.all(
      projects.map((project) =>
        visibleMessages(ctx.db, { projectId: project.id, viewerId: sender.id, ids: record.messageIds, includeBodies: true, limit: record.messageIds.length, order: "asc" }),
      ),
    )
  ).flat();
  const recipients = groupByMessage(await recipientsOf(ctx.db, rows.map((row) => row.id)));
  const keyByProject = new Map(projects.map((project) => [project.id, project.humanKey]));
  const deliveries = rows
    .sort((a, b) => a.id - b.id)
    .map((row) => ({
      project: keyByProject.get(row.project_id)!,
      payload: withRecipients(messageBase(row, true), recipientLists(recipients.get(row.id) ?? [], row.sender_id, viewer)),
    }));
  return { deliveries, count: deliveries.length, verified_sender: true, idempotent_replay: true };
}

/**
 * Delivers one message: a row in the sender's project for local recipients plus one row per other
 * project addressed, all in one statement (with its attachments' blobs, in one transaction), so a
 * send reaches every recipient or none.
 */
export async function deliver(ctx: ServiceContext, outgoing: Outgoing): Promise<SendResult> {
  assertMaySend(outgoing.project, outgoing.sender);
  const routed = outgoing.routed ?? (await routeRecipients(ctx, outgoing.project, outgoing.sender, outgoing.lists));
  for (const delivery of routed) assertProjectOpen(delivery.project);
  const recipientCount = routed.reduce((sum, delivery) => sum + delivery.recipients.length, 0);
  assertWithinLimits(ctx, outgoing.bodyMd, recipientCount);
  if (routed.length === 0) return { deliveries: [], count: 0, verified_sender: true };
  if (outgoing.contacts) {
    await enforceContactPolicy(ctx, {
      senderProject: outgoing.project,
      sender: outgoing.sender,
      recipients: routed.flatMap((delivery) => delivery.recipients.map(({ agent }) => ({ agent, project: delivery.project }))),
      threadId: outgoing.threadId,
      autoContact: outgoing.contacts.autoContact,
    });
  }
  const attachments = outgoing.attachments ?? [];
  const metas = attachments.map((attachment) => attachment.meta);
  const filter = archiveSurfaceFilter(ctx);
  const write = (db: Db, unlessReserved: typeof filter) =>
    insertMessages(db, {
      senderId: outgoing.sender.id,
      threadId: outgoing.threadId,
      topic: outgoing.topic,
      subject: outgoing.subject,
      bodyMd: outgoing.bodyMd,
      importance: outgoing.importance,
      ackRequired: outgoing.ackRequired,
      deliveries: routed.map((delivery) => ({
        projectId: delivery.project.id,
        recipients: delivery.recipients.map(({ agent, kind }) => ({ agentId: agent.id, kind })),
      })),
      idempotency: outgoing.idempotency,
      attachments: metas,
      unlessReserved,
    });
  // Every delivery is checked before any is written: a conflict anywhere writes nothing.
  const writeUnlessConflict = async (tx: ServiceContext): Promise<InsertedMessage[]> => {
    const rows = await write(tx.db, filter);
    if (rows.length || !filter) return rows;
    // Someone holds what may be an archive path: the full check throws on a real conflict.
    await guardArchiveSurfaces(tx, outgoing.sender, routed, outgoing.threadId, attachments.length > 0, filter.now);
    return write(tx.db, undefined);
  };
  let inserted;
  try {
    // Mail without attachments stays one statement; with them, the blobs join it in one transaction.
    inserted = attachments.length
      ? await withTransaction(ctx, async (tx) => {
          await storeBlobs(tx.db, attachments);
          return writeUnlessConflict(tx);
        })
      : await writeUnlessConflict(ctx);
  } catch (error) {
    // A concurrent retry with the same key committed first: return its result instead.
    if (outgoing.idempotency && isUniqueViolation(error)) {
      const replay = await replayIdempotent(ctx, outgoing.sender, outgoing.idempotency.key, outgoing.idempotency.tool);
      if (replay) return replay;
    }
    throw error;
  }

  const senderProject = outgoing.project;
  const deliveries = inserted.map((row, index) => {
    const delivery = routed[index]!;
    const crossProject = delivery.project.id !== outgoing.sender.projectId;
    const names = (kind: RecipientKind) => delivery.recipients.filter((r) => r.kind === kind).map((r) => r.agent.name);
    const payload: DeliveryPayload = {
      id: row.id,
      project_id: row.project_id,
      sender_id: outgoing.sender.id,
      thread_id: outgoing.threadId,
      topic: outgoing.topic,
      subject: outgoing.subject,
      importance: outgoing.importance,
      ack_required: outgoing.ackRequired,
      created_ts: isoTs(row.created_ts),
      attachments: attachmentViews(row.id, metas),
      from: outgoing.sender.name,
      ...(crossProject
        ? {
            from_project: senderProject.humanKey,
            from_project_slug: senderProject.slug,
            from_address: `project:${senderProject.slug}#${outgoing.sender.name}`,
          }
        : {}),
      body_md: outgoing.bodyMd,
      to: names("to"),
      cc: names("cc"),
      bcc: names("bcc"),
    };
    return { project: delivery.project.humanKey, payload };
  });
  return { deliveries, count: deliveries.length, verified_sender: true };
}
