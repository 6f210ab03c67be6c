/**
 * SSE framing, written once. Every producer style (SseStream, generators,
 * channels) turns its events into bytes here, so the wire format and the
 * injection checks live in one place.
 */
import { describeValue, isPlainObject } from "../describe.js";
import { CelloError, publicErrorBody } from "../errors.js";
import { Html } from "../html/html.js";

/** Options of an {@link SseEvent}. Any other key throws `CELLO_INVALID_SSE_FIELD`. */
export interface SseEventOptions {
  /** The `event:` field (the event type the browser dispatches). A string without CR or LF. */
  event?: string;
  /**
   * The `id:` field (becomes the browser's Last-Event-ID). A string without CR, LF or NUL,
   * or a finite number, written in decimal (`id: 7` sends `id: 7`).
   */
  id?: string | number;
  /** The `retry:` field: the client's reconnection delay in milliseconds (a non-negative integer). */
  retry?: number;
}

// WHATWG HTML 9.2.6: "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF)
// character pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE RETURN (CR) character."
// A CR or LF inside `event` or `id` would therefore end the field and start a new one (frame injection).
const LINE_BREAK = /\r\n|\r|\n/;
const HAS_LINE_BREAK = /[\r\n]/;

function invalid(detail: string): CelloError {
  return new CelloError("CELLO_INVALID_SSE_FIELD", detail);
}

function assertField(name: string, value: string): void {
  if (HAS_LINE_BREAK.test(value)) throw invalid(`${name} must not contain CR or LF`);
  // The spec makes a client ignore an id containing NUL, so a server must not send one.
  if (name === "id" && value.includes("\0")) throw invalid("id must not contain NUL");
}

function assertRetry(retry: unknown): asserts retry is number {
  if (typeof retry !== "number" || !Number.isInteger(retry) || retry < 0) {
    throw invalid(`retry must be a non-negative integer (milliseconds), got ${describeValue(retry)}`);
  }
}

/**
 * The payload as text. An {@link Html} is its markup (an htmx fragment); a finite number is written in decimal; anything else
 * that is not a string (an object, undefined) would go out as `[object Object]`
 * or `undefined`, so it is refused with a hint.
 */
function textOf(name: "data" | "comment", value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Html) return value.toString();
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  const hint = typeof value === "object" && value !== null ? ": pass JSON.stringify(value)" : "";
  throw invalid(`${name} must be a string, got ${describeValue(value)}${hint}`);
}

/** Checked fields, `id` as the string that goes on the wire. */
interface Fields {
  event: string | undefined;
  id: string | undefined;
  retry: number | undefined;
}

const NO_FIELDS: Fields = Object.freeze({ event: undefined, id: undefined, retry: undefined });

/** Check `options` (shape, types, injection) and return its fields, `id` stringified. */
function checkFields(options: unknown): Fields {
  if (options === undefined) return NO_FIELDS;
  if (!isPlainObject(options)) {
    const hint = typeof options === "string" ? ` (for the event type, pass { event: ${JSON.stringify(options)} })` : "";
    throw invalid(`options must be { event?, id?, retry? }, got ${describeValue(options)}${hint}`);
  }
  for (const key in options) {
    if (key !== "event" && key !== "id" && key !== "retry") throw invalid(`unknown option ${JSON.stringify(key)} (expected event, id or retry)`);
  }
  const { event, id, retry } = options;
  if (event !== undefined) {
    if (typeof event !== "string") throw invalid(`event must be a string, got ${describeValue(event)}`);
    assertField("event", event);
  }
  let idText: string | undefined;
  if (id !== undefined) {
    if (typeof id === "number" && Number.isFinite(id)) idText = String(id);
    else if (typeof id === "string") idText = id;
    else throw invalid(`id must be a string or a finite number, got ${describeValue(id)}`);
    assertField("id", idText);
  }
  if (retry !== undefined) assertRetry(retry);
  return { event, id: idText, retry: retry as number | undefined };
}

/** The frame for checked fields: id, event, retry, then one `data:` line per line. */
function buildFrame(data: string, fields: Fields): string {
  let frame = "";
  if (fields.id !== undefined) frame += `id: ${fields.id}\n`;
  if (fields.event !== undefined) frame += `event: ${fields.event}\n`;
  if (fields.retry !== undefined) frame += `retry: ${fields.retry}\n`;
  // Fast path: most payloads (JSON) are one line.
  if (!HAS_LINE_BREAK.test(data)) return `${frame}data: ${data}\n\n`;
  for (const line of data.split(LINE_BREAK)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

/**
 * Frame one event: fields in the order id, event, retry, then one `data:` line
 * per line of `data` (split on CRLF, CR and LF), then a blank line. This is
 * Cello's `to_sse_string()` byte for byte.
 *
 * @param data - The payload: text, or an {@link Html} fragment (its markup); multi-line text becomes several `data:` lines.
 * @param options - `event`, `id` and `retry`; validated against injection. Default: none.
 * @throws CelloError `CELLO_INVALID_SSE_FIELD` for data that is not text, a CR or LF in `event` or `id`,
 *   a NUL in `id`, a `retry` that is not a non-negative integer, or an unknown option.
 * @example
 * formatSseFrame("sensor data", { event: "update", id: 42, retry: 5000 });
 * // "id: 42\nevent: update\nretry: 5000\ndata: sensor data\n\n"
 */
export function formatSseFrame(data: string | Html, options?: SseEventOptions): string {
  return buildFrame(textOf("data", data), checkFields(options));
}

/**
 * @internal A frame with only an `id`: it moves the client's last event ID (a
 * browser's EventSource, `@cellojs/client`) without dispatching any event, as the
 * SSE spec says of a block with no data. A channel subscription sends it for
 * events its client may not see, so a resume starts after them.
 *
 * @example formatSseIdFrame("12"); // "id: 12\n\n"
 */
export function formatSseIdFrame(id: string): string {
  assertField("id", id);
  return `id: ${id}\n\n`;
}

/**
 * Frame a comment: each line of `text` prefixed with `:`. Clients ignore
 * comments; they keep proxies and half-open sockets honest.
 *
 * @example formatSseComment("ping"); // ": ping\n\n"
 */
export function formatSseComment(text: string): string {
  let frame = "";
  for (const line of textOf("comment", text).split(LINE_BREAK)) frame += line === "" ? ":\n" : `: ${line}\n`;
  return `${frame}\n`;
}

/**
 * The `event: error` frame a stream ends with when its source fails: the JSON
 * body an HTTP answer to `err` would have (`{"error": ..., "status": ...}`),
 * showing only what {@link publicErrorBody} lets a client see.
 *
 * @param err - What failed: an HttpError, a CelloError, or anything else (a 500).
 * @example
 * formatSseError(new HttpError(409, "version conflict"));
 * // 'event: error\ndata: {"error":"version conflict","status":409}\n\n'
 */
export function formatSseError(err: unknown): string {
  return formatSseFrame(JSON.stringify(publicErrorBody(err).body), { event: "error" });
}

/** Frame a lone `retry:` hint (a non-negative integer, else `CELLO_INVALID_SSE_FIELD`). */
export function formatSseRetry(retry: number): string {
  assertRetry(retry);
  return `retry: ${retry}\n\n`;
}

// Identity marker that makes the constructor build a comment frame (kept private to this module).
const COMMENT: SseEventOptions = Object.freeze({});

/**
 * One Server-Sent Event, as in Cello: `SseEvent(data, event=…, id=…, retry=…)`.
 * Fields are validated when the event is built, so a bad event never reaches a socket.
 *
 * @example
 * new SseEvent("sensor data", { event: "update", id: "42", retry: 5000 }).toSseString();
 * // "id: 42\nevent: update\nretry: 5000\ndata: sensor data\n\n"
 */
export class SseEvent {
  readonly data: string;
  readonly event: string | undefined;
  /** The id as sent: a number given as `id` is kept here as its decimal string. */
  readonly id: string | undefined;
  readonly retry: number | undefined;
  /** True for a comment frame built with {@link SseEvent.comment}. */
  readonly isComment: boolean;
  readonly #frame: string;
  #byteLength = -1;

  /**
   * @param data - The payload: a string, or an {@link Html} fragment sent as its markup (an htmx `sse-swap`
   *   target swaps it in). Multi-line text is split into several `data:` lines; a client joins them with LF.
   * @param options - `event`, `id` (a string, or a number written in decimal), `retry`. Default: none.
   * @throws CelloError `CELLO_INVALID_SSE_FIELD` for data that is not text (an object: pass `JSON.stringify(value)`),
   *   a CR or LF in `event` or `id`, a NUL in `id`, a `retry` that is not a non-negative integer, or an unknown option.
   */
  constructor(data: string | Html, options?: SseEventOptions) {
    // Validate now: the error belongs to the line that built the event.
    if (options === COMMENT) {
      this.data = textOf("comment", data);
      this.isComment = true;
      this.event = this.id = this.retry = undefined;
      this.#frame = formatSseComment(this.data);
      return;
    }
    this.data = textOf("data", data);
    this.isComment = false;
    const fields = checkFields(options);
    this.event = fields.event;
    this.id = fields.id;
    this.retry = fields.retry;
    this.#frame = buildFrame(this.data, fields);
  }

  /** An event with only data (Cello's `SseEvent.data(text)`). */
  static data(text: string | Html): SseEvent {
    return new SseEvent(text);
  }

  /** An event with a type and data (Cello's `SseEvent.with_event(event, text)`). */
  static withEvent(event: string, text: string | Html): SseEvent {
    return new SseEvent(text, { event });
  }

  /** A comment frame (`: text`), ignored by clients; useful as a keep-alive. */
  static comment(text: string): SseEvent {
    return new SseEvent(text, COMMENT);
  }

  /** The exact bytes sent on the wire for this event. */
  toSseString(): string {
    return this.#frame;
  }

  /** @internal The frame's size in UTF-8 bytes (computed once: a broadcast sends the same event to many clients). */
  get byteLength(): number {
    if (this.#byteLength < 0) this.#byteLength = Buffer.byteLength(this.#frame);
    return this.#byteLength;
  }

  /** Same as {@link SseEvent.toSseString}. */
  toString(): string {
    return this.#frame;
  }
}
