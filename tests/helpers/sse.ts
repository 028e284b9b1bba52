// A minimal Server-Sent Events client over fetch, for /api/events: it parses `event:`/`data:`
// frames (ignoring `retry:` and `: keepalive` comments) and hands them out one by one.

export interface SseEvent {
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/**
 * How long a read waits for its event. Every event comes from a wake-up that takes milliseconds;
 * without the wake-up the read would block until the test's own timeout, saying nothing of why.
 */
const EVENT_WITHIN_MS = 15_000;

export class SseReader {
  private buffer = "";
  private readonly queue: SseEvent[] = [];
  private readonly decoder = new TextDecoder();
  /** A read still outstanding when a wait gave up, so that the chunk it brings is not lost. */
  private pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** The next event; rejects if the stream ends first or nothing comes within `withinMs`. */
  next(withinMs = EVENT_WITHIN_MS): Promise<SseEvent> {
    return this.nextBefore(Date.now() + withinMs, withinMs);
  }

  /** Reads until an event satisfies `accept` (within `withinMs` in all); returns it with everything skipped on the way. */
  async until(accept: (event: SseEvent) => boolean, withinMs = EVENT_WITHIN_MS): Promise<{ match: SseEvent; skipped: SseEvent[] }> {
    const deadline = Date.now() + withinMs;
    const skipped: SseEvent[] = [];
    for (;;) {
      const event = await this.nextBefore(deadline, withinMs);
      if (accept(event)) return { match: event, skipped };
      skipped.push(event);
    }
  }

  private async nextBefore(deadline: number, withinMs: number): Promise<SseEvent> {
    while (this.queue.length === 0) {
      this.pending ??= this.reader.read();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<"expired">((resolve) => (timer = setTimeout(() => resolve("expired"), Math.max(0, deadline - Date.now()))));
      const read = await Promise.race([this.pending, expired]).finally(() => clearTimeout(timer));
      if (read === "expired") throw new Error(`No event within ${withinMs} ms.`);
      this.pending = undefined;
      if (read.done) throw new Error("The event stream ended.");
      this.buffer += this.decoder.decode(read.value, { stream: true });
      this.drainFrames();
    }
    return this.queue.shift()!;
  }

  private drainFrames(): void {
    for (let end = this.buffer.indexOf("\n\n"); end >= 0; end = this.buffer.indexOf("\n\n")) {
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) this.queue.push({ event, data: JSON.parse(data.join("\n")) });
    }
  }
}

export interface EventStream {
  response: Response;
  /** The parsed stream (only for a 200 text/event-stream answer; read error bodies from `response`). */
  events: SseReader;
  /** Aborts the request (the server sees the client go away). */
  close(): void;
}

/** GET /api/events with the given query (and extra request headers); check `response.status` before reading `events`. */
export async function openEventStream(baseUrl: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<EventStream> {
  const controller = new AbortController();
  const url = new URL("/api/events", baseUrl);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const response = await fetch(url, { headers: { ...headers, accept: "text/event-stream" }, signal: controller.signal });
  let events: SseReader | undefined;
  return {
    response,
    get events() {
      if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
        throw new Error(`Not an event stream: HTTP ${response.status} ${response.headers.get("content-type")}`);
      }
      return (events ??= new SseReader(response.body!.getReader()));
    },
    close: () => controller.abort(),
  };
}
