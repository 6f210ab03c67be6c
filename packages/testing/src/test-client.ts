/**
 * TestClient: drive a Cello.ts app over a real socket on port 0, with a real
 * HTTP client (undici), and read SSE streams as a browser would (WHATWG parsing).
 */
import { createParser, type ReceivedEvent } from "@cellojs/client";
import type { App, ListenOptions } from "@cellojs/core";
import { Agent, request as undiciRequest, type Dispatcher } from "undici";

/** Options of a plain request. */
export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** A raw body. */
  body?: string | Uint8Array;
}

/** What a plain request resolves to. */
export interface TestResponse {
  status: number;
  /** Response headers, names in lower case. */
  headers: Record<string, string>;
  /** The body as text. */
  text: string;
  /** The body parsed as JSON (throws if it is not JSON). */
  readonly json: any;
}

/**
 * One received event, as a browser's EventSource would see it: `@cellojs/client`'s
 * type, re-exported (`event` is `"message"` when none was sent, `id` the last event ID
 * at dispatch, `""` until the server sends one, `retry` only when the block carried one).
 */
export type { ReceivedEvent };

/** Options of {@link TestClient.sse}. */
export interface SseRequestOptions {
  /** Stop (and disconnect) after this many events. */
  maxEvents?: number;
  /** Stop (and disconnect) after this long. Default 5000 ms. */
  timeoutMs?: number;
  /** Disconnect after this long, whatever was received (to test cancellation). */
  disconnectAfterMs?: number;
  headers?: Record<string, string>;
  /** Sent as the `Last-Event-ID` header. */
  lastEventId?: string;
  /** Default GET. */
  method?: string;
  body?: string | Uint8Array;
}

/** Why an SSE read ended. */
export type SseEndReason = "server-closed" | "max-events" | "timeout" | "disconnect";

/** What {@link TestClient.sse} resolves to. */
export interface SseResult {
  status: number;
  headers: Record<string, string>;
  events: ReceivedEvent[];
  /** Comment lines (heartbeats, the opening `ok`), text after the colon and one space. */
  comments: string[];
  /** Every byte received, decoded as UTF-8, for exact-bytes assertions. */
  raw: string;
  /** Why the read ended. */
  endedBy: SseEndReason;
}

/** A live SSE connection from {@link TestClient.openSse}. */
export interface SseHandle {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Events received so far (grows as they arrive). */
  readonly events: ReceivedEvent[];
  readonly comments: string[];
  /** True once the server ended the stream. */
  readonly ended: boolean;
  /**
   * The last event ID as a browser's EventSource holds it: what its reconnect
   * would send as `Last-Event-ID`. It moves with each event's id and with an
   * id-only block too (which dispatches no event). `""` until the server sends one.
   */
  readonly lastEventId: string;
  /** Resolves once `count` events in all have arrived; rejects after `timeoutMs` (default 5000) or if the stream ends first. */
  waitForEvents(count: number, timeoutMs?: number): Promise<ReceivedEvent[]>;
  /** Resolves once `count` comments in all have arrived. */
  waitForComments(count: number, timeoutMs?: number): Promise<string[]>;
  /** Resolves when the server ends the stream. */
  waitForEnd(timeoutMs?: number): Promise<void>;
  /** Disconnect (the server sees the client go away). */
  close(): void;
}

function lowerHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) result[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return result;
}

/**
 * A client bound to one running app.
 *
 * @example
 * const client = await TestClient.start(app);
 * const res = await client.get("/users/1");
 * expect(res.json).toEqual({ id: "1" });
 * const sse = await client.sse("/sse/counter", { maxEvents: 6 });
 * expect(sse.events.map((e) => e.event)).toEqual(["count", "count", "count", "count", "count", "complete"]);
 * await client.close();
 */
export class TestClient {
  /** The app's base URL, e.g. `http://127.0.0.1:43125`. */
  readonly url: string;
  readonly app: App;
  readonly #agent: Agent;

  private constructor(app: App, url: string) {
    this.app = app;
    this.url = url;
    // A private pool: closing the client closes every socket it opened.
    this.#agent = new Agent({ connections: 256, pipelining: 0 });
  }

  /**
   * Start `app` on 127.0.0.1, port 0 (a free port), and return a client for it.
   * @param listen - extra listen options (e.g. `{ http2: true }` is not supported here: use @cellojs/client for HTTP/2).
   */
  static async start(app: App, listen: Omit<ListenOptions, "port" | "host"> = {}): Promise<TestClient> {
    const address = await app.listen({ ...listen, host: "127.0.0.1", port: 0 });
    return new TestClient(app, address.url);
  }

  /** Send a request. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const headers: Record<string, string> = { ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
    }
    const res = await undiciRequest(this.url + path, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      dispatcher: this.#agent,
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      headers: lowerHeaders(res.headers),
      text,
      get json() {
        return JSON.parse(text);
      },
    };
  }

  /** GET `path`. */
  get(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request("GET", path, options);
  }
  /** POST `path`. */
  post(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request("POST", path, options);
  }
  /** PUT `path`. */
  put(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request("PUT", path, options);
  }
  /** PATCH `path`. */
  patch(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request("PATCH", path, options);
  }
  /** DELETE `path`. */
  delete(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request("DELETE", path, options);
  }
  /** HEAD `path`. */
  head(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request("HEAD", path, options);
  }
  /** OPTIONS `path`. */
  options(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request("OPTIONS", path, options);
  }

  /**
   * Open an SSE stream and collect it until the server ends it, `maxEvents`
   * arrive, `timeoutMs` passes, or `disconnectAfterMs` passes.
   * @example const { events } = await client.sse("/sse/counter", { maxEvents: 6 });
   */
  async sse(path: string, options: SseRequestOptions = {}): Promise<SseResult> {
    const handle = await this.openSse(path, options);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<SseResult>((resolve) => {
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (endedBy: SseEndReason) => {
        if (settled) return;
        settled = true;
        for (const timer of timers) clearTimeout(timer);
        if (endedBy !== "server-closed") handle.close();
        resolve({ status: handle.status, headers: handle.headers, events: [...handle.events], comments: [...handle.comments], raw: internals.get(handle)!.raw(), endedBy });
      };
      const internal = internals.get(handle)!;
      internal.onEvent = () => {
        if (options.maxEvents !== undefined && handle.events.length >= options.maxEvents) finish("max-events");
      };
      internal.onEnd = () => finish("server-closed");
      if (handle.ended) return finish("server-closed");
      internal.onEvent();
      timers.push(setTimeout(() => finish("timeout"), timeoutMs));
      if (options.disconnectAfterMs !== undefined) timers.push(setTimeout(() => finish("disconnect"), options.disconnectAfterMs));
    });
  }

  /**
   * Open an SSE stream and return a live handle: read events as they come,
   * interleaved with other actions, then `close()` it.
   */
  async openSse(path: string, options: Omit<SseRequestOptions, "maxEvents" | "timeoutMs" | "disconnectAfterMs"> = {}): Promise<SseHandle> {
    const headers: Record<string, string> = { ...options.headers };
    // Only one Accept header: the caller's, whatever its case, or ours.
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "accept")) headers.accept = "text/event-stream";
    if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId;
    const controller = new AbortController();
    const res = await undiciRequest(this.url + path, {
      method: (options.method ?? "GET") as Dispatcher.HttpMethod,
      headers,
      body: options.body,
      dispatcher: this.#agent,
      signal: controller.signal,
    });
    const events: ReceivedEvent[] = [];
    const comments: string[] = [];
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    let ended = false;
    const listeners = new Set<() => void>();
    const internal: HandleInternals = { raw: () => chunks.join(""), onEvent: () => {}, onEnd: () => {} };
    const notify = () => {
      for (const listener of [...listeners]) listener();
    };
    const parser = createParser({
      onEvent: (event: ReceivedEvent) => {
        events.push(event.retry === undefined ? { event: event.event, data: event.data, id: event.id } : { ...event });
        internal.onEvent();
        notify();
      },
      onComment: (comment) => {
        comments.push(comment);
        notify();
      },
    });
    const markEnded = () => {
      if (ended) return;
      ended = true;
      internal.onEnd();
      notify();
    };
    void (async () => {
      try {
        for await (const chunk of res.body) {
          chunks.push(decoder.decode(chunk as Uint8Array, { stream: true }));
          parser.feed(chunk as Uint8Array);
        }
      } catch {
        // aborted by close(): not an error for a test
      }
      markEnded();
    })();

    const waitUntil = <T>(ready: () => boolean, value: () => T, what: string, timeoutMs: number): Promise<T> =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (ready()) {
            cleanup();
            resolve(value());
          } else if (ended) {
            cleanup();
            reject(new Error(`SSE stream ended before ${what} (got ${events.length} events)`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (got ${events.length} events)`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });

    const handle: SseHandle = {
      status: res.statusCode,
      headers: lowerHeaders(res.headers),
      events,
      comments,
      get ended() {
        return ended;
      },
      get lastEventId() {
        return parser.lastEventId;
      },
      waitForEvents: (count, timeoutMs = 5000) => waitUntil(() => events.length >= count, () => [...events], `${count} events`, timeoutMs),
      waitForComments: (count, timeoutMs = 5000) => waitUntil(() => comments.length >= count, () => [...comments], `${count} comments`, timeoutMs),
      waitForEnd: (timeoutMs = 5000) =>
        new Promise<void>((resolve, reject) => {
          if (ended) return resolve();
          const timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for the stream to end`)), timeoutMs);
          const check = () => {
            if (ended) {
              clearTimeout(timer);
              listeners.delete(check);
              resolve();
            }
          };
          listeners.add(check);
        }),
      close: () => {
        controller.abort();
        res.body.destroy();
      },
    };
    internals.set(handle, internal);
    return handle;
  }

  /** Close every connection of this client and close the app gracefully. */
  async close(): Promise<void> {
    await this.#agent.destroy();
    await this.app.close({ graceMs: 1000 });
  }
}

interface HandleInternals {
  raw: () => string;
  onEvent: () => void;
  onEnd: () => void;
}

const internals = new WeakMap<SseHandle, HandleInternals>();
