/**
 * The bridge between a Cello.ts request/response and the web-standard ones the
 * SDK's `WebStandardStreamableHTTPServerTransport` speaks. An SSE answer is
 * read back into events and handed to Cello.ts's SSE engine, which owns the
 * socket (heartbeats, backpressure, shutdown) as for any other stream.
 */
import { Response, SseEvent, type Request } from "@cellojs/core";

// Connection-level headers describe the hop, not the message; the body we pass is already whole.
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection", "te", "trailer"]);

/** A web `Request` with `request`'s method, URL, headers and (already read, size-checked) body. */
export function toWebRequest(request: Request, body: Uint8Array | undefined): globalThis.Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    // HTTP/2 pseudo-headers (":authority") are no header names for the Headers class.
    if (value === undefined || name.startsWith(":") || HOP_HEADERS.has(name)) continue;
    try {
      if (Array.isArray(value)) for (const one of value) headers.append(name, one);
      else headers.set(name, value);
    } catch {
      // A value Headers refuses (a character node:http let through) is left out: the SDK reads none but the MCP ones.
    }
  }
  const init: RequestInit = { method: request.method, headers };
  if (body !== undefined && request.method !== "GET" && request.method !== "HEAD") init.body = body as Uint8Array<ArrayBuffer>;
  return new globalThis.Request(requestUrl(request), init);
}

/** The absolute URL the SDK hands tools as `requestInfo.url`; the Host header, if it makes one. */
function requestUrl(request: Request): string {
  const host = request.getHeader("host") ?? request.getHeader(":authority");
  if (host !== undefined && request.url.startsWith("/")) {
    try {
      return new URL(`http://${host}${request.url}`).href;
    } catch {
      // A Host that is no host name (possible with allowedHosts "*"): fall through.
    }
  }
  return new URL(request.path.startsWith("/") ? request.path : "/", "http://localhost").href;
}

/**
 * A Cello.ts Response for the SDK's web Response: an event stream becomes an SSE
 * body the engine writes, anything else its bytes with status and headers.
 * `onStreamEnd` runs once when an SSE body ends or its client leaves.
 */
export async function fromWebResponse(web: globalThis.Response, onStreamEnd?: () => void): Promise<Response> {
  const headers: Record<string, string> = {};
  web.headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name)) headers[name] = value;
  });
  const type = web.headers.get("content-type") ?? "";
  if (web.body !== null && type.startsWith("text/event-stream")) {
    return Response.sse(new SseFrames(web.body, onStreamEnd), { status: web.status, headers });
  }
  const bytes = new Uint8Array(await web.arrayBuffer());
  if (bytes.byteLength === 0) return new Response({ kind: "empty" }, { status: web.status, headers });
  return new Response({ kind: "bytes", bytes }, { status: web.status, headers });
}

/**
 * The events of an SSE byte stream, as SseEvents. Not a generator: its `return()`
 * cancels the stream at once (the SDK then forgets the connection), even while a
 * read is pending, which an async generator's `return()` would wait behind.
 */
class SseFrames implements AsyncIterable<SseEvent>, AsyncIterator<SseEvent> {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #onEnd: (() => void) | undefined;
  #buffered = "";
  #ready: SseEvent[] = [];

  constructor(body: ReadableStream<Uint8Array>, onEnd: (() => void) | undefined) {
    this.#reader = body.getReader();
    this.#onEnd = onEnd;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<SseEvent>> {
    while (this.#ready.length === 0) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await this.#reader.read();
      } catch {
        return this.#finish();
      }
      if (chunk.done) return this.#finish();
      this.#parse(this.#decoder.decode(chunk.value, { stream: true }));
    }
    return { done: false, value: this.#ready.shift()! };
  }

  async return(): Promise<IteratorResult<SseEvent>> {
    const result = this.#finish();
    await this.#reader.cancel().catch(() => {});
    return result;
  }

  #finish(): IteratorResult<SseEvent> {
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
    return { done: true, value: undefined };
  }

  /**
   * Split complete frames off the buffer (the SDK writes `\n` line ends, one frame
   * per chunk). Comments (the SDK's keep-alives) are dropped: the engine sends its own heartbeats.
   */
  #parse(text: string): void {
    this.#buffered += text;
    let end: number;
    while ((end = this.#buffered.indexOf("\n\n")) !== -1) {
      const frame = this.#buffered.slice(0, end);
      this.#buffered = this.#buffered.slice(end + 2);
      let data: string[] | undefined;
      let event: string | undefined;
      let id: string | undefined;
      let retry: number | undefined;
      for (const line of frame.split("\n")) {
        const colon = line.indexOf(":");
        if (colon === 0) continue;
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(line[colon + 1] === " " ? colon + 2 : colon + 1);
        if (field === "data") (data ??= []).push(value);
        else if (field === "event") event = value;
        else if (field === "id") id = value;
        else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value);
      }
      if (data === undefined && id === undefined && retry === undefined) continue;
      const options: { event?: string; id?: string; retry?: number } = {};
      if (event !== undefined) options.event = event;
      if (id !== undefined) options.id = id;
      if (retry !== undefined) options.retry = retry;
      this.#ready.push(new SseEvent((data ?? []).join("\n"), options));
    }
  }
}
