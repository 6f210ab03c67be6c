/**
 * A stream's deadline: the time its SSE response ends, with a last frame
 * telling the client why (re-authenticate, reconnect). Set through
 * `request.endStreamAt()` before or after the stream opened; the earliest
 * deadline wins; the one timer runs only while the stream is open and is
 * cleared when it closes, whoever closes it. Guards use it to end a stream
 * when its credential expires; any code may use it to bound a stream's life.
 */
import { describeValue } from "../describe.js";
import { CelloError } from "../errors.js";
import { formatSseComment, formatSseFrame, formatSseRetry } from "./event.js";
import type { SseOptions } from "./options.js";

/**
 * Why a deadline ended a stream, as `onStreamClose` reports it: `"expired"` (the credential did),
 * `"lifetime"` (the route's `maxLifetimeMs`, see {@link SseOptions.maxLifetimeMs}), `"deadline"` (any other).
 */
export type SseDeadlineReason = "expired" | "lifetime" | "deadline";

/**
 * Options of {@link Request.endStreamAt}: the last frame the client gets.
 * `event`, `data` and `retry` are checked as for {@link SseEvent} (`CELLO_INVALID_SSE_FIELD`).
 */
export interface StreamEndOptions {
  /** The last event's type, e.g. `"reauthenticate"`. Without it the stream ends with a comment (and `retry`, if set). */
  event?: string;
  /** The last event's data. Default `""` (the event is still dispatched). */
  data?: string;
  /** A `retry:` hint sent with the last frame: the client's reconnection delay in ms. Default: none. */
  retry?: number;
  /** The close reason reported to `onStreamClose`. Default `"deadline"`. */
  reason?: SseDeadlineReason;
}

/** What a deadline ends when it is due: an open connection. */
export interface DeadlineTarget {
  /** Send `finalFrame` after what is queued and end the response, reporting `reason`. Ignored unless open. */
  endAtDeadline(finalFrame: string, reason: SseDeadlineReason): void;
}

// setTimeout fires at once for a delay over 2^31-1 ms (about 24.8 days): longer deadlines wait in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Frame the options of {@link Request.endStreamAt}; throws where they are passed. */
function finalFrameOf(options: StreamEndOptions, reason: SseDeadlineReason): string {
  const { event, data = "", retry } = options;
  if (event !== undefined) return formatSseFrame(data, retry === undefined ? { event } : { event, retry });
  // Never empty: a zero-length write would be read as the end of a chunked body.
  return (retry === undefined ? "" : formatSseRetry(retry)) + formatSseComment(reason);
}

/** The time of `time` in ms since the epoch; anything that is not a time throws `CELLO_INVALID_OPTION`. */
function timeOf(time: unknown): number {
  const at = time instanceof Date ? time.getTime() : time;
  if (typeof at !== "number" || Number.isNaN(at)) {
    throw new CelloError("CELLO_INVALID_OPTION", `endStreamAt() takes a Date or ms since the epoch (Date.now() + ms), got ${time instanceof Date ? "an invalid Date" : describeValue(time)}`);
  }
  return at;
}

/**
 * One request's stream deadline (created on the first `endStreamAt()`, so a
 * request without one costs nothing). The connection starts it when the stream
 * opens and stops it when the stream closes.
 */
export class StreamDeadline {
  /** When the stream ends, ms since the epoch. */
  at = Infinity;
  #frame = "";
  #reason: SseDeadlineReason = "deadline";
  #target: DeadlineTarget | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** Keep `time` if it is earlier than the deadline held; throws for a bad time or bad fields (whether or not it is kept). */
  set(time: number | Date, options: StreamEndOptions = {}): void {
    const at = timeOf(time);
    const reason = options.reason ?? "deadline";
    if (reason !== "expired" && reason !== "deadline" && reason !== "lifetime") {
      throw new CelloError("CELLO_INVALID_OPTION", `endStreamAt() reason must be "expired", "lifetime" or "deadline", got ${describeValue(reason)}`);
    }
    const frame = finalFrameOf(options, reason);
    if (at >= this.at) return;
    this.at = at;
    this.#frame = frame;
    this.#reason = reason;
    if (this.#target !== undefined) this.#arm();
  }

  /** Whether a timer runs (the stream is open and has a deadline): false once the stream closed. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** The stream opened: end `target` when the deadline is due (at once if it already is). */
  start(target: DeadlineTarget): void {
    this.#target = target;
    if (this.at !== Infinity) this.#arm();
  }

  /** The stream closed: drop the timer. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#target = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const delay = Math.min(Math.max(0, this.at - Date.now()), MAX_TIMER_MS);
    this.#timer = setTimeout(this.#due, delay);
    // The open socket keeps the process alive, not its deadline.
    this.#timer.unref();
  }

  #due = (): void => {
    this.#timer = undefined;
    // A long deadline waits in steps; a timer may also fire a little before the wall clock agrees.
    if (Date.now() < this.at) return this.#arm();
    const target = this.#target;
    this.#target = undefined;
    target?.endAtDeadline(this.#frame, this.#reason);
  };
}
