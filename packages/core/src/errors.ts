/**
 * The one error registry of Cello.ts: every error the framework raises has a
 * code, an HTTP status and a message here, so docs, types and tests read them
 * from one place (as Fastify's lib/errors.js does).
 */
import { validateHeaderName, validateHeaderValue } from "node:http";

/** Every error code the framework raises, with its HTTP status and message. */
export const ERROR_CODES = {
  CELLO_BAD_REQUEST: { status: 400, message: "Bad Request" },
  CELLO_INVALID_JSON: { status: 400, message: "Invalid JSON body" },
  CELLO_UNAUTHORIZED: { status: 401, message: "Unauthorized" },
  // A guard refused a caller it knows (or one no credential could admit): guards/.
  CELLO_FORBIDDEN: { status: 403, message: "Forbidden" },
  // A channel name from a request that is empty, too long or holds a control character.
  CELLO_INVALID_CHANNEL_NAME: { status: 400, message: "Invalid channel name" },
  CELLO_NOT_FOUND: { status: 404, message: "Not Found" },
  // Resumable streams: an id that is malformed, unknown, expired or another owner's (one answer for all).
  CELLO_STREAM_NOT_FOUND: { status: 404, message: "Stream not found" },
  // Resumable streams: a Last-Event-ID that is not one of the stream's ids.
  CELLO_INVALID_LAST_EVENT_ID: { status: 400, message: "Invalid Last-Event-ID" },
  // Resumable streams: the events after the client's Last-Event-ID are no longer held.
  CELLO_STREAM_GONE: { status: 410, message: "Stream events no longer held" },
  CELLO_METHOD_NOT_ALLOWED: { status: 405, message: "Method Not Allowed" },
  // A route's requireAccept option: the request's Accept admits none of its media types (a problem+json 406, negotiation.ts).
  CELLO_NOT_ACCEPTABLE: { status: 406, message: "Not Acceptable" },
  CELLO_BODY_TOO_LARGE: { status: 413, message: "Payload Too Large" },
  CELLO_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Unsupported Media Type" },
  // Input that does not match the route's schema: the 422 body is a problem details document (validation/problem.ts).
  CELLO_VALIDATION_FAILED: { status: 422, message: "Unprocessable Content" },
  // app.enableRateLimit(): a client past its request rate, or past its cap of open streams (with Retry-After).
  CELLO_RATE_LIMITED: { status: 429, message: "Too Many Requests" },
  CELLO_TOO_MANY_STREAMS: { status: 429, message: "Too many open streams" },
  CELLO_INTERNAL: { status: 500, message: "Internal Server Error" },
  CELLO_SERVICE_UNAVAILABLE: { status: 503, message: "Service Unavailable" },
  // app.enableRateLimit(): the cap on all open streams is reached (with Retry-After).
  CELLO_STREAMS_FULL: { status: 503, message: "Too many open streams on this server" },
  // Programmer errors: thrown at registration or call time, never sent to a client as is.
  CELLO_INVALID_HEADER: { status: 500, message: "Invalid header" },
  CELLO_INVALID_SSE_FIELD: { status: 500, message: "Invalid SSE field" },
  CELLO_DUPLICATE_ROUTE: { status: 500, message: "Duplicate route" },
  CELLO_INVALID_ROUTE: { status: 500, message: "Invalid route" },
  CELLO_INVALID_OPTION: { status: 500, message: "Invalid option" },
  CELLO_INVALID_DECORATOR: { status: 500, message: "Invalid decorator use" },
  CELLO_STREAM_LOCKED: { status: 500, message: "SSE stream already attached" },
  CELLO_BROKER_UNAVAILABLE: { status: 503, message: "Broker unavailable" },
  CELLO_PORT_IN_USE: { status: 500, message: "Port in use" },
  CELLO_ALREADY_LISTENING: { status: 500, message: "App already listening" },
  // The app holds maxChannels channels: app.channel() throws it, a request that would make one gets a 503.
  CELLO_TOO_MANY_CHANNELS: { status: 503, message: "Too many channels" },
  CELLO_CHANNEL_DELETED: { status: 500, message: "Channel deleted" },
  // app.enableOpenapi(): a route's schema has no JSON Schema form (thrown at startup, naming the route).
  CELLO_OPENAPI_SCHEMA: { status: 500, message: "Schema not convertible to JSON Schema" },
  // A route's schema option is not Standard Schemas, or a schema threw while validating.
  CELLO_INVALID_SCHEMA: { status: 500, message: "Invalid schema" },
  // Development checks (validation/response.ts, validation/events.ts): the app's own output breaks its schema.
  CELLO_INVALID_RESPONSE: { status: 500, message: "Response does not match its schema" },
  CELLO_INVALID_SSE_EVENT: { status: 500, message: "SSE event does not match its schema" },
  CELLO_MISSING_DEPENDENCY: { status: 500, message: "Missing dependency" },
  // html`...`: a value where escaping cannot make it safe (a tag, an unquoted attribute, a script), or one that is not text.
  CELLO_UNSAFE_HTML: { status: 500, message: "Unsafe HTML interpolation" },
} as const;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * An error raised by Cello.ts itself for a misuse of its API (a duplicate
 * route, a CR in a header). It carries a stable `code` from {@link ERROR_CODES}.
 *
 * @example
 * try { app.get("/a", h); app.get("/a", h); }
 * catch (err) { if (err instanceof CelloError) console.log(err.code); } // CELLO_DUPLICATE_ROUTE
 */
export class CelloError extends Error {
  /** Stable machine-readable code, e.g. `CELLO_DUPLICATE_ROUTE`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const base = ERROR_CODES[code].message;
    super(detail ? `${base}: ${detail}` : base, options);
    this.name = "CelloError";
    this.code = code;
  }
}

/** Options of {@link HttpError}. */
export interface HttpErrorOptions {
  /** Whether `message` may be shown to the client. Default: true below 500, false from 500 up. */
  expose?: boolean;
  /** A code from the registry or your own, kept on the error for logs and tests. */
  code?: string;
  /** Extra response headers, e.g. `{ "WWW-Authenticate": "Bearer" }` or `Allow`; checked like any header (`CELLO_INVALID_HEADER`). */
  headers?: Record<string, string>;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Throw from a handler to answer with `status` and a JSON body
 * `{"error": message, "status": status}`. Errors with status >= 500 hide their
 * message unless `expose: true`.
 *
 * @param status - HTTP status code (400-599).
 * @param message - What the client is told (when exposed). Default: the status's standard text.
 * @example
 * app.get("/users/{id}", (req) => {
 *   throw new HttpError(404, `No user ${req.params.id}`);
 * });
 */
export class HttpError extends Error {
  readonly status: number;
  readonly expose: boolean;
  readonly code: string | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(status: number, message?: string, options: HttpErrorOptions = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new CelloError("CELLO_INVALID_OPTION", `HttpError status must be an integer from 400 to 599, got ${status}`);
    }
    // A bad header fails here, where it was written, not later while the error is answered.
    if (options.headers !== undefined) assertHeadersSafe(options.headers);
    super(message ?? statusText(status), { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.expose = options.expose ?? status < 500;
    this.code = options.code;
    this.headers = options.headers;
  }

  /** Build an HttpError from a registry code, e.g. `HttpError.fromCode("CELLO_INVALID_JSON", "Unexpected token")`. */
  static fromCode(code: ErrorCode, detail?: string, options: Omit<HttpErrorOptions, "code"> = {}): HttpError {
    const entry = ERROR_CODES[code];
    return new HttpError(entry.status, detail ? `${entry.message}: ${detail}` : entry.message, { ...options, code });
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  410: "Gone",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The standard reason phrase of an HTTP status, or `"Error"`. */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? "Error";
}

/** What a client is told about an error: the message when it is safe, the status text otherwise. */
export function publicErrorBody(err: unknown): { status: number; body: { error: string; status: number }; headers?: Record<string, string> } {
  if (err instanceof HttpError) {
    const message = err.expose ? err.message : statusText(err.status);
    return { status: err.status, body: { error: message, status: err.status }, headers: err.headers };
  }
  // A framework error whose registry entry is not a 500 (a broker that is down is a 503) keeps that
  // status; the client sees the registry's message only, never the detail (it may name hosts).
  if (err instanceof CelloError && ERROR_CODES[err.code].status !== 500) {
    const { status, message } = ERROR_CODES[err.code];
    return { status, body: { error: message, status } };
  }
  const { status, message } = ERROR_CODES.CELLO_INTERNAL;
  return { status, body: { error: message, status } };
}

/**
 * The one header check of Cello.ts. It refuses exactly what Node refuses when
 * it writes a head (it calls Node's own `validateHeaderName` and
 * `validateHeaderValue`), so a bad header fails where it is set, with a clear
 * `CELLO_INVALID_HEADER`, instead of inside `writeHead`.
 *
 * A name must be an RFC 9110 token; a value may hold tab, printable ASCII and
 * Latin-1 (U+0080 to U+00FF). CR, LF and NUL would let a value end the header
 * block and inject headers or a body (response splitting); other control
 * characters, and anything beyond Latin-1 (which an HTTP/1.1 head cannot carry), are refused too.
 *
 * @param name - The header name.
 * @param value - One value of the header.
 * @example
 * assertHeaderSafe("X-Name", "caf\u00e9"); // fine: Latin-1
 * assertHeaderSafe("X-Name", "\u20ac"); // throws CelloError CELLO_INVALID_HEADER
 */
export function assertHeaderSafe(name: string, value: string): void {
  try {
    validateHeaderName(name);
  } catch (err) {
    throw new CelloError(
      "CELLO_INVALID_HEADER",
      `${JSON.stringify(name)} is not a header name: a name is a token of letters, digits and !#$%&'*+-.^_\`|~ (CR, LF and NUL, spaces, colons and the rest are refused)`,
      { cause: err },
    );
  }
  try {
    validateHeaderValue(name, value);
  } catch (err) {
    throw new CelloError(
      "CELLO_INVALID_HEADER",
      `the value of header ${JSON.stringify(name)} holds a character HTTP refuses (CR, LF and NUL, another control character, or one beyond Latin-1)`,
      { cause: err },
    );
  }
}

/** The last value found safe for each header name (a bounded memo of {@link assertHeadersSafe}: cleared when full). */
const safeHeaders = new Map<string, string>();
const SAFE_HEADERS_MAX = 256;

/**
 * {@link assertHeaderSafe} on every header of a record (each value of an array).
 * The app runs it on every response just before writing the head:
 * `Response.headers` is a plain record that hooks and handlers may write to
 * directly, past `setHeader`.
 */
export function assertHeadersSafe(headers: Readonly<Record<string, unknown>>): void {
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === "string") {
      // Most responses carry the same few headers with the same values (Content-Type above all): a
      // pair already found safe is not checked again. Only string values are remembered, one per name.
      if (safeHeaders.get(name) === value) continue;
      assertHeaderSafe(name, value);
      if (safeHeaders.size >= SAFE_HEADERS_MAX) safeHeaders.clear();
      safeHeaders.set(name, value);
      continue;
    }
    // Passed on as they are: Node refuses an undefined value, and so do we.
    if (Array.isArray(value)) for (const one of value) assertHeaderSafe(name, one as string);
    else assertHeaderSafe(name, value as string);
  }
}
