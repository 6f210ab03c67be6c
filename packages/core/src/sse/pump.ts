/**
 * The pull side of the engine: drives an async iterable, async generator or
 * sync iterable into a connection, waiting on socket backpressure and ending
 * the producer (so its `finally` runs) the moment the connection closes.
 */
import { HttpError, publicErrorBody } from "../errors.js";
import type { Logger } from "../logger.js";
import type { SseConnection } from "./engine.js";
import { SseEvent, formatSseFrame } from "./event.js";

/** Turn one produced item into a frame: string -> data, SseEvent -> as is, anything else -> JSON data. */
export function itemToFrame(item: unknown): string | undefined {
  if (item === undefined || item === null) return undefined;
  if (typeof item === "string") return formatSseFrame(item);
  if (item instanceof SseEvent) return item.toSseString();
  return formatSseFrame(JSON.stringify(item));
}

function errorFrame(err: unknown): string {
  const { body } = publicErrorBody(err);
  return formatSseFrame(JSON.stringify(body), { event: "error" });
}

/**
 * Pull items from `source` into `connection` until the source ends, fails, or the
 * connection closes. Resolves once the producer has finished (its `finally` ran).
 */
export async function pump(connection: SseConnection, source: AsyncIterable<unknown> | Iterable<unknown>, logger: Logger): Promise<void> {
  const closed = connection.whenClosed();
  const iterator: AsyncIterator<unknown> | Iterator<unknown> =
    Symbol.asyncIterator in source ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (source as Iterable<unknown>)[Symbol.iterator]();
  let finished = false;
  try {
    while (!connection.closed) {
      if (connection.backpressured) {
        connection.flush();
        if (connection.waitingDrain) await Promise.race([connection.drained(), closed]);
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
      connection.send(errorFrame(err));
      connection.end("error");
    }
    return;
  }
  if (finished) {
    connection.end();
    return;
  }
  // The client left (or the server is shutting down): end the producer now so its `finally` runs.
  if (typeof iterator.return === "function") {
    try {
      await iterator.return();
    } catch (err) {
      if (!(err instanceof Error && err.name === "AbortError")) logger.error("SSE producer failed while closing", err);
    }
  }
}
