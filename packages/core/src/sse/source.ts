/**
 * What can be streamed, and the contract between the engine and push-style
 * sources (SseStream, channel subscriptions): the engine hands the source a
 * sink when streaming starts and tells it when the connection is gone. Only
 * `SseSource` is exported from the package; the contract is internal.
 *
 * Not tagged internal, unlike `isAttachable`: the public `SseSource` type and
 * `SseStream` (which implements `AttachableSource`) refer to these declarations, so
 * the published .d.ts must keep them. Users cannot reach them all the same: the
 * package exports only its index, and the symbol keys are not exported from it.
 */
import type { SseStream } from "./stream.js";

/**
 * Anything a handler may return to be streamed: an SseStream, a channel
 * subscription, an async iterable or generator, or a sync iterable.
 * @example
 * app.get("/ticks", () => Response.sse(ticks()));
 * async function* ticks(): AsyncGenerator<string> { yield "tick"; }
 */
export type SseSource = SseStream | AttachableSource | AsyncIterable<unknown> | Iterable<unknown>;

/** What the engine hands a push source. */
export interface SseSink {
  /** Queue one framed event; false once the connection is closed. Pass `byteLength` when known (fan-out computes it once). */
  send(frame: string, byteLength?: number): boolean;
  /**
   * Resolves once every queued frame has been handed to the socket and it takes
   * more (at once when the connection is closed). A source that has much to send
   * (a replay of a long history) sends a page, then waits here: it goes as fast
   * as the client reads and holds no more than a page.
   */
  writable(): Promise<void>;
  /** End the response once queued frames are written (`"error"` when the source failed). */
  end(reason?: "end" | "error"): void;
  /** Events dropped under the drop-oldest policy. */
  readonly eventsDropped: number;
  /** The connection's `bufferLimit`: a source sending in pages keeps each page well under it. */
  readonly bufferLimit: number;
}

/** The method the engine calls to attach a push source to a connection. */
export const kAttach = Symbol("cello.sse.attach");
/** The method the engine calls once a push source's connection closed. */
export const kDetach = Symbol("cello.sse.detach");

/** A source the engine attaches to a connection instead of pulling from it. */
export interface AttachableSource {
  [kAttach](sink: SseSink): void;
  [kDetach](onError: (err: unknown) => void): void;
}

/**
 * The method a pulled source (an async iterable) may carry to frame its own failure: a protocol
 * helper (protocols/openai.ts, protocols/ai-sdk.ts) answers in its protocol's words, which its
 * client understands, instead of the engine's `event: error` frame. The pump still logs the
 * error and ends the stream with reason `"error"`. @internal
 */
export const kErrorFrame = Symbol("cello.sse.errorFrame");

/** A pulled source that frames its own failure (see {@link kErrorFrame}). @internal */
export interface ErrorFramingSource {
  [kErrorFrame](err: unknown): string;
}

/** The frame that tells the client `source` failed with `err`: the source's own, else `event: error`. @internal */
export function errorFrameOf(source: unknown, err: unknown, fallback: (err: unknown) => string): string {
  if (typeof source === "object" && source !== null && kErrorFrame in source) return (source as ErrorFramingSource)[kErrorFrame](err);
  return fallback(err);
}

/** True for SseStream, channel subscriptions and any other push source. @internal */
export function isAttachable(value: unknown): value is AttachableSource {
  return typeof value === "object" && value !== null && kAttach in value;
}

/**
 * Cancel a source that will never be streamed (the client left before the head,
 * a HEAD request, a hook or a write failed): a push source runs its close
 * callbacks, a generator its `finally`. Anything else is left alone. @internal
 * @param onError - Told about a close callback that throws.
 */
export function discardSource(source: unknown, onError: (err: unknown) => void): void {
  if (isAttachable(source)) source[kDetach](onError);
  else if (typeof (source as AsyncGenerator | undefined)?.return === "function") void Promise.resolve((source as AsyncGenerator).return(undefined)).catch(() => {});
}
