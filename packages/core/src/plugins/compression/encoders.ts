/**
 * The content codings of the compression plugin, on node:zlib.
 *
 * Why node:zlib and no library: it is what every Node compression package is
 * built on (Express's `compression`, `@fastify/compress`, `koa-compress`), it
 * ships with Node, and it has what a live stream needs: a flush mode applied to
 * every write (`Z_SYNC_FLUSH`, `BROTLI_OPERATION_FLUSH`). The `compression`
 * middleware is Express-shaped (it patches `res.write`/`res.end`), which would
 * bypass the one writer of a streaming socket (sse/writer.ts).
 */
import type { Duplex } from "node:stream";
import { promisify } from "node:util";
import zlib from "node:zlib";
import type { ContentEncoder } from "../../response.js";

/** A content coding the plugin offers. */
export type Coding = "br" | "gzip" | "deflate";

/** How hard each coding works (validated by the plugin). */
export interface EncoderSettings {
  /** gzip and deflate level, 1-9. */
  level: number;
  /** Brotli quality, 0-11. */
  brotliQuality: number;
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotli = promisify(zlib.brotliCompress);

/**
 * The encoder of `coding`, with `sse` telling the responder whether streams that set no
 * `compress` option are compressed. Whole bodies are encoded off the event loop (on
 * the thread pool), so a large body never stalls other clients' streams.
 */
export function createEncoder(coding: Coding, settings: EncoderSettings, sse: boolean): ContentEncoder {
  if (coding === "br") {
    const params = {
      [zlib.constants.BROTLI_PARAM_QUALITY]: settings.brotliQuality,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
    };
    return {
      coding,
      sse,
      encode: (body) => brotli(body, { params: { ...params, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength } }),
      // Every write is flushed: the bytes of each turn's frames leave at once.
      createStream: (): Duplex => zlib.createBrotliCompress({ params, flush: zlib.constants.BROTLI_OPERATION_FLUSH }),
    };
  }
  const options = { level: settings.level };
  // RFC 9110 8.4.1.2: "deflate" is the zlib format (RFC 1950), which node's deflate writes.
  const whole = coding === "gzip" ? gzip : deflate;
  return {
    coding,
    sse,
    encode: (body) => whole(body, options),
    createStream: (): Duplex =>
      coding === "gzip"
        ? zlib.createGzip({ ...options, flush: zlib.constants.Z_SYNC_FLUSH })
        : zlib.createDeflate({ ...options, flush: zlib.constants.Z_SYNC_FLUSH }),
  };
}
