/**
 * respond: the one place that turns what a handler returned into a Response,
 * and a Response into bytes on the socket (or into an SSE stream handed to the
 * engine), with the response hooks in their order around it.
 */
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { channels as diagnostics } from "./diagnostics.js";
import { HttpError, assertHeadersSafe, publicErrorBody } from "./errors.js";
import type { HookRegistry } from "./hooks.js";
import { Html } from "./html/html.js";
import type { Logger } from "./logger.js";
import type { Request } from "./request.js";
import { Response, type ContentEncoder } from "./response.js";
import type { RouteContext } from "./routes.js";
import type { SseEngine } from "./sse/engine.js";
import { lifetimeDeadline } from "./sse/lifetime.js";
import { resolveSseOptions, type ResolvedSseOptions } from "./sse/options.js";
import { discardSource, isAttachable } from "./sse/source.js";
import { SseStream } from "./sse/stream.js";
import type { UnclosedStreamCheck } from "./sse/unclosed-check.js";

/** The node:http or node:http2 (compatibility API) response a Responder writes to. */
export type RawResponse = ServerResponse | Http2ServerResponse;

/**
 * Map a handler's return value to a Response:
 * Response -> as built; undefined/null -> 204; string -> text/plain; Html (the `html` template) -> text/html;
 * Uint8Array/ArrayBuffer -> application/octet-stream; SseStream (or a channel subscription), async iterable,
 * or generator object -> SSE; any other object or array (and numbers, booleans) -> JSON 200.
 */
export function toResponse(value: unknown): Response {
  if (value instanceof Response) return value;
  if (value === undefined || value === null) return Response.noContent();
  switch (typeof value) {
    case "string":
      return Response.text(value);
    case "object":
      if (value instanceof Html) return Response.html(value);
      if (isAttachable(value)) return Response.sse(value);
      if (value instanceof Uint8Array) return Response.binary(value);
      if (value instanceof ArrayBuffer) return Response.binary(new Uint8Array(value));
      if (Symbol.asyncIterator in value) return Response.sse(value as AsyncIterable<unknown>);
      if (isGeneratorObject(value)) return Response.sse(value as Iterable<unknown>);
      return Response.json(value);
    default:
      return Response.json(value);
  }
}

function isGeneratorObject(value: object): boolean {
  return Object.prototype.toString.call(value) === "[object Generator]";
}

/**
 * Turn a thrown value into an error Response; unexpected errors and HttpErrors
 * from 500 up (but those with a `Retry-After` header) are logged with their stack and `where` (the route). Never throws:
 * an HttpError whose headers were made invalid after it was built (its `headers`
 * record is mutable) is answered with a plain 500.
 */
export function errorToResponse(err: unknown, logger: Logger, where: string): Response {
  if (!(err instanceof HttpError)) logger.error(`Unhandled error in ${where}`, err);
  // A 5xx carrying Retry-After is load shed on purpose (a full stream cap), not a fault: logging each would flood the log when busy.
  else if (err.status >= 500 && err.headers?.["Retry-After"] === undefined) logger.error(`HttpError ${err.status} in ${where}`, err);
  const { status, body, headers } = publicErrorBody(err);
  try {
    return Response.json(body, { status, headers });
  } catch (headerError) {
    logger.error(`Unhandled error in ${where}`, headerError);
    return Response.json(publicErrorBody(headerError).body, { status: 500 });
  }
}

// Headers that HTTP/2 forbids (RFC 9113, 8.2.2): sending one makes node:http2 throw.
const CONNECTION_HEADERS = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** Remove connection-specific headers for HTTP/2 (in place). */
export function stripConnectionHeaders(headers: Record<string, string | string[]>): void {
  for (const name of Object.keys(headers)) if (CONNECTION_HEADERS.has(name.toLowerCase())) delete headers[name];
}

/** The headers every SSE response carries unless the handler set its own. */
export function sseHeaders(response: Response, http2: boolean): void {
  if (response.getHeader("content-type") === undefined) response.setHeader("Content-Type", "text/event-stream; charset=utf-8");
  if (response.getHeader("cache-control") === undefined) response.setHeader("Cache-Control", "no-cache, no-transform");
  if (!http2 && response.getHeader("connection") === undefined) response.setHeader("Connection", "keep-alive");
  // nginx buffers proxied responses unless told otherwise per response.
  if (response.getHeader("x-accel-buffering") === undefined) response.setHeader("X-Accel-Buffering", "no");
}

/**
 * Write a non-streaming Response: status, headers, Content-Length, body (none for HEAD).
 * `encoded`: the body after the response's content coding, written instead of its own.
 */
export function writeBytes(res: RawResponse, response: Response, headOnly: boolean, http2: boolean, encoded?: Uint8Array): void {
  const body = response.body;
  const headers = response.headers;
  if (http2) stripConnectionHeaders(headers);
  if (body.kind === "bytes") {
    const bytes = encoded ?? body.bytes;
    const length = typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength;
    headers["Content-Length"] = String(length);
    (res as ServerResponse).writeHead(response.status, headers);
    if (headOnly) res.end();
    // node:http sends the head and a string body as one UTF-8 string, which turns a Latin-1
    // header value (U+0080-U+00FF, allowed) into two bytes each; with a Buffer body the head goes out as Latin-1.
    else res.end(typeof bytes === "string" && !http2 && hasLatin1(headers) ? Buffer.from(bytes) : bytes);
    return;
  }
  if (response.status !== 204 && response.status !== 304 && !("Content-Length" in headers)) headers["Content-Length"] = "0";
  (res as ServerResponse).writeHead(response.status, headers);
  res.end();
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * The content coding to apply to `response`, if any: the one a plugin set, unless the body is
 * empty, the answer is HEAD's, or the response is already encoded (a `Content-Encoding` set
 * by the handler or a later hook).
 */
function applicableEncoder(response: Response, headOnly: boolean): ContentEncoder | undefined {
  const encoder = response.encoder;
  if (encoder === undefined || headOnly || response.body.kind === "empty") return undefined;
  if (response.getHeader("content-encoding") !== undefined) return undefined;
  return encoder;
}

/** Say the body is encoded: `Content-Encoding`, and no `Content-Length` of the unencoded body. */
function setContentEncoding(response: Response, coding: string): void {
  response.setHeader("Content-Encoding", coding);
  response.removeHeader("content-length");
}

/** Whether any header value holds a character past ASCII (the check has let only Latin-1 through). */
function hasLatin1(headers: Record<string, string | string[]>): boolean {
  for (const name in headers) {
    const value = headers[name]!;
    if (Array.isArray(value) ? value.some((one) => NON_ASCII.test(one)) : NON_ASCII.test(value)) return true;
  }
  return false;
}

/** What a {@link Responder} needs from its app, given once at construction. */
export interface RespondContext {
  readonly hooks: HookRegistry;
  /** Takes over every SSE body. */
  readonly engine: SseEngine;
  readonly logger: Logger;
  /** The app's SSE options, for a stream no route answered (one returned by an onRequest hook). */
  readonly sseDefaults: ResolvedSseOptions;
  /** The development check for an SseStream missing `close()`; undefined when it is off. */
  readonly unclosedStreams: UnclosedStreamCheck | undefined;
  /** The app, named in diagnostics messages (see diagnostics.ts); never called. */
  readonly scope: object;
}

/**
 * Writes every response of one app, and nothing else does: runs the
 * onResponse hooks, then writes status, headers and body (no body for HEAD, no
 * connection headers on HTTP/2) and runs onFinish, or hands an SSE body to the
 * engine and runs onStreamOpen, and onStreamClose once the stream closed.
 * Writing never throws: a failure is a logged 500 while the head is not out,
 * else a cut connection.
 */
export class Responder {
  /** Set by `listen()` when it serves HTTP/2: only then is a request's HTTP version read. */
  http2 = false;
  readonly #hooks: HookRegistry;
  readonly #engine: SseEngine;
  readonly #logger: Logger;
  readonly #sseDefaults: ResolvedSseOptions;
  readonly #unclosedStreams: UnclosedStreamCheck | undefined;
  readonly #scope: object;

  constructor(context: RespondContext) {
    this.#scope = context.scope;
    this.#hooks = context.hooks;
    this.#engine = context.engine;
    this.#logger = context.logger;
    this.#sseDefaults = context.sseDefaults;
    this.#unclosedStreams = context.unclosedStreams;
    this.#engine.onStreamClosed = (owner, info) => {
      this.#unclosedStreams?.forget(owner);
      const request = owner as Request;
      // A stream closed inside its handler closes during connection.open(), before send() runs the
      // onStreamOpen hooks: report every close a microtask later, so a hook always sees open before close.
      queueMicrotask(() => {
        if (diagnostics.sseClose.hasSubscribers) diagnostics.sseClose.publish({ app: this.#scope, request, route: request.route?.path, info });
        for (const hook of this.#hooks.onStreamClose) this.#safely(() => hook(request, info));
      });
    };
  }

  /** Answer `request` with what its route's handler returned (see {@link toResponse}). */
  respond(request: Request, res: RawResponse, value: unknown, route: RouteContext): void {
    let response: Response;
    try {
      response = toResponse(value);
    } catch (err) {
      response = errorToResponse(err, this.#logger, route.where);
    }
    this.send(request, res, response, route);
  }

  /**
   * Write `response` for `request`. `route` is the route that answered, or
   * undefined when none did (a 404 or 405, an onRequest hook's answer, an error before routing).
   */
  send(request: Request, res: RawResponse, response: Response, route: RouteContext | undefined): void {
    if (res.headersSent || res.destroyed) {
      // The client is gone: nothing to write, but a stream's close callbacks must still run.
      this.#discard(response);
      return;
    }
    const http2 = this.#isHttp2(request);
    const headOnly = request.method === "HEAD";
    const hooks = this.#hooks;
    const where = route?.where ?? `${request.method} ${request.path}`;
    let hookIndex = -1;
    try {
      if (response.body.kind === "sse") sseHeaders(response, http2);
      for (hookIndex = 0; hookIndex < hooks.onResponse.length; hookIndex++) hooks.onResponse[hookIndex]!(request, response);
    } catch (err) {
      this.#discard(response);
      response = errorToResponse(err, this.#logger, `an onResponse hook of ${where}`);
      // The answer that replaced it still gets the other hooks' headers (CORS on a refused stream's 429).
      const failed = hookIndex;
      for (let i = 0; i < hooks.onResponse.length; i++) if (i !== failed) this.#safely(() => hooks.onResponse[i]!(request, response));
    }
    // From here on any failure (a header written past setHeader, a status Node refuses, a throw
    // inside writeHead) is this request's logged 500, or its cut connection once the head is
    // out: never an exception that escapes the request listener and ends the process.
    try {
      // Handlers and hooks may write `response.headers` directly: check every header before the head.
      assertHeadersSafe(response.headers);
      const encoder = applicableEncoder(response, headOnly);
      if (response.body.kind !== "sse") {
        if (encoder !== undefined && response.body.kind === "bytes") {
          this.#writeEncoded(request, res, response, response.body.bytes, encoder, http2, where);
          return;
        }
        writeBytes(res, response, headOnly, http2);
        if (diagnostics.httpResponse.hasSubscribers) this.#published(request, response.status);
        for (const hook of hooks.onFinish) this.#safely(() => hook(request, { status: response.status }));
        return;
      }
      const sseBody = response.body;
      if (headOnly) {
        this.#discard(response);
        if (http2) stripConnectionHeaders(response.headers);
        (res as ServerResponse).writeHead(response.status, response.headers);
        res.end();
        if (diagnostics.httpResponse.hasSubscribers) this.#published(request, response.status);
        return;
      }
      if (http2) stripConnectionHeaders(response.headers);
      // The route's resolved options object is shared by its connections unless this response overrides one.
      const options = resolveSseOptions(route?.sse ?? this.#sseDefaults, sseBody.options);
      let encoderStream;
      if (encoder !== undefined && (options.compress ?? encoder.sse)) {
        setContentEncoding(response, encoder.coding);
        encoderStream = encoder.createStream();
      }
      const connection = this.#engine.create(res, options, route?.eventCheck, encoderStream);
      // The stream's lifetime is one more deadline: the earliest (a guard's expiry, the handler's own) ends it.
      const lifetime = lifetimeDeadline(options);
      if (lifetime !== undefined) request.endStreamAt(lifetime.at, lifetime.end);
      connection.open(response.status, response.headers, sseBody.source, this.#logger, request);
      if (this.#unclosedStreams !== undefined && sseBody.source instanceof SseStream) {
        this.#unclosedStreams.watch(sseBody.source, where, request);
      }
      if (diagnostics.httpResponse.hasSubscribers) this.#published(request, response.status);
      if (diagnostics.sseOpen.hasSubscribers) diagnostics.sseOpen.publish({ app: this.#scope, request, route: request.route?.path });
      for (const hook of hooks.onStreamOpen) this.#safely(() => hook(request, response));
    } catch (err) {
      this.#writeFailed(request, res, response, err, where);
    }
  }

  /**
   * Write a bytes body through its content coding: encoded off the event loop (node:zlib runs on
   * the thread pool), then written with the encoded length. An encoder that fails sends the body
   * as it is; a client that left meanwhile gets nothing (and no onFinish, as for one gone before).
   */
  #writeEncoded(request: Request, res: RawResponse, response: Response, bytes: string | Uint8Array, encoder: ContentEncoder, http2: boolean, where: string): void {
    const write = (encoded: Uint8Array | undefined): void => {
      if (res.headersSent || res.destroyed) return;
      try {
        if (encoded !== undefined) setContentEncoding(response, encoder.coding);
        writeBytes(res, response, false, http2, encoded);
      } catch (err) {
        this.#writeFailed(request, res, response, err, where);
        return;
      }
      for (const hook of this.#hooks.onFinish) this.#safely(() => hook(request, { status: response.status }));
    };
    let encoding: Promise<Uint8Array>;
    try {
      encoding = encoder.encode(typeof bytes === "string" ? Buffer.from(bytes) : bytes);
    } catch (err) {
      encoding = Promise.reject(err);
    }
    encoding.then(write, (err: unknown) => {
      this.#logger.error(`Encoding the response (${encoder.coding}) failed in ${where}; sent unencoded`, err);
      write(undefined);
    });
  }

  /** Writing `response` threw: answer a logged 500 while the head is not out, else cut the connection. */
  #writeFailed(request: Request, res: RawResponse, response: Response, err: unknown, where: string): void {
    if (res.headersSent) {
      // A truncated body must not pass for a whole one: the client sees the connection cut.
      this.#logger.error(`Writing the response failed in ${where}`, err);
      res.destroy();
      return;
    }
    this.#discard(response);
    const fallback = errorToResponse(err, this.#logger, where);
    try {
      writeBytes(res, fallback, request.method === "HEAD", this.#isHttp2(request));
    } catch (again) {
      this.#logger.error(`Writing the error response failed in ${where}`, again);
      res.destroy();
      return;
    }
    if (diagnostics.httpResponse.hasSubscribers) this.#published(request, fallback.status);
    for (const hook of this.#hooks.onFinish) this.#safely(() => hook(request, { status: fallback.status }));
  }

  /** Tell `cello:http.response` subscribers (the caller checked there are some) that `request` was answered. */
  #published(request: Request, status: number): void {
    // A request that arrived before anyone listened has no start time: not reported.
    if (request.startedAt === 0) return;
    diagnostics.httpResponse.publish({ app: this.#scope, request, route: request.route?.path, status, durationMs: performance.now() - request.startedAt });
  }

  /** `response` will not be written: cancel its SSE source, if it has one. */
  #discard(response: Response): void {
    if (response.body.kind === "sse") discardSource(response.body.source, (err) => this.#logger.error("An SSE close callback failed", err));
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#logger.error("A hook failed", err);
    }
  }

  #isHttp2(request: Request): boolean {
    return this.http2 && request.raw.httpVersionMajor === 2;
  }
}
