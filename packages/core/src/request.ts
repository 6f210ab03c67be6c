/**
 * Request: what a handler reads. Cello's `request` with TypeScript naming:
 * method, path, params, query, headers, the body as bytes, text or JSON, and
 * a signal that fires when the client goes away.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { clientIp, type TrustFunction } from "./client-ip.js";
import { HttpError } from "./errors.js";
import type { Principal } from "./guards/guard.js";
import type { RouteContext, RouteInfo } from "./routes.js";
import { StreamDeadline, type StreamEndOptions } from "./sse/deadline.js";
import { kStreamDeadline, kStreamGone } from "./sse/report.js";
import { connectionSocket } from "./server.js";
import type { RequestValid } from "./validation/schema.js";

/** The raw node:http or node:http2 (compatibility API) request. */
export type RawRequest = IncomingMessage | Http2ServerRequest;

const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** @internal The method the pipeline records a routed request's route with. Not exported from the package. */
export const kRouted = Symbol("cello.request.routed");
/** @internal The method validation (validation/route.ts) records the validated input with. Not exported from the package. */
export const kValidated = Symbol("cello.request.validated");

const NOTHING_VALIDATED: RequestValid = Object.freeze({ params: undefined, query: undefined, headers: undefined, body: undefined });

/** @internal The property guards set `request.principal` through (guards/run.ts). Not exported from the package. */
export const kPrincipal = Symbol("cello.request.principal");

/**
 * An incoming HTTP request.
 *
 * @example
 * app.post("/items/{id}", async (req) => {
 *   const body = await req.json<{ name: string }>();
 *   return { id: req.params.id, name: body.name, sort: req.query.sort };
 * });
 */
export class Request {
  /** Upper-case method, e.g. `"GET"`. */
  readonly method: string;
  /** The request target as received, path and query: `/items/1?sort=asc`. */
  readonly url: string;
  /** The raw node request, for what this class does not cover. */
  readonly raw: RawRequest;

  /**
   * @internal `performance.now()` when the request arrived, set only while someone listens
   * on the `cello:http.response` diagnostics channel (0 otherwise): the clock is not read for nothing.
   */
  startedAt = 0;
  #params: Readonly<Record<string, string>> = EMPTY_PARAMS;
  #bodyLimit: number;
  #queryStart: number;
  #query: Record<string, string> | undefined;
  #searchParams: URLSearchParams | undefined;
  #body: Promise<Uint8Array> | undefined;
  #abort: AbortController | undefined;
  #valid: RequestValid = NOTHING_VALIDATED;
  #gone = false;
  #principal: Principal | undefined;
  #deadline: StreamDeadline | undefined;
  #route: RouteInfo | undefined = undefined;
  #ip: string | undefined;
  readonly #trust: TrustFunction;
  readonly #res: ServerResponse | Http2ServerResponse | undefined;

  /**
   * Built by the app for each request; handlers receive it. (Not tagged internal: a
   * stripped constructor would leave TypeScript's implicit `new Request()`.)
   */
  constructor(raw: RawRequest, bodyLimit: number, res?: ServerResponse | Http2ServerResponse, trust?: TrustFunction) {
    this.raw = raw;
    this.#res = res;
    this.#trust = trust;
    this.method = raw.method ?? "GET";
    this.url = raw.url ?? "/";
    this.#queryStart = this.url.indexOf("?");
    this.#bodyLimit = bodyLimit;
  }

  /** Path parameters from the route (`/items/{id}` -> `{ id: "1" }`), always strings; empty before routing (in an onRequest hook). */
  get params(): Readonly<Record<string, string>> {
    return this.#params;
  }

  /**
   * The input as the route's `schema` parsed it: `{ params, query, headers, body }`,
   * each the schema's output (coerced, defaulted, transformed), or `undefined` for a
   * part the route has no schema for (and on every part of a route without one).
   * Typed from the schemas in function routes; name the type with `ValidatedRequest<typeof schema>` in a decorated method.
   * @example
   * app.get("/search", (req) => search(req.valid.query.q, req.valid.query.page), {
   *   schema: { query: z.object({ q: z.string(), page: z.coerce.number().default(1) }) },
   * });
   */
  get valid(): RequestValid {
    return this.#valid;
  }

  /** @internal Validation records what the route's schemas parsed, before the handler runs. */
  [kValidated](valid: RequestValid): void {
    this.#valid = valid;
  }

  /** Most bytes `body()` accepts before answering 413: the route's `bodyLimit`, else the app's. */
  get bodyLimit(): number {
    return this.#bodyLimit;
  }

  /** @internal The pipeline records what routing found: the route, its params and body limit. */
  [kRouted](params: Readonly<Record<string, string>>, route: RouteContext): void {
    this.#params = params;
    this.#bodyLimit = route.bodyLimit;
    this.#route = route.info;
  }

  /**
   * The route that answers this request: its method, path template (`/items/{id}`, never
   * the raw path) and options. Undefined before routing (in an onRequest hook) and for
   * requests no route answers (404, 405, automatic OPTIONS).
   * @example app.addHook("onRouted", (req) => { if (req.route?.options.rateLimit === false) return; });
   */
  get route(): RouteInfo | undefined {
    return this.#route;
  }

  /**
   * The client's IP address. By default the socket's peer; with the app's `trustProxy`
   * set, the address a trusted proxy put in `X-Forwarded-For` (read right to left, up to
   * the first hop that is not trusted). A header from an untrusted peer is ignored, and an
   * entry that is not an IP address ends the walk, so a client can never name itself.
   * IPv4-mapped IPv6 is given as IPv4 (`"127.0.0.1"`, not `"::ffff:127.0.0.1"`); `""`
   * if the client left before the address was first read.
   * @example app.get("/whoami", (req) => ({ ip: req.ip }));
   */
  get ip(): string {
    this.#ip ??= clientIp(this.raw, this.#trust);
    return this.#ip;
  }

  /**
   * Who the request is, as the guard that authenticated it said (the `principal`
   * of its result, e.g. `Authenticated({ verify })`'s); undefined before the
   * guards ran and on a route no guard authenticates. Typed by your
   * {@link Principal} declaration.
   * @example app.get("/me", (req) => ({ user: req.principal?.id }), { guards: [auth] });
   */
  get principal(): Principal | undefined {
    return this.#principal;
  }

  /** @internal Guards record the principal here (guards/run.ts). */
  set [kPrincipal](principal: Principal | undefined) {
    this.#principal = principal;
  }

  /**
   * End this request's SSE stream at `time`, with a last frame saying why: an
   * event (`event`, `data`) and a `retry:` hint. Call it before the stream opens
   * (in a guard, in the handler) or while it streams; called again, the earliest
   * time wins. It works for every source (SseStream, generators, channel
   * subscriptions): at the deadline, what is queued goes out, then the final
   * frame, then the response ends, `request.signal` aborts and `onStreamClose`
   * reports `reason` (`"deadline"`, `"expired"` for a credential, `"lifetime"`). The timer
   * runs only while the stream is open and is cleared when it closes. A time
   * already past ends the stream as soon as it opens. On a response that is
   * not a stream it does nothing. A time that is not a Date or a number, or a
   * field an SseEvent refuses, throws a CelloError where it is called.
   * @param time - A Date, or ms since the epoch (`Date.now() + 60_000`).
   * @param options - The last frame and the close reason (see {@link StreamEndOptions}).
   * @example
   * app.get("/feed", (req) => {
   *   req.endStreamAt(Date.now() + 3_600_000, { event: "reconnect", retry: 1000 }); // at most an hour
   *   return feed.subscribe(req);
   * });
   */
  endStreamAt(time: number | Date, options?: StreamEndOptions): void {
    (this.#deadline ??= new StreamDeadline()).set(time, options);
  }

  /** @internal The stream's deadline, read by the SSE connection when it opens and closes. */
  get [kStreamDeadline](): StreamDeadline | undefined {
    return this.#deadline;
  }

  /** The path without the query string, e.g. `/items/1`. */
  get path(): string {
    return this.#queryStart === -1 ? this.url : this.url.slice(0, this.#queryStart);
  }

  /** The query string parsed into an object; a repeated key keeps its first value (see {@link Request.queryAll}). */
  get query(): Readonly<Record<string, string>> {
    if (this.#query === undefined) {
      const query: Record<string, string> = Object.create(null);
      for (const [key, value] of this.searchParams) if (!(key in query)) query[key] = value;
      this.#query = query;
    }
    return this.#query;
  }

  /** Every value of a query key, in order: `?tag=a&tag=b` -> `["a", "b"]`. */
  queryAll(name: string): string[] {
    return this.searchParams.getAll(name);
  }

  /** The query as URLSearchParams. */
  get searchParams(): URLSearchParams {
    this.#searchParams ??= new URLSearchParams(this.#queryStart === -1 ? "" : this.url.slice(this.#queryStart + 1));
    return this.#searchParams;
  }

  /** Request headers, names in lower case. */
  get headers(): IncomingHttpHeaders {
    return this.raw.headers;
  }

  /**
   * One header by name, case-insensitive; repeated headers are joined with ", ".
   * @example req.getHeader("Last-Event-ID")
   */
  getHeader(name: string): string | undefined {
    const value = this.raw.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(", ") : value;
  }

  /**
   * Fires when the client goes away before the response is complete. Pass it
   * to anything a handler awaits (fetch, timers) so that work stops with the client.
   */
  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      const res = this.#res;
      if (this.#gone || (res !== undefined && clientLeft(res))) this[kStreamGone]();
      else if (res !== undefined) {
        // Created on first use: from here on, a departing client aborts it.
        const onClose = () => {
          if (!res.writableFinished) this[kStreamGone]();
        };
        res.once("close", onClose);
        // Queued behind a pipelined response, it hears of a client that leaves before its turn from the request only.
        if (res.socket === null) this.raw.once("close", onClose);
      }
    }
    return this.#abort.signal;
  }

  /** @internal The client is gone or the server ended the stream early: the request's signal aborts. The SSE engine calls it (a request owns its stream). */
  [kStreamGone](): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#abort?.abort(clientGone());
  }

  /**
   * The body as bytes. Rejects with 413 as soon as more than `bodyLimit` bytes
   * are announced or received (the rest is never buffered).
   */
  body(): Promise<Uint8Array> {
    this.#body ??= readBody(this.raw, this.#bodyLimit);
    return this.#body;
  }

  /**
   * The body decoded as UTF-8 (a leading byte order mark is dropped, as `fetch` does).
   * Bytes that are not UTF-8 are a 400 (`CELLO_BAD_REQUEST`), never silently replaced
   * with U+FFFD; read {@link Request.body} to decode another charset yourself.
   * @example app.post("/echo", async (req) => (await req.text()).toUpperCase());
   */
  async text(): Promise<string> {
    return decodeUtf8(await this.body(), "CELLO_BAD_REQUEST");
  }

  /**
   * The body parsed as JSON. Invalid or empty JSON, and bytes that are not UTF-8
   * (RFC 8259 8.1), are a 400 (`CELLO_INVALID_JSON`), never a 500.
   * @example const { name } = await req.json<{ name: string }>();
   */
  async json<T = unknown>(): Promise<T> {
    const text = decodeUtf8(await this.body(), "CELLO_INVALID_JSON");
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      const detail = text.length === 0 ? "empty body" : (err as Error).message;
      throw HttpError.fromCode("CELLO_INVALID_JSON", detail, { cause: err });
    }
  }
}

// Fatal: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD. Without
// `stream: true` each decode() starts afresh, so one decoder serves every request.
const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(bytes: Uint8Array, code: "CELLO_BAD_REQUEST" | "CELLO_INVALID_JSON"): string {
  try {
    return utf8.decode(bytes);
  } catch (err) {
    throw HttpError.fromCode(code, "the body is not valid UTF-8", { cause: err });
  }
}

/** The response can no longer reach the client: it closed before the response finished. */
function clientLeft(res: ServerResponse | Http2ServerResponse): boolean {
  if (res.writableFinished) return false;
  const socket = connectionSocket(res);
  return res.destroyed || socket === undefined || socket.destroyed;
}

function clientGone(): Error {
  const err = new Error("The client closed the connection");
  err.name = "AbortError";
  return err;
}

function readBody(raw: RawRequest, limit: number): Promise<Uint8Array> {
  const declared = raw.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      raw.off("data", onData);
      raw.off("end", onEnd);
      raw.off("error", onError);
      raw.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        cleanup();
        // Stop keeping bytes: what is still in flight is read and discarded, never stored.
        raw.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => {
      cleanup();
      reject(HttpError.fromCode("CELLO_BAD_REQUEST", "the client aborted the request body"));
    };
    raw.on("data", onData);
    raw.on("end", onEnd);
    raw.on("error", onError);
    raw.on("aborted", onAborted);
  });
}

function tooLarge(limit: number): HttpError {
  return HttpError.fromCode("CELLO_BODY_TOO_LARGE", `the body exceeds ${limit} bytes`, {
    headers: { Connection: "close" },
  });
}
