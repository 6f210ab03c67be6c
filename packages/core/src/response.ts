/**
 * Response: what a handler may build explicitly. Cello's `Response.json`,
 * `Response.sse` and friends; the bytes are written by respond.ts.
 */
import { CelloError, assertHeaderSafe } from "./errors.js";
import type { SseOptions, SseSource } from "./sse/engine.js";

/** Options common to the Response constructors. */
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
 * An HTTP response. Build one with the static constructors, adjust `status`
 * and headers, and return it from a handler.
 *
 * @example
 * app.post("/items", async (req) => Response.created(await req.json(), "/items/1"));
 * app.get("/old", () => Response.redirect("/new", { permanent: true }));
 */
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

  constructor(body: ResponseBody, init: ResponseInit = {}) {
    this.body = body;
    this.status = init.status ?? 200;
    if (!Number.isInteger(this.status) || this.status < 100 || this.status > 599) {
      throw new CelloError("CELLO_INVALID_OPTION", `status must be an integer from 100 to 599, got ${this.status}`);
    }
    if (init.headers) for (const name of Object.keys(init.headers)) this.setHeader(name, init.headers[name]!);
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
   * @example Response.json({ ok: true }, { status: 202 })
   */
  static json(data: unknown, init: ResponseInit = {}): Response {
    const response = new Response({ kind: "bytes", bytes: JSON.stringify(data) ?? "null" }, init);
    if (init.headers === undefined) response.headers["Content-Type"] = "application/json"; // constant: no need to re-validate
    else if (response.getHeader("content-type") === undefined) response.setHeader("Content-Type", "application/json");
    return response;
  }

  /** Plain text body, `Content-Type: text/plain; charset=utf-8`. */
  static text(text: string, init: ResponseInit = {}): Response {
    const response = new Response({ kind: "bytes", bytes: text }, init);
    if (init.headers === undefined) response.headers["Content-Type"] = "text/plain; charset=utf-8"; // constant: no need to re-validate
    else if (response.getHeader("content-type") === undefined) response.setHeader("Content-Type", "text/plain; charset=utf-8");
    return response;
  }

  /** HTML body, `Content-Type: text/html; charset=utf-8`. */
  static html(html: string, init: ResponseInit = {}): Response {
    const response = new Response({ kind: "bytes", bytes: html }, init);
    if (init.headers === undefined) response.headers["Content-Type"] = "text/html; charset=utf-8"; // constant: no need to re-validate
    else if (response.getHeader("content-type") === undefined) response.setHeader("Content-Type", "text/html; charset=utf-8");
    return response;
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

  /** Raw bytes with the given content type (default `application/octet-stream`). */
  static binary(bytes: Uint8Array, contentType = "application/octet-stream", init: ResponseInit = {}): Response {
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
