/**
 * What the protocol helpers (openai.ts, ai-sdk.ts) share: checking the source a
 * handler passes, and turning the helper's frames into an SSE Response whose
 * failure is told in the protocol's own words (see `kErrorFrame` in sse/source.ts).
 * The engine does the rest as for any generator: backpressure, heartbeats, and
 * ending the source (its `finally` runs) when the client leaves.
 */
import { describeValue } from "../describe.js";
import { CelloError } from "../errors.js";
import { Response, type ResponseInit } from "../response.js";
import type { SseOptions } from "../sse/options.js";
import { kErrorFrame, type ErrorFramingSource } from "../sse/source.js";

/** What a protocol helper reads: an async iterable (an async generator, an upstream's stream) or a sync iterable. */
export type ProtocolSource<T> = AsyncIterable<T> | Iterable<T>;

/** Throws `CELLO_INVALID_OPTION` for anything that is not iterable (a string is refused too: it would stream one character at a time). */
export function checkSource(source: unknown, helper: string): void {
  const iterable =
    typeof source === "object" && source !== null && (Symbol.asyncIterator in source || Symbol.iterator in source);
  if (!iterable) {
    throw new CelloError("CELLO_INVALID_OPTION", `${helper}() takes an async iterable or iterable of deltas (an async generator), got ${describeValue(source)}`);
  }
}

/**
 * An SSE Response streaming `frames` (each a `data:` payload), whose failure the client
 * learns from `errorFrame` instead of the engine's `event: error` frame.
 */
export function protocolResponse(
  frames: AsyncGenerator<string, void, undefined>,
  errorFrame: (err: unknown) => string,
  headers: Record<string, string> | undefined,
  init: SseOptions & ResponseInit = {},
): Response {
  const source = frames as AsyncGenerator<string, void, undefined> & ErrorFramingSource;
  source[kErrorFrame] = errorFrame;
  const response = Response.sse(source, init);
  // The protocol's headers unless the caller set its own.
  if (headers !== undefined) for (const name in headers) if (response.getHeader(name) === undefined) response.setHeader(name, headers[name]!);
  return response;
}
