/**
 * Response: what a handler may build explicitly. Cello's `Response.json`,
 * `Response.sse` and friends; the bytes are written by respond.ts.
 */
import { describeValue, isPlainObject } from "./describe.js";
import { CelloError, assertHeaderSafe } from "./errors.js";
import type { Html } from "./html/html.js";
import type { Duplex } from "node:stream";
import type { SseOptions } from "./sse/options.js";
import type { SseSource } from "./sse/source.js";

/**
 * Options common to the Response constructors. Wherever a constructor takes an
 * `init`, a bare status number works too (`Response.json(data, 401)`, as Hono's
 * `c.json(data, 401)`); anything else that is not `{ status?, headers? }` throws
 * `CELLO_INVALID_OPTION`, so a misspelt key is never silently ignored.
 */
export interface ResponseInit {
  /** HTTP status. Default 200 (201 for `created`, 204 for `noContent`). */
  status?: number;
  /** Extra headers. A name or value Node would refuse (see {@link Response.setHeader}) throws `CELLO_INVALID_HEADER`. */
  headers?: Record<string, string>;
}

/** The body a Response carries: bytes, text, or an SSE source handed to the engine. */
export type ResponseBody =
  | { kind: "empty" }
  | { kind: "bytes"; bytes: string | Uint8Array }
  | { kind: "sse"; source: SseSource; options: SseOptions };

/**
 * A content coding (`Content-Encoding`) a plugin asks the responder to apply to a response,
 * by setting {@link Response.encoder} in an onResponse hook. The compression plugin
 * (`app.enableCompression()`) builds them on node:zlib; you rarely write one yourself.
 *
 * The responder applies it unless the response already carries a `Content-Encoding`:
 * a bytes body is encoded whole (`Content-Length` is the encoded length); an SSE body is
 * encoded through {@link ContentEncoder.createStream} when the stream's `compress` option
 * says so (or, when the stream sets none, {@link ContentEncoder.sse}); empty bodies and HEAD
 * answers are never encoded. The responder then sets `Content-Encoding` itself.
 */
export interface ContentEncoder {
  /** The `Content-Encoding` token, e.g. `"gzip"` or `"br"`. */
  readonly coding: string;
  /** Whether an SSE stream that sets no `compress` option of its own is encoded. */
  readonly sse: boolean;
  /** Encode a whole body. A rejection sends the body unencoded (and is logged). */
  encode(body: Uint8Array): Promise<Uint8Array>;
  /**
   * A stream encoder for one SSE response: whatever is written to it must come out at once
   * (flushed, e.g. with `Z_SYNC_FLUSH`), and `end()` must finish the encoding. It is destroyed
   * when the response closes.
   */
  createStream(): Duplex;
}

/**
 * An HTTP response. Build one with the static constructors, adjust `status`
 * and headers, and return it from a handler.
 *
 * @example
 * app.post("/items", async (req) => Response.created(await req.json(), "/items/1"));
 * app.get("/old", () => Response.redirect("/new", { permanent: true }));
 */
/** The init of a response built without one: shared, so a handler's `return { ... }` allocates no init object. */
const NO_INIT: ResponseInit = Object.freeze({});

export class Response {
  /** HTTP status code. */
  status: number;
  /**
   * Headers, by the name they were set with. Use {@link Response.setHeader} to change them: it checks
   * each header at once. Whatever is written here directly is checked just before the head is written,
   * and a bad header then answers 500 instead.
   */
  readonly headers: Record<string, string | string[]> = {};
  /** The body. */
  readonly body: ResponseBody;
  /**
   * A content coding to apply when the response is written, set by a plugin's onResponse hook
   * (the compression plugin sets it when the client accepts gzip or brotli). Default: none.
   */
  encoder: ContentEncoder | undefined = undefined;

  /**
   * @param body - What to send (the static constructors build it for you).
   * @param init - A status number, or `{ status?, headers? }`. Default: status 200, no extra headers.
   */
  constructor(body: ResponseBody, init: ResponseInit | number = NO_INIT) {
    this.body = body;
    if (typeof init === "number") {
      this.status = init;
    } else {
      if (init !== NO_INIT) assertInitShape(init);
      this.status = init.status ?? 200;
    }
    if (typeof this.status !== "number" || !Number.isInteger(this.status) || this.status < 100 || this.status > 599) {
      throw new CelloError("CELLO_INVALID_OPTION", `status must be an integer from 100 to 599, got ${describeValue(this.status)}`);
    }
    if (typeof init === "object" && init.headers) for (const name of Object.keys(init.headers)) this.setHeader(name, init.headers[name]!);
  }

  /**
   * Set a header, replacing any value of the same name (case-insensitive).
   * Throws `CELLO_INVALID_HEADER` for what Node refuses in a head: a name that is not
   * an HTTP token, and a value with CR, LF or NUL (response splitting), another control
   * character (tab is fine), or a character beyond Latin-1 (percent-encode those, as
   * `encodeURI` does for a `Location`).
   * @example response.setHeader("Cache-Control", "no-store")
   */
  setHeader(name: string, value: string | number | string[]): this {
    const values = Array.isArray(value) ? value : [String(value)];
    for (const v of values) assertHeaderSafe(name, v);
    const existing = this.#findName(name);
    if (existing !== undefined && existing !== name) delete this.headers[existing];
    this.headers[name] = Array.isArray(value) ? values : values[0]!;
    return this;
  }

  /** A header's value by case-insensitive name. */
  getHeader(name: string): string | string[] | undefined {
    const existing = this.#findName(name);
    return existing === undefined ? undefined : this.headers[existing];
  }

  /** Remove a header by case-insensitive name. */
  removeHeader(name: string): this {
    const existing = this.#findName(name);
    if (existing !== undefined) delete this.headers[existing];
    return this;
  }

  #findName(name: string): string | undefined {
    if (name in this.headers) return name;
    const lower = name.toLowerCase();
    for (const key of Object.keys(this.headers)) if (key.toLowerCase() === lower) return key;
    return undefined;
  }

  /**
   * JSON body, `Content-Type: application/json`.
   * @param data - Serialised with `JSON.stringify` (`undefined` becomes `null`).
   * @param init - A status number or `{ status?, headers? }`. Default: 200.
   * @example
   * Response.json({ error: "sign in first" }, 401)
   * Response.json({ ok: true }, { status: 202, headers: { "Retry-After": "5" } })
   */
  static json(data: unknown, init: ResponseInit | number = NO_INIT): Response {
    return withContentType(new Response({ kind: "bytes", bytes: JSON.stringify(data) ?? "null" }, init), init, "application/json");
  }

  /**
   * Plain text body, `Content-Type: text/plain; charset=utf-8`.
   * @param init - A status number or `{ status?, headers? }`. Default: 200.
   * @example Response.text("not here", 404)
   */
  static text(text: string, init: ResponseInit | number = NO_INIT): Response {
    return withContentType(new Response({ kind: "bytes", bytes: text }, init), init, "text/plain; charset=utf-8");
  }

  /**
   * HTML body, `Content-Type: text/html; charset=utf-8`.
   * @param html - The markup: a string as it is, or an {@link Html} from the `html` template.
   * @param init - A status number or `{ status?, headers? }`. Default: 200.
   * @example
   * Response.html("<h1>Gone</h1>", 410)
   * Response.html(html`<p>No match for ${query}</p>`, 404)
   */
  static html(html: string | Html, init: ResponseInit | number = NO_INIT): Response {
    return withContentType(new Response({ kind: "bytes", bytes: typeof html === "string" ? html : html.toString() }, init), init, "text/html; charset=utf-8");
  }

  /**
   * A redirect: 302 (or 301 with `permanent: true`; pass `status` for 303/307/308).
   * @example Response.redirect("/login")
   */
  static redirect(url: string, options: { permanent?: boolean; status?: number } = {}): Response {
    const status = options.status ?? (options.permanent ? 301 : 302);
    return new Response({ kind: "empty" }, { status, headers: { Location: url } });
  }

  /** 204 No Content. */
  static noContent(init: Omit<ResponseInit, "status"> = {}): Response {
    return new Response({ kind: "empty" }, { ...init, status: 204 });
  }

  /** 201 Created with a JSON body and, when given, a `Location` header. */
  static created(data: unknown, location?: string, init: Omit<ResponseInit, "status"> = {}): Response {
    const response = Response.json(data, { ...init, status: 201 });
    if (location !== undefined) response.setHeader("Location", location);
    return response;
  }

  /** Raw bytes with the given content type (default `application/octet-stream`); `init` as for {@link Response.json}. */
  static binary(bytes: Uint8Array, contentType = "application/octet-stream", init: ResponseInit | number = NO_INIT): Response {
    const response = new Response({ kind: "bytes", bytes }, init);
    response.setHeader("Content-Type", contentType);
    return response;
  }

  /**
   * A Server-Sent Events response from an SseStream, an async iterable or
   * generator, or a sync iterable, with per-route streaming options.
   *
   * @example
   * app.get("/ticks", () => Response.sse(ticks(), { heartbeatMs: 5000, retry: 2000 }));
   */
  static sse(source: SseSource, options: SseOptions & ResponseInit = {}): Response {
    const { status, headers, ...sseOptions } = options;
    return new Response({ kind: "sse", source, options: sseOptions }, { status, headers });
  }
}

/** Set `contentType` unless the caller's headers already carry one. */
function withContentType(response: Response, init: ResponseInit | number, contentType: string): Response {
  // No caller headers: the constant needs no re-validation.
  if (typeof init === "number" || init.headers === undefined) response.headers["Content-Type"] = contentType;
  else if (response.getHeader("content-type") === undefined) response.setHeader("Content-Type", contentType);
  return response;
}

/**
 * Refuse an init that is not `{ status?, headers? }`: `{ code: 401 }` or
 * `{ statusCode: 401 }` would otherwise send a silent 200.
 */
function assertInitShape(init: unknown): asserts init is ResponseInit {
  if (typeof init !== "object" || init === null || Array.isArray(init)) {
    throw new CelloError("CELLO_INVALID_OPTION", `a response init must be a status number or { status?, headers? }, got ${describeValue(init)}`);
  }
  for (const key in init) {
    if (key !== "status" && key !== "headers") {
      throw new CelloError(
        "CELLO_INVALID_OPTION",
        `unknown response option ${JSON.stringify(key)}: pass a status number (Response.json(data, 401)) or { status?, headers? }`,
      );
    }
  }
  const headers = (init as ResponseInit).headers;
  if (headers !== undefined && !isPlainObject(headers)) {
    // A fetch `Headers` or a Map has no own enumerable entries: it would silently send no header.
    throw new CelloError("CELLO_INVALID_OPTION", `response headers must be a plain object of name: value, got ${describeValue(headers)}`);
  }
}
