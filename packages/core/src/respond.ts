/**
 * respond: the one place that turns what a handler returned into a Response,
 * and a Response into bytes on the socket (or into an SSE stream handed to the engine).
 */
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { HttpError, publicErrorBody } from "./errors.js";
import type { Logger } from "./logger.js";
import { Response } from "./response.js";
import type { ResolvedSseOptions, SseOptions } from "./sse/engine.js";
import { isAttachable } from "./sse/source.js";

/**
 * Map a handler's return value to a Response:
 * Response -> as built; undefined/null -> 204; string -> text/plain;
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
 * from 500 up are logged with their stack and `where` (the route). Never throws:
 * an HttpError whose headers were made invalid after it was built (its `headers`
 * record is mutable) is answered with a plain 500.
 */
export function errorToResponse(err: unknown, logger: Logger, where: string): Response {
  if (!(err instanceof HttpError)) logger.error(`Unhandled error in ${where}`, err);
  else if (err.status >= 500) logger.error(`HttpError ${err.status} in ${where}`, err);
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
 * SSE options layered: `base` (the app's, then a route's) with every option
 * `override` (a route's, then a response's) defines; `undefined` values do not
 * count. Returns `base` itself when `override` defines none, so the connections
 * of a route share one options object.
 */
export function withSseOptions(base: ResolvedSseOptions, override: SseOptions | undefined): ResolvedSseOptions {
  return hasDefined(override) ? { ...base, ...definedOnly(override!) } : base;
}

function hasDefined(options: object | undefined): boolean {
  if (!options) return false;
  for (const value of Object.values(options)) if (value !== undefined) return true;
  return false;
}

function definedOnly<T extends object>(options: T): Partial<T> {
  const result: Partial<T> = {};
  for (const key of Object.keys(options) as Array<keyof T>) if (options[key] !== undefined) result[key] = options[key];
  return result;
}

/** Write a non-streaming Response: status, headers, Content-Length, body (none for HEAD). */
export function writeBytes(res: ServerResponse | Http2ServerResponse, response: Response, headOnly: boolean, http2: boolean): void {
  const body = response.body;
  const headers = response.headers;
  if (http2) stripConnectionHeaders(headers);
  if (body.kind === "bytes") {
    const bytes = body.bytes;
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

/** Whether any header value holds a character past ASCII (the check has let only Latin-1 through). */
function hasLatin1(headers: Record<string, string | string[]>): boolean {
  for (const name in headers) {
    const value = headers[name]!;
    if (Array.isArray(value) ? value.some((one) => NON_ASCII.test(one)) : NON_ASCII.test(value)) return true;
  }
  return false;
}
