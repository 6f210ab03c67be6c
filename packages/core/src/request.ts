/**
 * Request: what a handler reads. Cello's `request` with TypeScript naming:
 * method, path, params, query, headers, the body as bytes, text or JSON, and
 * a signal that fires when the client goes away.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { clientIp, type TrustFunction } from "./client-ip.js";
import { HttpError } from "./errors.js";
import type { RouteContext, RouteInfo } from "./routes.js";
import { kStreamGone } from "./sse/report.js";
import { connectionSocket } from "./server.js";

/** The raw node:http or node:http2 (compatibility API) request. */
export type RawRequest = IncomingMessage | Http2ServerRequest;

const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** @internal The method the pipeline records a routed request's route with. Not exported from the package. */
export const kRouted = Symbol("cello.request.routed");

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

  #params: Readonly<Record<string, string>> = EMPTY_PARAMS;
  #bodyLimit: number;
  #queryStart: number;
  #query: Record<string, string> | undefined;
  #searchParams: URLSearchParams | undefined;
  #body: Promise<Uint8Array> | undefined;
  #abort: AbortController | undefined;
  #gone = false;
  #route: RouteInfo | undefined;
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
