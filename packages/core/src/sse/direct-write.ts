/**
 * Writing SSE frames straight to the socket of a node:http response, as chunks
 * of its chunked body, instead of through `res.write()`.
 *
 * Why: `res.write()` on a chunked response costs a cork, three socket writes
 * (size line, payload, CRLF) and an uncork on every call. In fan-out that
 * per-client cost dominates (docs/benchmarks.md); one pre-framed write is
 * markedly cheaper.
 *
 * The price: deciding when it is safe reads node:http internals that are not
 * public API (`socket._httpMessage`, `res.chunkedEncoding`, `_hasBody`,
 * `_headerSent`, `outputData`). This module is the only place that reads
 * them, and it reads them defensively: any field missing or of another type
 * than expected means "not safe", and the connection keeps writing through
 * `res.write()`, which is always correct. direct-write.test.ts pins both
 * sides: the direct path is taken on the Node versions we run, and a response
 * whose fields look different streams the same bytes through `res.write()`.
 */
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { Socket } from "node:net";

/** A node:http socket, with the response it is serving now (node:http's own field). */
export type ServingSocket = Socket & { _httpMessage?: ServerResponse | null };

/** The parts of node:http's OutgoingMessage that say whether writing to its socket directly is safe. */
interface OutgoingState {
  socket: ServingSocket | null | undefined;
  chunkedEncoding?: unknown;
  _hasBody?: unknown;
  _headerSent?: unknown;
  outputData?: unknown;
}

/**
 * The socket of an HTTP/1.1 response whose head has gone out and
 * whose body is chunked, with nothing of its own still queued: frames framed
 * with {@link asHttpChunk} may then be written to it directly. Anything else
 * (HTTP/2, an HTTP/1.0 client, a response queued behind a pipelined one, the
 * head not yet out, a Node whose fields differ) returns undefined: write through
 * `res.write()`.
 *
 * Call it once, right after the head went out; the answer holds while the
 * response is the socket's current one (a connection drops it when it closes).
 *
 * @example
 * res.writeHead(200, headers);
 * res.write(": ok\n\n");
 * const socket = directSocket(res); // then socket.write(asHttpChunk(frames)) or res.write(frames)
 */
export function directSocket(res: ServerResponse | Http2ServerResponse): ServingSocket | undefined {
  const state = res as unknown as OutgoingState;
  const socket = state.socket;
  if (socket === null || socket === undefined || socket._httpMessage !== res) return undefined;
  if (state.chunkedEncoding !== true || state._hasBody !== true || state._headerSent !== true) return undefined;
  if (!Array.isArray(state.outputData) || state.outputData.length !== 0) return undefined;
  return socket;
}

/**
 * The response `socket` is serving now (a drain handler shared by
 * every connection finds its connection through it, so it needs no closure).
 */
export function servedResponse(socket: ServingSocket): ServerResponse | null | undefined {
  return socket._httpMessage;
}

/**
 * `payload` as one HTTP/1.1 chunk: size in hex (of its UTF-8 bytes),
 * CRLF, the bytes, CRLF (RFC 9112, section 7.1).
 * @example asHttpChunk("data: é\n\n") // "a\r\ndata: é\n\n\r\n"
 */
export function asHttpChunk(payload: string): string {
  return `${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n`;
}

/**
 * Once the head of a streaming response went out, node:http still holds its
 * text (`res._header`, which it reads only as "the head was sent") as the tree
 * of strings it was concatenated from: about two dozen pieces, most of a KB per
 * open stream. Replace it with one flat copy of the same text. Anything but an
 * HTTP/1 response whose head is sent (HTTP/2, another Node's fields) is left alone.
 *
 * @example
 * res.writeHead(200, headers);
 * res.write(": ok\n\n");
 * compactHead(res); // res._header: the same text, one string
 */
export function compactHead(res: ServerResponse | Http2ServerResponse): void {
  const state = res as unknown as { _header?: unknown; _headerSent?: unknown };
  const head = state._header;
  if (state._headerSent !== true || typeof head !== "string" || head.length === 0) return;
  // A round trip through bytes makes a new sequential string; the head is latin1, as node:http writes it.
  state._header = Buffer.from(head, "latin1").toString("latin1");
}
