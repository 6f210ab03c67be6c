/**
 * A development hint for the one real difference from Cello: an SseStream is
 * live, so a finite stream ported from Cello without `stream.close()` stays
 * open, idle, until the client leaves. This check notices such a stream and
 * warns once per route.
 *
 * A stream is suspect when nothing cleans up after it (no `onClose` callback:
 * a live stream fed from a timer or a listener set registers one to stop
 * feeding) and no event has been added to it for `idleMs`. Streams that
 * closed, or that get an `onClose` callback later, are dropped.
 *
 * Cost: nothing per event; one unref'd timer per app, running only while a
 * suspect stream is watched; off under NODE_ENV=production (the app does not
 * create it there).
 */
import type { Logger } from "../logger.js";
import { kHasCloseCallbacks, type SseStream } from "./stream.js";

interface Watched {
  stream: SseStream;
  /** The route, e.g. `GET /sse/counter`. */
  where: string;
  /** `stream.len()` when last seen: a change means a producer is still adding events. */
  count: number;
  /** When `count` last changed (or watching began). */
  since: number;
}

// Sweeping 4 times per period warns between 1x and 1.25x `idleMs` after the last event.
const SWEEPS_PER_PERIOD = 4;

/** Watches the SseStreams an app returns and warns about one that looks like it is missing `close()`. */
export class UnclosedStreamCheck {
  readonly #idleMs: number;
  readonly #logger: Logger;
  /** Keyed by the stream's owner (standing for its request), which the engine hands back when the stream closes. */
  readonly #watched = new Map<object, Watched>();
  readonly #warned = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param idleMs - How long a stream with no new event and no onClose callback may stay open before the warning.
   * @param logger - Where the warning goes (`logger.warn`).
   */
  constructor(idleMs: number, logger: Logger) {
    this.#idleMs = idleMs;
    this.#logger = logger;
  }

  /** Start watching `stream`, just returned by the handler of route `where` for `owner` (standing for the request). */
  watch(stream: SseStream, where: string, owner: object): void {
    if (stream.closed || stream[kHasCloseCallbacks] || this.#warned.has(where)) return;
    this.#watched.set(owner, { stream, where, count: stream.len(), since: Date.now() });
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(1, Math.floor(this.#idleMs / SWEEPS_PER_PERIOD)));
      // Open sockets keep the process alive, not this hint.
      this.#timer.unref();
    }
  }

  /** The stream of `owner` closed: let go of it now rather than at the next sweep (a busy server opens thousands per sweep). */
  forget(owner: object): void {
    this.#watched.delete(owner);
  }

  /** Stop the timer (the app is closing). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watched.clear();
  }

  #sweep(): void {
    const now = Date.now();
    for (const [owner, entry] of this.#watched) {
      const stream = entry.stream;
      if (stream.closed || stream[kHasCloseCallbacks] || this.#warned.has(entry.where)) {
        this.#watched.delete(owner);
      } else if (stream.len() !== entry.count) {
        entry.count = stream.len();
        entry.since = now;
      } else if (now - entry.since >= this.#idleMs) {
        this.#watched.delete(owner);
        this.#warned.add(entry.where);
        this.#logger.warn(
          `${entry.where}: an SseStream has had no new event for ${formatMs(this.#idleMs)} and no onClose() callback, ` +
            "so it stays open until the client leaves. A finite stream (as in Cello) must end with stream.close(); " +
            "a live one should stop its producer in stream.onClose(...). (Shown once per route; off when NODE_ENV=production.)",
        );
      }
    }
    if (this.#watched.size === 0) this.stop();
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
