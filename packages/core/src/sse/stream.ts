/**
 * SseStream: Cello's push-style event buffer, made live. Events added before the
 * handler returns are sent at once; events added later (from a timer, a callback,
 * a channel) are sent as they are added, until `close()` or the client leaves.
 */
import { describeValue } from "../describe.js";
import { CelloError } from "../errors.js";
import type { Html } from "../html/html.js";
import { SseEvent } from "./event.js";
import { kAttach, kDetach, type AttachableSource, type SseSink } from "./source.js";

// A loop that broadcasts one event to many streams (`for (s of streams) s.addEvent(name, text)`)
// frames it once: the last event built is reused while name and text are the same.
// SseEvent is immutable, so sharing it is safe.
let lastEvent: SseEvent | undefined;
function sharedEvent(name: string | undefined, text: string | Html): SseEvent {
  if (lastEvent !== undefined && lastEvent.event === name && lastEvent.data === text) return lastEvent;
  lastEvent = name === undefined ? SseEvent.data(text) : SseEvent.withEvent(name, text);
  return lastEvent;
}

function notAnEvent(value: unknown): CelloError {
  return new CelloError(
    "CELLO_INVALID_SSE_FIELD",
    `stream.add() takes an SseEvent, got ${describeValue(value)}: use stream.addData(text), stream.addEvent(name, text) or stream.add(new SseEvent(text, { event, id }))`,
  );
}

/** @internal Whether an SseStream has onClose callbacks waiting (read by sse/unclosed-check.ts). */
export const kHasCloseCallbacks = Symbol("cello.sse.hasCloseCallbacks");

/**
 * A live Server-Sent Events stream, returned from a handler.
 *
 * @example
 * app.get("/sse/counter", () => {
 *   const stream = new SseStream();
 *   let i = 0;
 *   const timer = setInterval(() => {
 *     stream.addEvent("count", JSON.stringify({ value: ++i }));
 *     if (i === 5) { clearInterval(timer); stream.close(); }
 *   }, 1000);
 *   stream.onClose(() => clearInterval(timer)); // the client may leave first
 *   return stream;
 * });
 */
export class SseStream implements AttachableSource {
  #pending: string[] = [];
  #sink: SseSink | undefined;
  #count = 0;
  #ending = false;
  #closed = false;
  #closeCallbacks: Array<() => void> = [];

  /**
   * Add an event. Returns false (and does nothing) once the stream is closed:
   * writing to a stream whose client left never throws. Anything but an
   * {@link SseEvent} throws `CELLO_INVALID_SSE_FIELD` (use `addData`/`addEvent` for text).
   */
  add(event: SseEvent): boolean {
    if (!(event instanceof SseEvent)) throw notAnEvent(event);
    if (this.#closed || this.#ending) return false;
    this.#count++;
    const frame = event.toSseString();
    if (this.#sink) return this.#sink.send(frame, event.byteLength);
    this.#pending.push(frame);
    return true;
  }

  /**
   * Add a data-only event (Cello's `add_data`). `text` is a string or an {@link Html} fragment (sent as its markup);
   * an object throws `CELLO_INVALID_SSE_FIELD` (pass `JSON.stringify(value)`).
   */
  addData(text: string | Html): boolean {
    return this.add(sharedEvent(undefined, text));
  }

  /**
   * Add an event with a type (Cello's `add_event`). `name` is a string, `text` a string or an {@link Html}
   * fragment (for htmx: `stream.addEvent("score", html\`<b>${home} - ${away}</b>\`)` swaps into `sse-swap="score"`),
   * checked as for {@link SseEvent}.
   */
  addEvent(name: string, text: string | Html): boolean {
    return this.add(sharedEvent(name, text));
  }

  /** Add a comment frame (`: text`), ignored by clients. Not counted by `len()`. */
  addComment(text: string): boolean {
    if (this.#closed || this.#ending) return false;
    const frame = SseEvent.comment(text).toSseString();
    if (this.#sink) return this.#sink.send(frame);
    this.#pending.push(frame);
    return true;
  }

  /** How many events have been added to this stream (sent or waiting). */
  len(): number {
    return this.#count;
  }

  /** True when no event has been added. */
  isEmpty(): boolean {
    return this.#count === 0;
  }

  /** True once the stream was closed by `close()` or by the client leaving. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Events dropped for a slow client under the `"drop-oldest"` policy (the same
   * count `onStreamClose` reports as `eventsDropped`).
   * @example
   * stream.onClose(() => console.log(`${stream.eventsDropped} events dropped`));
   */
  get eventsDropped(): number {
    return this.#sink?.eventsDropped ?? 0;
  }

  /** @deprecated Renamed {@link SseStream.eventsDropped}, the name `onStreamClose` and the logs use; this alias will be removed. */
  get droppedCount(): number {
    return this.eventsDropped;
  }

  /**
   * Run `callback` once when the stream closes, whether by `close()` or because
   * the client went away. Runs at once if the stream is already closed.
   * Use it to stop timers and unsubscribe.
   */
  onClose(callback: () => void): void {
    if (this.#closed) {
      queueMicrotask(callback);
      return;
    }
    this.#closeCallbacks.push(callback);
  }

  /** End the stream: frames already added are still delivered, then the response ends. */
  close(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (this.#sink) this.#sink.end();
    // Without a sink (never returned from a handler) there is no socket to wait for.
    else this.#finish();
  }

  /** @internal True while someone waits for this stream to close (a live stream cleans up there). */
  get [kHasCloseCallbacks](): boolean {
    return this.#closeCallbacks.length > 0;
  }

  /** Called by the engine when it starts sending this stream (symbol-keyed: not reachable from outside the package). */
  [kAttach](sink: SseSink): void {
    if (this.#sink) throw new CelloError("CELLO_STREAM_LOCKED", "an SseStream can be returned from one handler only");
    this.#sink = sink;
    const pending = this.#pending;
    this.#pending = [];
    for (const frame of pending) sink.send(frame);
    if (this.#ending) sink.end();
  }

  /** Called by the engine when the connection is closed, for any reason (symbol-keyed, as above). */
  [kDetach](onError: (err: unknown) => void): void {
    this.#finish(onError);
  }

  #finish(onError?: (err: unknown) => void): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ending = true;
    const callbacks = this.#closeCallbacks;
    this.#closeCallbacks = [];
    let firstError: unknown;
    let failed = false;
    for (const callback of callbacks) {
      try {
        callback();
      } catch (err) {
        // A throwing close callback must not stop the others; the engine logs it.
        if (onError) onError(err);
        else if (!failed) [failed, firstError] = [true, err];
      }
    }
    if (failed) throw firstError;
  }
}
