/**
 * What a stream reports when it closes: why, and what it sent. The app hands
 * it to `onStreamClose` hooks (logging, metrics); kept apart from the engine
 * so hooks.ts names it without depending on the code that writes to sockets.
 */
import type { SseDeadlineReason, StreamDeadline } from "./deadline.js";
import type { SseOptions } from "./options.js";

/**
 * Why a stream closed: `"end"` (the producer finished or `stream.close()`), `"client"` (the client
 * left), `"error"` (the producer threw), `"overflow"` (a slow client past `bufferLimit` under the
 * `"close"` policy), `"write-timeout"`, `"heartbeat"` (a heartbeat could not go out), `"shutdown"`,
 * `"expired"` (the credential a guard admitted it with expired: `request.endStreamAt()` with that reason),
 * `"lifetime"` (the stream reached its `maxLifetimeMs`, see {@link SseOptions.maxLifetimeMs}),
 * `"deadline"` (another `request.endStreamAt()` deadline).
 */
export type SseCloseReason = "end" | "client" | "error" | "overflow" | "write-timeout" | "heartbeat" | "shutdown" | SseDeadlineReason;

/**
 * What the engine reports about a stream when it closes (for logging and metrics).
 *
 * @example
 * app.addHook("onStreamClose", (req, info) => {
 *   if (info.eventsDropped > 0) console.warn(`${req.path}: ${info.eventsDropped} events dropped (${info.reason})`);
 * });
 */
export interface SseStreamInfo {
  /** Events written (comments not counted). */
  eventsSent: number;
  /** Events dropped under the drop-oldest policy. */
  eventsDropped: number;
  /** Time from open to close. */
  durationMs: number;
  reason: SseCloseReason;
}

/** The method a stream's owner is told through that its stream ended early (the client left, a slow client was cut, shutdown). */
export const kStreamGone = Symbol("cello.sse.streamGone");

/** The property a stream's owner holds its deadline under (`request.endStreamAt()`), undefined when it has none. */
export const kStreamDeadline = Symbol("cello.sse.streamDeadline");

/** Who a connection reports to when it closes: the request (its signal aborts). Symbol-keyed, so it is no public method of Request. */
export interface StreamOwner {
  [kStreamGone](): void;
  /** The deadline the connection starts when the stream opens and stops when it closes. */
  readonly [kStreamDeadline]?: StreamDeadline | undefined;
}

/** Called once per closed connection, after its producer finished (or was abandoned, see SseConnection.done). */
export type StreamClosedCallback = (owner: StreamOwner, info: SseStreamInfo) => void;
