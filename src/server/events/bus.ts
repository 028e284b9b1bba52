import pg from "pg";
import type { Database } from "@/server/db/client";
import { MAIL_EVENTS_CHANNEL } from "@/server/db/mail-sql";

// Wake-ups for new mail, reads, acks and reservation changes. Writers emit NOTIFY inside their own statement, so an
// event is seen exactly when the change commits, whichever instance made it: on Postgres every
// instance LISTENs on one dedicated connection; on PGlite the embedded database delivers the same
// notifications in process.

export interface MessageEvent {
  type: "message" | "read" | "ack";
  projectId: number;
  messageId: number;
  /** Recipients of a new message; the reader of a read or ack. */
  agentIds: number[];
  senderId?: number;
}

export type ReservationAction = "granted" | "renewed" | "released" | "force_released" | "expired";

/** File reservations of one project changed (reservations/events.ts writes these). */
export interface ReservationEvent {
  type: "reservation";
  projectId: number;
  action: ReservationAction;
  /** How many reservations changed; the id and holder lists are cut short to keep NOTIFY small. */
  count: number;
  reservationIds: number[];
  /** The holders of the reservations. */
  agentIds: number[];
}

export type MailEvent = MessageEvent | ReservationEvent;

export type MailEventListener = (event: MailEvent) => void;

export interface EventBus {
  subscribe(listener: MailEventListener): () => void;
  close(): Promise<void>;
}

interface WirePayload {
  t: MailEvent["type"];
  p: number;
  m: number;
  a: number[] | null;
  s?: number;
  /** Reservation events: the action and the reservation ids. */
  r?: ReservationAction;
  i?: number[];
  n?: number;
}

function parse(payload: string | undefined): MailEvent | undefined {
  if (!payload) return undefined;
  try {
    const wire = JSON.parse(payload) as WirePayload;
    if (wire.t === "reservation") {
      const reservationIds = wire.i ?? [];
      return { type: "reservation", projectId: wire.p, action: wire.r!, count: wire.n ?? reservationIds.length, reservationIds, agentIds: wire.a ?? [] };
    }
    return { type: wire.t, projectId: wire.p, messageId: wire.m, agentIds: wire.a ?? [], senderId: wire.s };
  } catch {
    return undefined;
  }
}

/** The NOTIFY payload for a read or an ack (new messages build theirs in SQL). */
export function wirePayload(event: MessageEvent): string {
  return JSON.stringify({ t: event.type, p: event.projectId, m: event.messageId, a: event.agentIds, s: event.senderId });
}

class ListenerSet {
  private readonly listeners = new Set<MailEventListener>();

  add(listener: MailEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(payload: string | undefined): void {
    const event = parse(payload);
    if (!event) return;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error("[events] listener failed:", error);
      }
    }
  }
}

async function postgresBus(url: string): Promise<EventBus> {
  const listeners = new ListenerSet();
  let client: pg.Client | undefined;
  let closed = false;
  let retryDelay = 250;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url });
    next.on("notification", (message) => listeners.emit(message.payload));
    next.on("error", (error) => {
      // Only the live connection triggers a reconnect (a stale one can still report errors).
      if (client !== next) return;
      console.error("[events] LISTEN connection lost:", error.message);
      reconnect();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${MAIL_EVENTS_CHANNEL}`);
    } catch (error) {
      next.end().catch(() => {});
      throw error;
    }
    if (closed) {
      // close() ran while this connection was being opened.
      await next.end().catch(() => {});
      return;
    }
    client = next;
    retryDelay = 250;
  };

  const reconnect = () => {
    const lost = client;
    client = undefined;
    lost?.end().catch(() => {});
    if (closed) return;
    setTimeout(() => {
      if (closed) return;
      connect().catch((error: Error) => {
        console.error("[events] reconnect failed:", error.message);
        retryDelay = Math.min(retryDelay * 2, 10_000);
        reconnect();
      });
    }, retryDelay).unref();
  };

  await connect();
  return {
    subscribe: (listener) => listeners.add(listener),
    close: async () => {
      closed = true;
      await client?.end();
    },
  };
}

async function pgliteBus(database: Database): Promise<EventBus> {
  const listeners = new ListenerSet();
  const unlisten = await database.pglite!.listen(MAIL_EVENTS_CHANNEL, (payload) => listeners.emit(payload));
  return {
    subscribe: (listener) => listeners.add(listener),
    close: () => unlisten(),
  };
}

export function createEventBus(database: Database, url?: string): Promise<EventBus> {
  if (database.kind === "pglite") return pgliteBus(database);
  if (!url) throw new Error("A Postgres event bus needs the database URL");
  return postgresBus(url);
}

/** Resolves with the first event accepted by `accept`, or undefined after `timeoutMs`. */
export function waitForEvent(
  bus: EventBus,
  accept: (event: MailEvent) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): { promise: Promise<MailEvent | undefined>; cancel: () => void } {
  let cancel = () => {};
  const promise = new Promise<MailEvent | undefined>((resolve) => {
    const finish = (event: MailEvent | undefined) => {
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener("abort", onAbort);
      resolve(event);
    };
    const onAbort = () => finish(undefined);
    const unsubscribe = bus.subscribe((event) => {
      if (accept(event)) finish(event);
    });
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    signal?.addEventListener("abort", onAbort);
    cancel = () => finish(undefined);
    // An abort that happened before the wait began fires no event: stop now, not at the timeout.
    if (signal?.aborted) finish(undefined);
  });
  return { promise, cancel };
}
