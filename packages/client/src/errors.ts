/**
 * The errors `connect()` throws from its iterator, one registry of codes.
 *
 * Only failures that must not be retried are errors: per WHATWG HTML "9.2.3
 * Processing model" a wrong status or Content-Type makes the user agent "fail
 * the connection", after which "it does not attempt to reconnect". Network
 * errors are retried and reported through `onReconnect` instead.
 */

/** Why an event stream failed for good. */
export const SseClientErrorCode = {
  /** The server answered with a status other than 200 (204 is not an error: it ends the stream). */
  BAD_STATUS: "ERR_SSE_BAD_STATUS",
  /** The server answered 200 with a Content-Type whose essence is not `text/event-stream`. */
  BAD_CONTENT_TYPE: "ERR_SSE_BAD_CONTENT_TYPE",
  /** An event selected by the `json` option carried data that is not valid JSON. */
  INVALID_JSON: "ERR_SSE_INVALID_JSON",
} as const;

/** One of the {@link SseClientErrorCode} values. */
export type SseClientErrorCode = (typeof SseClientErrorCode)[keyof typeof SseClientErrorCode];

/** Details attached to an {@link SseClientError}. */
export interface SseClientErrorDetails {
  /** The URL that was requested. */
  url: string;
  /** The HTTP status, for status and Content-Type failures. */
  status?: number;
  /** The event type, for JSON failures. */
  event?: string;
  /** The underlying error, e.g. the `SyntaxError` from `JSON.parse`. */
  cause?: unknown;
}

/**
 * A permanent failure of an event stream: the iterator that threw it is done
 * and will not reconnect.
 *
 * @param code - One of {@link SseClientErrorCode}.
 * @param message - A sentence naming the URL and what was expected.
 * @param details - `url`, and `status`, `event` or `cause` when known.
 *
 * @example
 * ```ts
 * try {
 *   for await (const ev of connect("/events")) console.log(ev.data);
 * } catch (error) {
 *   if (error instanceof SseClientError && error.status === 401) redirectToLogin();
 *   else throw error;
 * }
 * ```
 */
export class SseClientError extends Error {
  override name = "SseClientError";
  /** Machine-readable reason. */
  readonly code: SseClientErrorCode;
  /** The URL that was requested. */
  readonly url: string;
  /** HTTP status of the failing response, when there was one. */
  readonly status: number | undefined;
  /** Event type whose data failed to decode, for {@link SseClientErrorCode.INVALID_JSON}. */
  readonly event: string | undefined;

  constructor(code: SseClientErrorCode, message: string, details: SseClientErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.url = details.url;
    this.status = details.status;
    this.event = details.event;
  }
}

/**
 * An HTTP call made by a {@link createClient} client got a status outside
 * 200-299: for a JSON route on any call, for an SSE route on the first
 * response (before any event). The body is read and kept, so an RFC 9457
 * problem (`application/problem+json`, as Cello.ts answers errors) is at hand.
 *
 * @typeParam TBody - What `body` holds; `ErrorBodyOf<Api, Path, Method>` is the
 * union of the bodies the document lists for a route's error statuses.
 *
 * @example
 * ```ts
 * try {
 *   await client.get("/users/{id}", { params: { id: 7 } });
 * } catch (error) {
 *   if (error instanceof HttpResponseError && error.status === 404) console.log(error.body);
 *   else throw error;
 * }
 * ```
 */
export class HttpResponseError<TBody = unknown> extends Error {
  override name = "HttpResponseError";
  /** HTTP status of the response. */
  readonly status: number;
  /** The request method, upper case. */
  readonly method: string;
  /** The URL that was requested. */
  readonly url: string;
  /** The response headers. */
  readonly headers: Headers;
  /**
   * The response body: parsed when its Content-Type is JSON (`application/json`,
   * `application/problem+json`, any `+json`) and valid, else the text (`""` when empty).
   */
  readonly body: TBody;

  constructor(init: { status: number; statusText?: string; method: string; url: string; headers: Headers; body: TBody }) {
    super(`${init.method} ${init.url} failed: HTTP ${init.status}${init.statusText ? ` ${init.statusText}` : ""}${problemSummary(init.body)}`);
    this.status = init.status;
    this.method = init.method;
    this.url = init.url;
    this.headers = init.headers;
    this.body = init.body;
  }
}

/** `": <title>: <detail>"` of a problem+json body, for the error message; `""` for any other body. */
function problemSummary(body: unknown): string {
  if (typeof body !== "object" || body === null) return "";
  const { title, detail } = body as { title?: unknown; detail?: unknown };
  const parts = [title, detail].filter((part): part is string => typeof part === "string" && part !== "");
  return parts.length === 0 ? "" : `: ${parts.join(": ")}`;
}

/**
 * `generateClientTypes()` (and the `cello-client generate` command) was given a
 * document it cannot turn into types: not OpenAPI 3.1 or 3.2, a `$ref` that
 * does not resolve, or a schema construct it does not support.
 */
export class OpenApiDocumentError extends Error {
  override name = "OpenApiDocumentError";
  /**
   * Where in the document: a JSON Pointer (RFC 6901) such as
   * `#/paths/~1users~1{id}/get/parameters/0/schema`, `#` for the document itself.
   */
  readonly pointer: string;

  constructor(pointer: string, message: string) {
    super(`${pointer}: ${message}`);
    this.pointer = pointer;
  }
}
