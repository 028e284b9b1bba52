import { canAccessProject } from "@/server/auth/actor";
import { AppError } from "@/server/errors";
import { visibleMessages } from "@/server/db/mail-sql";
import type { MailEvent, ReservationEvent } from "@/server/events/bus";
import type { ServiceContext } from "../context";
import { isoTs } from "../format";
import { actingAgent } from "../agents/authenticate";
import { resolveProject } from "../projects/projects";
import { operatorViewer, viewerId, type Viewer } from "./viewer";

export interface StreamRequest {
  /** Omitted: the operator's stream of every project the actor may see (admin). */
  project_key?: string | null;
  agent_name?: string | null;
  agent_token?: string | null;
}

export interface StreamEvent {
  event: "ready" | "message" | "read" | "ack" | "reservation";
  data: Record<string, unknown>;
}

/**
 * New-mail events for one agent (its token required, as for its inbox) or for a whole project
 * (the operator's view, admin role). Message events carry the headline, never the body.
 * Reservation changes go to every stream of their project: they are the project's shared state.
 */
export async function* mailEvents(ctx: ServiceContext, request: StreamRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  const events = ctx.events;
  if (!events) throw new AppError("INTERNAL_ERROR", "The event stream needs the event bus.");
  if (!request.project_key) {
    if (request.agent_name?.trim()) throw new AppError("INVALID_ARGUMENT", "project is required with agent: an agent's stream is of its project.", { field: "project" });
    yield* everyProjectEvents(ctx, signal);
    return;
  }
  const project = await resolveProject(ctx, request.project_key, "project");
  const viewer: Viewer = request.agent_name?.trim()
    ? {
        kind: "agent",
        agent: await actingAgent(
          { ...ctx, project },
          { action: "The events stream", name: request.agent_name, token: request.agent_token, nameField: "agent", tokenField: "agent_token", optional: false },
        ),
      }
    : operatorViewer(ctx);
  const agentId = viewerId(viewer);

  // Agent ids are global: an agent's stream follows its mail into other projects (cross-project
  // sends and the reads of them); the operator's stream is the project's own traffic.
  yield* follow(ctx, signal, { project: project.slug, agent: viewer.kind === "agent" ? viewer.agent.name : null }, agentId, (event) =>
    agentId === null || event.type === "reservation" ? event.projectId === project.id : event.agentIds.includes(agentId) || event.senderId === agentId,
  );
}

/**
 * The overseer's stream of every project it may see (the dashboard's front page and unified
 * inbox). A scoped actor's projects are read once at the start: a project created later joins on
 * reconnect.
 */
async function* everyProjectEvents(ctx: ServiceContext, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  operatorViewer(ctx);
  let visible: Set<number> | null = null;
  if (ctx.actor.projectScopes !== "*") {
    const projects = await ctx.db.project.findMany({ select: { id: true, slug: true, humanKey: true } });
    visible = new Set(projects.filter((project) => canAccessProject(ctx.actor, project)).map((project) => project.id));
  }
  yield* follow(ctx, signal, { project: null, agent: null }, null, (event) => visible === null || visible.has(event.projectId));
}

/** Queues the bus's events that concern the viewer and yields them, with each message's headline, until the signal. */
async function* follow(
  ctx: ServiceContext,
  signal: AbortSignal,
  ready: Record<string, unknown>,
  agentId: number | null,
  concerns: (event: MailEvent) => boolean,
): AsyncGenerator<StreamEvent> {
  const queue: MailEvent[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = ctx.events!.subscribe((event) => {
    if (!concerns(event)) return;
    queue.push(event);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  try {
    yield { event: "ready", data: ready };
    while (!signal.aborted) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      const event = queue.shift()!;
      if (event.type === "reservation") {
        yield { event: "reservation", data: await reservationEventData(ctx, event) };
        continue;
      }
      if (event.type !== "message") {
        const reader = event.agentIds[0] === undefined ? null : await ctx.db.agent.findUnique({ where: { id: event.agentIds[0] }, select: { id: true, name: true } });
        yield { event: event.type, data: { message_id: event.messageId, agent_id: reader?.id ?? null, agent: reader?.name ?? null } };
        continue;
      }
      const [row] = await visibleMessages(ctx.db, {
        projectId: event.projectId,
        viewerId: agentId,
        ids: [event.messageId],
        includeBodies: false,
        limit: 1,
        order: "desc",
      });
      if (!row) continue;
      yield {
        event: "message",
        data: {
          id: row.id,
          thread_id: row.thread_id,
          topic: row.topic,
          subject: row.subject,
          from: row.sender_name,
          importance: row.importance,
          ack_required: row.ack_required,
          created_ts: isoTs(row.created_ts),
          ...(row.kind ? { kind: row.kind } : {}),
        },
      };
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", onAbort);
  }
}

async function reservationEventData(ctx: ServiceContext, event: ReservationEvent): Promise<Record<string, unknown>> {
  const holders = await ctx.db.agent.findMany({ where: { id: { in: event.agentIds } }, select: { name: true }, orderBy: { id: "asc" } });
  return { action: event.action, count: event.count, file_reservation_ids: event.reservationIds, agents: holders.map((holder) => holder.name) };
}
