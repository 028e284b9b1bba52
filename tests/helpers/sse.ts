// A minimal Server-Sent Events client over fetch, for /api/events: it parses `event:`/`data:`
// frames (ignoring `retry:` and `: keepalive` comments) and hands them out one by one.

export interface SseEvent {
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

export class SseReader {
  private buffer = "";
  private readonly queue: SseEvent[] = [];
  private readonly decoder = new TextDecoder();

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** The next event; rejects if the stream ends first. */
  async next(): Promise<SseEvent> {
    while (this.queue.length === 0) {
      const { done, value } = await this.reader.read();
      if (done) throw new Error("The event stream ended.");
      this.buffer += this.decoder.decode(value, { stream: true });
      this.drainFrames();
    }
    return this.queue.shift()!;
  }

  /** Reads until an event satisfies `accept`; returns it with everything skipped on the way. */
  async until(accept: (event: SseEvent) => boolean): Promise<{ match: SseEvent; skipped: SseEvent[] }> {
    const skipped: SseEvent[] = [];
    for (;;) {
      const event = await this.next();
      if (accept(event)) return { match: event, skipped };
      skipped.push(event);
    }
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

/** GET /api/events with the given query; check `response.status` before reading `events`. */
export async function openEventStream(baseUrl: string, params: Record<string, string>): Promise<EventStream> {
  const controller = new AbortController();
  const url = new URL("/api/events", baseUrl);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const response = await fetch(url, { headers: { accept: "text/event-stream" }, signal: controller.signal });
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
