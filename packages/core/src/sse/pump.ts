/**
 * The pull side of the engine: drives an async iterable, async generator or
 * sync iterable into a connection, waiting on socket backpressure, giving the
 * event loop back in slices, and ending the producer (so its `finally` runs)
 * the moment the connection closes.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { HttpError } from "../errors.js";
import { Html } from "../html/html.js";
import type { Logger } from "../logger.js";
import type { SseConnection } from "./connection.js";
import { SseEvent, formatSseError, formatSseFrame } from "./event.js";
import { errorFrameOf } from "./source.js";

/** Turn one produced item into a frame: string or Html -> data, SseEvent -> as is, anything else -> JSON data. */
export function itemToFrame(item: unknown): string | undefined {
  if (item === undefined || item === null) return undefined;
  if (typeof item === "string") return formatSseFrame(item);
  if (item instanceof SseEvent) return item.toSseString();
  if (item instanceof Html) return formatSseFrame(item);
  return formatSseFrame(JSON.stringify(item));
}

// A producer that never really waits (a sync generator, an async one whose awaits
// all resolve at once) read by a client that keeps up would hold the event loop
// for as long as the stream lasts: every other request and stream would stall.
// After this much work the pump gives the loop a turn. The clock is read only
// every CLOCK_EVERY items, so a cheap item costs no clock reading.
const SLICE_MS = 10;
const CLOCK_EVERY = 32;

/**
 * Pull items from `source` into `connection` until the source ends, fails, or the
 * connection closes. Resolves once the producer has finished (its `finally` ran).
 */
export async function pump(connection: SseConnection, source: AsyncIterable<unknown> | Iterable<unknown>, logger: Logger): Promise<void> {
  const closed = connection.whenClosed();
  const iterator: AsyncIterator<unknown> | Iterator<unknown> =
    Symbol.asyncIterator in source ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (source as Iterable<unknown>)[Symbol.iterator]();
  let finished = false;
  let sliceStart = performance.now();
  let items = 0;
  try {
    while (!connection.closed) {
      if (connection.backpressured) {
        connection.flush();
        if (connection.waitingDrain) {
          await Promise.race([connection.writable(), closed]);
          sliceStart = performance.now();
        }
        if (connection.closed) break;
      }
      if (++items % CLOCK_EVERY === 0 && performance.now() - sliceStart >= SLICE_MS) {
        // The engine's flush is queued as an immediate already: the client gets this slice first.
        await nextTurn();
        sliceStart = performance.now();
        if (connection.closed) break;
      }
      // Race the producer against the close, so a producer suspended in an
      // `await` does not keep us (and the client's slot) waiting.
      const result = await Promise.race([iterator.next(), closed]);
      if (typeof result === "string") break;
      if (result.done) {
        finished = true;
        break;
      }
      const frame = itemToFrame(result.value);
      if (frame !== undefined) connection.send(frame);
    }
  } catch (err) {
    // Same rule as for handlers: an HttpError below 500 is the client's business, not a server fault.
    if (!(err instanceof HttpError) || err.status >= 500) logger.error("SSE producer failed", err);
    if (!connection.closed) {
      // A protocol helper's source says it in its protocol's words (OpenAI's `data: {"error":...}`).
      connection.send(errorFrameOf(source, err, formatSseError));
      connection.end("error");
    }
    return;
  }
  if (finished) {
    connection.end();
    return;
  }
  // The client left (or the server is shutting down): end the producer now so its `finally` runs.
  // This may never settle (a generator suspended on a promise that never does): the
  // connection does not wait for it beyond a bound (see SseConnection.done).
  if (typeof iterator.return === "function") {
    try {
      await iterator.return();
    } catch (err) {
      if (!(err instanceof Error && err.name === "AbortError")) logger.error("SSE producer failed while closing", err);
    }
  }
}
