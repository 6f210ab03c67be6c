/**
 * SSE framing, written once. Every producer style (SseStream, generators,
 * channels) turns its events into bytes here, so the wire format and the
 * injection checks live in one place.
 */
import { CelloError } from "../errors.js";

/** Options of an {@link SseEvent}. */
export interface SseEventOptions {
  /** The `event:` field (the event type the browser dispatches). No CR or LF. */
  event?: string;
  /** The `id:` field (becomes the browser's Last-Event-ID). No CR, LF or NUL. */
  id?: string;
  /** The `retry:` field: the client's reconnection delay in milliseconds (a non-negative integer). */
  retry?: number;
}

// WHATWG HTML 9.2.6: "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF)
// character pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE RETURN (CR) character."
// A CR or LF inside `event` or `id` would therefore end the field and start a new one (frame injection).
const LINE_BREAK = /\r\n|\r|\n/;
const HAS_LINE_BREAK = /[\r\n]/;

function assertField(name: string, value: string): void {
  if (HAS_LINE_BREAK.test(value)) {
    throw new CelloError("CELLO_INVALID_SSE_FIELD", `${name} must not contain CR or LF`);
  }
  // The spec makes a client ignore an id containing NUL, so a server must not send one.
  if (name === "id" && value.includes("\0")) {
    throw new CelloError("CELLO_INVALID_SSE_FIELD", "id must not contain NUL");
  }
}

function assertRetry(retry: number): void {
  if (!Number.isInteger(retry) || retry < 0) {
    throw new CelloError("CELLO_INVALID_SSE_FIELD", `retry must be a non-negative integer, got ${retry}`);
  }
}

/**
 * Frame one event: fields in the order id, event, retry, then one `data:` line
 * per line of `data` (split on CRLF, CR and LF), then a blank line. This is
 * Cello's `to_sse_string()` byte for byte.
 *
 * @param data - The payload; multi-line text becomes several `data:` lines.
 * @param options - `event`, `id` and `retry`; validated against injection.
 * @example
 * formatSseFrame("sensor data", { event: "update", id: "42", retry: 5000 });
 * // "id: 42\nevent: update\nretry: 5000\ndata: sensor data\n\n"
 */
export function formatSseFrame(data: string, options: SseEventOptions = {}): string {
  let frame = "";
  if (options.id !== undefined) {
    assertField("id", options.id);
    frame += `id: ${options.id}\n`;
  }
  if (options.event !== undefined) {
    assertField("event", options.event);
    frame += `event: ${options.event}\n`;
  }
  if (options.retry !== undefined) {
    assertRetry(options.retry);
    frame += `retry: ${options.retry}\n`;
  }
  // Fast path: most payloads (JSON) are one line.
  if (!HAS_LINE_BREAK.test(data)) return `${frame}data: ${data}\n\n`;
  for (const line of data.split(LINE_BREAK)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

/**
 * Frame a comment: each line of `text` prefixed with `:`. Clients ignore
 * comments; they keep proxies and half-open sockets honest.
 *
 * @example formatSseComment("ping"); // ": ping\n\n"
 */
export function formatSseComment(text: string): string {
  let frame = "";
  for (const line of text.split(LINE_BREAK)) frame += line === "" ? ":\n" : `: ${line}\n`;
  return `${frame}\n`;
}

/** Frame a lone `retry:` hint. */
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
  readonly id: string | undefined;
  readonly retry: number | undefined;
  /** True for a comment frame built with {@link SseEvent.comment}. */
  readonly isComment: boolean;
  readonly #frame: string;
  #byteLength = -1;

  /**
   * @param data - The payload (multi-line text is split into several `data:` lines).
   * @param options - `event`, `id`, `retry`. CR or LF in `event` or `id` throws `CELLO_INVALID_SSE_FIELD`.
   */
  constructor(data: string, options: SseEventOptions = {}) {
    this.data = String(data);
    this.isComment = options === COMMENT;
    this.event = options.event;
    this.id = options.id;
    this.retry = options.retry;
    // Validate now: the error belongs to the line that built the event.
    this.#frame = this.isComment ? formatSseComment(this.data) : formatSseFrame(this.data, options);
  }

  /** An event with only data (Cello's `SseEvent.data(text)`). */
  static data(text: string): SseEvent {
    return new SseEvent(text);
  }

  /** An event with a type and data (Cello's `SseEvent.with_event(event, text)`). */
  static withEvent(event: string, text: string): SseEvent {
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

  /** The frame's size in UTF-8 bytes (computed once: a broadcast sends the same event to many clients). */
  get byteLength(): number {
    if (this.#byteLength < 0) this.#byteLength = Buffer.byteLength(this.#frame);
    return this.#byteLength;
  }

  /** Same as {@link SseEvent.toSseString}. */
  toString(): string {
    return this.#frame;
  }
}
