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
