/**
 * A reconnecting Server-Sent Events client as an async iterator.
 *
 * Implements the fetch-level half of WHATWG HTML "9.2.3 Processing model"
 * (status and Content-Type checks, reconnection, `Last-Event-ID`) on top of
 * `fetch`, so unlike `EventSource` it can send any method, headers and body.
 * Uses only fetch, ReadableStream, TextDecoder, AbortController and setTimeout,
 * so the same code runs in Node 20+ and in browsers.
 */
import { reconnectDelay } from "./backoff.js";
import { SseClientError, SseClientErrorCode } from "./errors.js";
import { createParser, type ReceivedEvent } from "./parser.js";

/**
 * An event yielded by {@link connect}: a union with one member per entry of
 * `TEvents`, so checking `ev.event` narrows `ev.data`.
 *
 * With the default map (`Record<string, string>`) this is the same shape as
 * {@link ReceivedEvent}: `{ event: string; data: string; id: string; retry?: number }`.
 */
export type TypedSseEvent<TEvents extends object = Record<string, string>> = {
  [Name in keyof TEvents & string]: {
    /** Event type; `"message"` when the server sent none. */
    event: Name;
    /** The data, JSON-decoded when the `json` option selects this event. */
    data: TEvents[Name];
    /** Last event ID at dispatch time (persists across events and reconnects). */
    id: string;
    /** Reconnection time from a `retry:` field in this event's block, if any. */
    retry?: number;
  };
}[keyof TEvents & string];

/**
 * The `fetch` signature {@link connect} needs; `globalThis.fetch` fits, and so
 * does any wrapper that adds auth, logging or a proxy.
 */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * A request body that can be sent again on every reconnect. Streams are
 * excluded: they can be read only once.
 */
export type ReplayableBody = Exclude<NonNullable<RequestInit["body"]>, ReadableStream>;

/** What {@link ConnectOptions.onReconnect} receives before each wait. */
export interface ReconnectInfo {
  /** Consecutive failed attempts; 0 when the server ended a healthy stream (plain reconnect). */
  failures: number;
  /** How long the client waits before the next attempt, in milliseconds. */
  delayMs: number;
  /** The network error that ended the attempt, or `undefined` when the server closed the stream. */
  error: unknown;
  /** The ID the next request sends as `Last-Event-ID` (`""`: header omitted). */
  lastEventId: string;
}

/** Options for {@link connect}. */
export interface ConnectOptions<TEvents extends object = Record<string, string>> {
  /**
   * HTTP method.
   * @default "GET"
   */
  method?: string;
  /** Extra request headers. `Accept: text/event-stream` and `Cache-Control: no-cache` are added unless given here; `Last-Event-ID` is always managed by the client (use `lastEventId`). */
  headers?: ConstructorParameters<typeof Headers>[0];
  /** Request body, resent unchanged on every reconnect. */
  body?: ReplayableBody;
  /**
   * ID to resume from: sent as `Last-Event-ID` on the first request.
   * @default "" (no header)
   */
  lastEventId?: string;
  /** Aborting it cancels the request or the pending wait and ends the iteration without an error. */
  signal?: AbortSignal;
  /**
   * How long to wait before reconnecting, in milliseconds, until the server sets
   * it with a `retry:` field (WHATWG's "reconnection time").
   * @default 3000
   */
  reconnectDelayMs?: number;
  /**
   * Cap for the exponential backoff after consecutive failures, in milliseconds.
   * A longer `retry:` from the server is still honoured.
   * @default 30000
   */
  maxReconnectDelayMs?: number;
  /**
   * @deprecated Renamed {@link ConnectOptions.reconnectDelayMs} ("retry" is the
   * server's SSE field); this name still works and will be removed in the next release.
   */
  retryMs?: number;
  /**
   * @deprecated Renamed {@link ConnectOptions.maxReconnectDelayMs}; this name still
   * works and will be removed in the next release.
   */
  maxRetryMs?: number;
  /**
   * JSON-decode `data`: `true` for every event, or the list of event types to decode.
   * Data that fails to parse ends the iteration with an {@link SseClientError}.
   * @default false
   */
  json?: boolean | readonly (keyof TEvents & string)[];
  /**
   * The fetch implementation.
   * @default globalThis.fetch
   */
  fetch?: FetchLike;
  /** Called each time a response is accepted (status 200, `text/event-stream`). Do not read its body. */
  onOpen?: (response: Response) => void;
  /** Called before each wait for a reconnect, with the delay and the reason. */
  onReconnect?: (info: ReconnectInfo) => void;
}

const DEFAULT_RECONNECT_DELAY_MS = 3000;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 30_000;
// setTimeout stores its delay as a signed 32-bit integer; anything larger
// fires immediately. A server `retry:` can be arbitrarily long.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Opens a Server-Sent Events stream and yields its events, reconnecting until
 * the server answers 204, the connection fails for good, or you stop.
 *
 * The request starts on the first `next()` (the first turn of `for await`).
 * When the stream ends or the network fails, the client waits the server's
 * `retry:` (or `reconnectDelayMs`) plus a growing, jittered backoff after consecutive
 * failures, then reconnects with `Last-Event-ID`. A status other than 200 or
 * 204, or a Content-Type other than `text/event-stream`, throws an
 * {@link SseClientError}. `break` or aborting `signal` closes the connection
 * and clears any timer.
 *
 * @param url - Absolute URL (or relative to `location` in a browser).
 * @param options - See {@link ConnectOptions}: `method` ("GET"), `headers`, `body`, `lastEventId` (""), `signal`, `reconnectDelayMs` (3000), `maxReconnectDelayMs` (30000), `json` (false), `fetch` (globalThis.fetch), `onOpen`, `onReconnect`.
 * @returns An async generator of events.
 * @throws TypeError for an unparsable URL, invalid headers, a body on GET/HEAD, a `lastEventId` with NUL/CR/LF, or no fetch; RangeError for a negative or non-finite `reconnectDelayMs`/`maxReconnectDelayMs`; TypeError for one of them given under both its name and its deprecated name.
 *
 * @example
 * ```ts
 * for await (const ev of connect("https://example.com/events")) {
 *   console.log(ev.event, ev.data); // data: string
 * }
 *
 * type Events = { count: { value: number }; complete: string };
 * for await (const ev of connect<Events>("https://example.com/count", { json: true })) {
 *   if (ev.event === "count") console.log(ev.data.value); // data: { value: number }
 *   else break;
 * }
 * ```
 */
export function connect(
  url: string | URL,
  options: ConnectOptions<Record<string, unknown>> & { json: true | readonly string[] },
): AsyncGenerator<TypedSseEvent<Record<string, unknown>>, void, undefined>;
export function connect<TEvents extends object = Record<string, string>>(
  url: string | URL,
  options?: ConnectOptions<TEvents>,
): AsyncGenerator<TypedSseEvent<TEvents>, void, undefined>;
export function connect(
  url: string | URL,
  options: ConnectOptions<Record<string, unknown>> = {},
): AsyncGenerator<TypedSseEvent<Record<string, unknown>>, void, undefined> {
  // Validate eagerly: fetch rejects a malformed request with the same
  // TypeError as a network failure, which would be retried forever.
  const href = resolveUrl(url);
  const reconnectDelayMs = delayOption(options, "reconnectDelayMs", "retryMs", DEFAULT_RECONNECT_DELAY_MS);
  const maxReconnectDelayMs = delayOption(options, "maxReconnectDelayMs", "maxRetryMs", DEFAULT_MAX_RECONNECT_DELAY_MS);
  if (typeof (options.fetch ?? globalThis.fetch) !== "function") {
    throw new TypeError("connect(): no fetch implementation; pass one as the `fetch` option");
  }
  const method = (options.method ?? "GET").toUpperCase();
  if (options.body != null && (method === "GET" || method === "HEAD")) {
    throw new TypeError(`connect(): a ${method} request cannot have a body; set method: "POST"`);
  }
  if (options.lastEventId !== undefined && /[\0\r\n]/.test(options.lastEventId)) {
    throw new TypeError("connect(): lastEventId cannot contain NUL, CR or LF (no event stream can produce one)");
  }
  requestHeaders(options.headers, options.lastEventId ?? ""); // throws a TypeError for invalid headers
  return streamEvents(href, options, reconnectDelayMs, maxReconnectDelayMs);
}

/** What survives from one connection attempt to the next. */
interface StreamState {
  lastEventId: string;
  reconnectionTime: number;
  failures: number;
}

/** How one attempt ended: `"stop"` (204 or aborted) or a reason to reconnect. */
type AttemptOutcome = "stop" | { failed: false } | { failed: true; error: unknown };

async function* streamEvents(
  href: string,
  options: ConnectOptions<Record<string, unknown>>,
  reconnectDelayMs: number,
  maxReconnectDelayMs: number,
): AsyncGenerator<TypedSseEvent<Record<string, unknown>>, void, undefined> {
  const { signal, onReconnect } = options;
  const decode = createDecoder(options.json, href);
  const state: StreamState = { lastEventId: options.lastEventId ?? "", reconnectionTime: reconnectDelayMs, failures: 0 };

  while (!signal?.aborted) {
    const outcome = yield* streamOnce(href, options, state, decode);
    if (outcome === "stop" || signal?.aborted) return;

    // 9.2.3, reestablish the connection: "Wait a delay equal to the
    // reconnection time of the event source. Optionally, wait some more."
    if (outcome.failed) state.failures += 1;
    const delayMs = reconnectDelay(state.reconnectionTime, state.failures, maxReconnectDelayMs);
    onReconnect?.({
      failures: state.failures,
      delayMs,
      error: outcome.failed ? outcome.error : undefined,
      lastEventId: state.lastEventId,
    });
    if (!(await sleep(delayMs, signal))) return;
  }
}

/** One request: yields its events and reports how it ended. Throws only for failures that are final. */
async function* streamOnce(
  href: string,
  options: ConnectOptions<Record<string, unknown>>,
  state: StreamState,
  decode: (event: ReceivedEvent) => TypedSseEvent<Record<string, unknown>>,
): AsyncGenerator<TypedSseEvent<Record<string, unknown>>, AttemptOutcome, undefined> {
  const { signal } = options;
  // Called as a plain function: browsers throw "Illegal invocation" when
  // fetch runs with `this` bound to something other than the global object.
  const fetchImpl: FetchLike = options.fetch ?? globalThis.fetch;
  // One controller per attempt: aborting it is how every exit path (break,
  // error, user abort, stream end) releases the socket.
  const connection = new AbortController();
  const abortConnection = () => connection.abort(signal?.reason);
  signal?.addEventListener("abort", abortConnection, { once: true });

  try {
    const init: RequestInit = {
      method: options.method ?? "GET",
      headers: requestHeaders(options.headers, state.lastEventId),
      body: options.body ?? null,
      signal: connection.signal,
    };
    let response: Response;
    try {
      response = await fetchImpl(href, init);
    } catch (error) {
      return signal?.aborted ? "stop" : { failed: true, error };
    }

    // 9.2.7 Authoring notes: "a client can be told to stop reconnecting using
    // the HTTP 204 No Content response code."
    if (response.status === 204) {
      discardBody(response);
      return "stop";
    }
    // 9.2.3: "If res's status is not 200, or if res's `Content-Type` is not
    // `text/event-stream`, then fail the connection." Failing is final.
    if (response.status !== 200) {
      discardBody(response);
      throw new SseClientError(
        SseClientErrorCode.BAD_STATUS,
        `Event stream ${href} failed: expected HTTP status 200, got ${response.status}${response.statusText ? ` ${response.statusText}` : ""}. Not reconnecting.`,
        { url: href, status: response.status },
      );
    }
    const contentType = response.headers.get("content-type");
    if (!isEventStreamType(contentType)) {
      discardBody(response);
      throw new SseClientError(
        SseClientErrorCode.BAD_CONTENT_TYPE,
        `Event stream ${href} failed: expected Content-Type text/event-stream, got ${contentType === null ? "none" : JSON.stringify(contentType)} (HTTP status 200). Not reconnecting.`,
        { url: href, status: response.status },
      );
    }

    state.failures = 0;
    options.onOpen?.(response);
    if (response.body === null) return { failed: false };

    const pending: ReceivedEvent[] = [];
    // A fresh parser per response (a new stream: BOM and buffers reset), seeded
    // with the ID the previous one ended with: the event source keeps it.
    const parser = createParser({
      onEvent: (event) => pending.push(event),
      onRetry: (ms) => {
        state.reconnectionTime = ms;
      },
      lastEventId: state.lastEventId,
    });
    const reader = response.body.getReader();
    try {
      while (true) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          return signal?.aborted ? "stop" : { failed: true, error };
        }
        if (chunk.done) return { failed: false };
        parser.feed(chunk.value);
        state.lastEventId = parser.lastEventId;
        for (let index = 0; index < pending.length; index += 1) {
          yield decode(pending[index]!);
          // An abort from inside the consumer's loop body also drops the rest of the batch.
          if (signal?.aborted) return "stop";
        }
        pending.length = 0;
      }
    } finally {
      // Covers fetch implementations that ignore `signal`.
      reader.cancel().catch(ignore);
    }
  } finally {
    signal?.removeEventListener("abort", abortConnection);
    connection.abort();
  }
}

function ignore(): void {}

/** Lets the connection go without reading a body we will not use. */
function discardBody(response: Response): void {
  response.body?.cancel().catch(ignore);
}

function requestHeaders(init: ConnectOptions["headers"], lastEventId: string): Headers {
  const headers = new Headers(init);
  // 9.2.3: the request's header list is (`Accept`, `text/event-stream`); the
  // cache directive keeps proxies from answering with a stored body.
  if (!headers.has("accept")) headers.set("accept", "text/event-stream");
  if (!headers.has("cache-control")) headers.set("cache-control", "no-cache");
  // 9.2.4 The `Last-Event-ID` header: sent only when the last event ID string
  // is not empty; an `id:` with an empty value is how a server stops it.
  if (lastEventId === "") headers.delete("last-event-id");
  else headers.set("last-event-id", utf8ByteString(lastEventId));
  return headers;
}

/**
 * 9.2.4: the header value is the last event ID string "encoded as UTF-8".
 * fetch header values are ByteStrings (one char per byte, <= U+00FF), so
 * non-ASCII IDs are passed as their UTF-8 bytes, one char each.
 */
function utf8ByteString(value: string): string {
  let ascii = true;
  for (let index = 0; index < value.length; index += 1) {
    if (value.charCodeAt(index) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return value;
  let byteString = "";
  for (const byte of new TextEncoder().encode(value)) byteString += String.fromCharCode(byte);
  return byteString;
}

/** 9.2.3 compares the type "ignoring any MIME type parameters"; MIME essences are case-insensitive. */
function isEventStreamType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const semicolon = contentType.indexOf(";");
  const essence = semicolon === -1 ? contentType : contentType.slice(0, semicolon);
  return essence.trim().toLowerCase() === "text/event-stream";
}

function createDecoder(
  json: ConnectOptions<Record<string, unknown>>["json"],
  href: string,
): (event: ReceivedEvent) => TypedSseEvent<Record<string, unknown>> {
  if (json === undefined || json === false) return (event) => event;
  const names = json === true ? undefined : new Set<string>(json);
  return (event) => {
    if (names !== undefined && !names.has(event.event)) return event;
    try {
      return { ...event, data: JSON.parse(event.data) as unknown };
    } catch (cause) {
      throw new SseClientError(
        SseClientErrorCode.INVALID_JSON,
        `Event stream ${href}: data of event "${event.event}" is not valid JSON: ${JSON.stringify(truncate(event.data))}.`,
        { url: href, event: event.event, cause },
      );
    }
  };
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function resolveUrl(url: string | URL): string {
  // In a browser (or Deno with --location) relative URLs resolve like fetch's do.
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return new URL(url, base).href;
  } catch (cause) {
    throw new TypeError(`connect(): ${JSON.stringify(String(url))} is not a valid URL`, { cause });
  }
}

/**
 * A delay option, read under its name or its deprecated one (`retryMs`, from
 * when "retry" meant both this and the server's field), `fallback` when neither is given.
 */
function delayOption(
  options: ConnectOptions<Record<string, unknown>>,
  name: "reconnectDelayMs" | "maxReconnectDelayMs",
  deprecatedName: "retryMs" | "maxRetryMs",
  fallback: number,
): number {
  const value = options[name];
  const deprecated = options[deprecatedName];
  if (value !== undefined && deprecated !== undefined) {
    throw new TypeError(`connect(): ${deprecatedName} is the deprecated name of ${name}; pass ${name} only`);
  }
  const delay = value ?? deprecated ?? fallback;
  if (!Number.isFinite(delay) || delay < 0) {
    throw new RangeError(`connect(): ${value !== undefined ? name : deprecatedName} must be a finite number >= 0, got ${delay}`);
  }
  return delay;
}

/** Resolves `true` after `ms`, or `false` as soon as `signal` aborts; leaves no timer or listener behind. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, Math.min(ms, MAX_TIMER_MS));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
