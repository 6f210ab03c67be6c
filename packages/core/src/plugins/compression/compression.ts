/**
 * Compression plugin (`app.enableCompression()`), built on the public hook API:
 * an onResponse hook negotiates `Accept-Encoding`, adds `Vary`, and hands the
 * response an encoder (response.ts `ContentEncoder`); the responder applies it
 * (respond.ts), and for a stream the SSE writer writes through it (sse/writer.ts).
 */
import Negotiator from "negotiator";
import type { Plugin } from "../../app.js";
import { describeValue } from "../../describe.js";
import { CelloError } from "../../errors.js";
import type { Request } from "../../request.js";
import type { ContentEncoder, Response } from "../../response.js";
import { appendVary } from "../vary.js";
import { isCompressible } from "./compressible.js";
import { createEncoder, type Coding } from "./encoders.js";

/** Options of `app.enableCompression(options)`. */
export interface CompressionOptions {
  /**
   * The codings offered, most preferred first: when a client rates several equally
   * (`Accept-Encoding: gzip, deflate, br`), the first of this list wins. Default `["br", "gzip"]`.
   * `"deflate"` may be added; it is left out by default because it adds nothing over gzip
   * for any client and old clients disagreed on its format. SSE streams prefer gzip when the
   * client rates it as high as brotli: a brotli stream holds about twice the memory.
   */
  encodings?: Coding[];
  /** Smallest body in bytes that is compressed: below it the framing costs more than it saves. Default 1024. */
  threshold?: number;
  /** gzip and deflate level, 1 (fastest) to 9 (smallest). Default 6 (zlib's). */
  level?: number;
  /** Brotli quality, 0 to 11. Default 4: near gzip's speed with smaller output; 11 is meant for files compressed once, ahead of time. */
  brotliQuality?: number;
  /**
   * Which `Content-Type`s are compressed. Default: text, JSON, XML, JavaScript, SVG,
   * WebAssembly and the like; never images, audio, video, archives or woff2 (already compressed).
   */
  filter?: (contentType: string) => boolean;
  /**
   * Compress the SSE streams of every route that sets no `sse: { compress }` of its own.
   * Default false: each stream route opts in with `{ sse: { compress: true } }`.
   */
  sse?: boolean;
}

interface NegotiatorWithPreference {
  encodings(available: readonly string[], options: { preferred: readonly string[] }): string[];
}

const NO_TRANSFORM = /(?:^|,)\s*no-transform\s*(?:,|$)/i;
const CODINGS: readonly Coding[] = ["br", "gzip", "deflate"];

/**
 * The compression plugin. `app.enableCompression(options)` is `app.use(compression(options))`.
 *
 * Ordinary responses: a body of a compressible type (see `filter`) of at least `threshold`
 * bytes is sent gzip- or brotli-encoded when the client's `Accept-Encoding` allows it
 * (q-values honoured), with `Vary: Accept-Encoding` and the encoded `Content-Length`.
 * Left alone: HEAD, 204/304 and other empty bodies, bodies already carrying a
 * `Content-Encoding`, and responses with `Cache-Control: no-transform`. A strong `ETag`
 * becomes weak on an encoded response (the bytes differ from the identity ones).
 *
 * SSE streams: compressed only when opted in (the route's `sse: { compress: true }`, or
 * `sse: true` here for every stream route); every flush of the stream is compressed and
 * flushed (`Z_SYNC_FLUSH`), so each event still arrives at once.
 *
 * Bad input: an `Accept-Encoding` that is malformed, huge, names no coding offered, or
 * refuses them all (`q=0`, `*;q=0`) gets the response unencoded; never an error.
 * Misconfigured options throw `CELLO_INVALID_OPTION` here, at setup.
 *
 * @example
 * app.enableCompression();                          // gzip/br above 1 KiB
 * app.enableCompression({ threshold: 4096, sse: true });
 * app.get("/feed", handler, { sse: { compress: true } });
 */
export function compression(options: CompressionOptions = {}): Plugin {
  const encodings = checkEncodings(options.encodings);
  const threshold = checkInteger("threshold", options.threshold ?? 1024, 0, Number.MAX_SAFE_INTEGER);
  const level = checkInteger("level", options.level ?? 6, 1, 9);
  const brotliQuality = checkInteger("brotliQuality", options.brotliQuality ?? 4, 0, 11);
  const filter = options.filter ?? isCompressible;
  if (typeof filter !== "function") throw new CelloError("CELLO_INVALID_OPTION", `compression filter must be a function, got ${describeValue(filter)}`);
  const sse = options.sse ?? false;
  if (typeof sse !== "boolean") throw new CelloError("CELLO_INVALID_OPTION", `compression sse must be true or false, got ${describeValue(sse)}`);

  // One encoder object per coding, shared by every response.
  const encoders = new Map<string, ContentEncoder>(encodings.map((coding) => [coding, createEncoder(coding, { level, brotliQuality }, sse)]));
  const streamOrder = [...encodings].sort((a, b) => (a === "gzip" ? -1 : b === "gzip" ? 1 : 0));

  /** The coding to use for `request`, in `preferred` order among those it rates highest; undefined: identity. */
  function negotiate(request: Request, preferred: readonly Coding[]): ContentEncoder | undefined {
    const accept = request.getHeader("accept-encoding");
    // No header: RFC 9110 allows any coding, but clients that send none rarely decode one.
    if (accept === undefined || accept === "") return undefined;
    const negotiator = new Negotiator({ headers: { "accept-encoding": accept } }) as unknown as NegotiatorWithPreference;
    // identity competes too, last on ties: `gzip;q=0.5, identity` asks for the body as it is.
    const offered = [...preferred, "identity"];
    const chosen = negotiator.encodings(offered, { preferred: offered })[0];
    return chosen === undefined ? undefined : encoders.get(chosen);
  }

  return (app) => {
    app.addHook("onResponse", (request, response) => {
      const body = response.body;
      if (body.kind === "empty" || response.getHeader("content-encoding") !== undefined) return;
      if (body.kind === "sse") {
        // Whether this stream is compressed also depends on its route's options, which only the
        // responder sees: it applies the encoder when they (or `sse` here) say so.
        if (body.options.compress === false || request.method === "HEAD") return;
        appendVary(response, "Accept-Encoding");
        response.encoder = negotiate(request, streamOrder);
        return;
      }
      if (!worthCompressing(response, body.bytes)) return;
      // From here the bytes depend on the request's Accept-Encoding: caches must key on it.
      appendVary(response, "Accept-Encoding");
      if (request.method === "HEAD") return;
      const encoder = negotiate(request, encodings);
      if (encoder === undefined) return;
      const etag = response.getHeader("etag");
      if (typeof etag === "string" && etag.startsWith('"')) response.setHeader("ETag", `W/${etag}`);
      response.encoder = encoder;
    });
  };

  function worthCompressing(response: Response, bytes: string | Uint8Array): boolean {
    const status = response.status;
    if (status < 200 || status === 204 || status === 304) return false;
    const type = response.getHeader("content-type");
    if (type === undefined || !filter(String(type))) return false;
    const cacheControl = response.getHeader("cache-control");
    if (cacheControl !== undefined && NO_TRANSFORM.test(String(cacheControl))) return false;
    // A string of n UTF-16 units is at least n bytes: count bytes only when it could be short.
    const size = typeof bytes === "string" ? (bytes.length >= threshold ? threshold : Buffer.byteLength(bytes)) : bytes.byteLength;
    return size >= threshold;
  }
}

function checkEncodings(encodings: unknown): Coding[] {
  if (encodings === undefined) return ["br", "gzip"];
  if (!Array.isArray(encodings) || encodings.length === 0 || !encodings.every((coding) => CODINGS.includes(coding))) {
    throw new CelloError("CELLO_INVALID_OPTION", `compression encodings must be a non-empty list of "br", "gzip", "deflate"; got ${describeValue(encodings)}`);
  }
  return [...new Set(encodings as Coding[])];
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new CelloError("CELLO_INVALID_OPTION", `compression ${name} must be a whole number from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}
