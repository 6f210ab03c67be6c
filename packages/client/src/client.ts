/**
 * `createClient<Api>()`: typed calls to a Cello.ts app (or any HTTP API) from
 * the `Api` interface `cello-client generate` writes from its OpenAPI
 * document. JSON routes are plain `fetch` calls; SSE routes go through
 * {@link connect}, so they reconnect and resume with `Last-Event-ID` as it does.
 * Uses only fetch, URL, Headers and JSON: Node 20+ and browsers alike.
 */
import type {
  ApiMethod,
  JsonPath,
  OperationOf,
  RequestArgs,
  RequestOptions,
  ResponseOf,
  StreamEventOf,
  StreamMethod,
  StreamOptions,
  StreamPath,
  StreamsDescription,
} from "./client-types.js";
import { connect, type FetchLike, type ReplayableBody, type TypedSseEvent } from "./connect.js";
import { HttpResponseError, SseClientError, SseClientErrorCode } from "./errors.js";

/** An event the document does not list, as {@link ClientOptions.onUnknownEvent} receives it. */
export interface UnknownEventInfo {
  /** The route's path template, e.g. `/notifications`. */
  path: string;
  /** The route's method, lower case. */
  method: string;
  /** The event, as received (`data` not decoded). */
  event: TypedSseEvent;
}

/** Options of {@link createClient}. */
export type ClientOptions<Api> = {
  /** Headers sent with every request (a call's own `headers` override them by name). */
  headers?: ConstructorParameters<typeof Headers>[0];
  /**
   * The fetch implementation, e.g. one that adds a fresh token to each request.
   * @default globalThis.fetch
   */
  fetch?: FetchLike;
  /**
   * Called for an event whose name the document does not list; the event is
   * skipped. A server may add events before its clients are regenerated, so this
   * is not an error. Default: `console.warn` once per route and event name.
   */
  onUnknownEvent?: (info: UnknownEventInfo) => void;
} & ([StreamPath<Api>] extends [never]
  ? { streams?: StreamsDescription<Api> }
  : {
      /** The generated `streams` constant: each SSE route's event names and how their data is encoded. */
      streams: StreamsDescription<Api>;
    });

/**
 * A client typed by an `Api` interface. JSON calls resolve to the parsed 2xx
 * body and reject with an {@link HttpResponseError} for any other status;
 * `stream()` iterates an SSE route's events.
 */
export interface Client<Api> {
  /** GET a JSON route. */
  get<Path extends JsonPath<Api, "get">>(path: Path, ...args: RequestArgs<RequestOptions<OperationOf<Api, Path, "get">>>): Promise<ResponseOf<Api, Path, "get">>;
  /** POST to a JSON route. */
  post<Path extends JsonPath<Api, "post">>(path: Path, ...args: RequestArgs<RequestOptions<OperationOf<Api, Path, "post">>>): Promise<ResponseOf<Api, Path, "post">>;
  /** PUT to a JSON route. */
  put<Path extends JsonPath<Api, "put">>(path: Path, ...args: RequestArgs<RequestOptions<OperationOf<Api, Path, "put">>>): Promise<ResponseOf<Api, Path, "put">>;
  /** PATCH a JSON route. */
  patch<Path extends JsonPath<Api, "patch">>(path: Path, ...args: RequestArgs<RequestOptions<OperationOf<Api, Path, "patch">>>): Promise<ResponseOf<Api, Path, "patch">>;
  /** DELETE a JSON route. */
  delete<Path extends JsonPath<Api, "delete">>(path: Path, ...args: RequestArgs<RequestOptions<OperationOf<Api, Path, "delete">>>): Promise<ResponseOf<Api, Path, "delete">>;
  /** Any method of a JSON route (`head`, `options`, OpenAPI 3.2's `query`...). */
  request<Method extends ApiMethod, Path extends JsonPath<Api, Method>>(
    method: Method,
    path: Path,
    ...args: RequestArgs<RequestOptions<OperationOf<Api, Path, Method>>>
  ): Promise<ResponseOf<Api, Path, Method>>;
  /**
   * Streams an SSE route's events: a union by event name, `data` parsed from
   * JSON where the document says so. Reconnects and resumes with
   * `Last-Event-ID` as {@link connect} does; a first response that is not 200
   * throws an {@link HttpResponseError} with the body (problem+json).
   */
  stream<Path extends StreamPath<Api>, Method extends StreamMethod<Api, Path> = StreamMethod<Api, Path>>(
    path: Path,
    ...args: RequestArgs<StreamOptions<OperationOf<Api, Path, Method>, Method>>
  ): AsyncGenerator<StreamEventOf<Api, Path, Method>, void, undefined>;
}

/** Values a path parameter, query parameter or header may have at run time. */
type Scalar = string | number | boolean | bigint;

/** The untyped shape of what every call passes. */
interface CallOptions {
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  headers?: Record<string, unknown>;
  body?: unknown;
  signal?: AbortSignal;
  method?: string;
  lastEventId?: string;
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  onOpen?: (response: Response) => void;
  onReconnect?: Parameters<typeof connect>[1] extends infer O ? (O extends { onReconnect?: infer F } ? F : never) : never;
}

type RuntimeStreams = Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, "json" | "text">> | "any">>>>;

/**
 * Creates a client for the API at `baseUrl`, typed by `Api` (the interface
 * `cello-client generate` writes from the server's OpenAPI document).
 *
 * - Path parameters are encoded with `encodeURIComponent`; one that is missing,
 *   or is `.` or `..` (a URL would resolve it to another route), throws a TypeError.
 * - Query values: strings, numbers, booleans, or arrays of them (repeated keys);
 *   `undefined` and `null` are left out; an object throws a TypeError.
 * - A body is sent as JSON (`Content-Type: application/json`) unless it is a
 *   FormData, URLSearchParams, Blob, ArrayBuffer or typed array (sent as is),
 *   or the call sets a Content-Type that is not JSON and passes a string.
 * - A 2xx response resolves to its parsed JSON (Content-Type `application/json`
 *   or `+json`), its text (`text/*`), `undefined` (204, 205, HEAD, empty body)
 *   or a Blob; JSON that does not parse rejects with a TypeError. Any other
 *   status rejects with an {@link HttpResponseError} carrying the body.
 * - `stream()`: an event the document does not list is skipped and reported to
 *   `onUnknownEvent`; data that is not JSON where the document says JSON ends
 *   the iteration with an {@link SseClientError} `ERR_SSE_INVALID_JSON`
 *   (the server broke its contract: reconnecting would replay the same event).
 *
 * @param baseUrl - Where the API is, e.g. `http://127.0.0.1:8000` or `/api`
 *   (relative to `location` in a browser); the route's path is appended.
 * @param options - `streams` (the generated constant, required when `Api` has
 *   SSE routes), `headers`, `fetch`, `onUnknownEvent`.
 * @throws TypeError for a `baseUrl` that is not a URL.
 *
 * @example
 * ```ts
 * import { createClient } from "@cellojs/client";
 * import { type Api, streams } from "./api.gen.js";
 *
 * const client = createClient<Api>("http://127.0.0.1:8000", { streams });
 * const user = await client.get("/users/{id}", { params: { id: 7 } });
 * for await (const event of client.stream("/notifications", { query: { topic: "news" } })) {
 *   if (event.event === "notice") console.log(event.data.text);
 * }
 * ```
 */
export function createClient<Api>(baseUrl: string | URL, ...[options]: RequestArgs<ClientOptions<Api>>): Client<Api> {
  const base = resolveBase(baseUrl);
  const settings = (options ?? {}) as ClientOptions<unknown> & { streams?: RuntimeStreams };
  const fetchImpl = (): FetchLike => {
    const impl = settings.fetch ?? globalThis.fetch;
    if (typeof impl !== "function") throw new TypeError("createClient(): no fetch implementation; pass one as the `fetch` option");
    return impl;
  };
  const warned = new Set<string>();
  const onUnknownEvent =
    settings.onUnknownEvent ??
    ((info: UnknownEventInfo) => {
      const key = `${info.method} ${info.path} ${info.event.event}`;
      if (warned.has(key)) return;
      warned.add(key);
      console.warn(`@cellojs/client: ${info.method.toUpperCase()} ${info.path} sent event ${JSON.stringify(info.event.event)}, which its OpenAPI document does not list: skipped (regenerate the client types?)`);
    });

  async function call(method: string, path: string, callOptions: CallOptions = {}): Promise<unknown> {
    const url = buildUrl(base, path, callOptions, method);
    const headers = buildHeaders(settings.headers, callOptions.headers);
    const body = encodeBody(callOptions.body, headers);
    const upper = method.toUpperCase();
    const response = await fetchImpl()(url, { method: upper, headers, body: body ?? null, signal: callOptions.signal ?? null });
    if (response.status < 200 || response.status > 299) {
      throw new HttpResponseError({ status: response.status, statusText: response.statusText, method: upper, url, headers: response.headers, body: await errorBody(response) });
    }
    return successBody(response, upper, url);
  }

  function stream(path: string, callOptions: CallOptions = {}): AsyncGenerator<TypedSseEvent<Record<string, unknown>>, void, undefined> {
    const method = (callOptions.method ?? "get").toLowerCase();
    const description = settings.streams?.[path]?.[method];
    if (description === undefined) {
      throw new TypeError(
        `client.stream(): ${method.toUpperCase()} ${path} is not an SSE route of the \`streams\` given to createClient (regenerate the types, and pass the generated \`streams\`)`,
      );
    }
    const url = buildUrl(base, path, callOptions, method);
    const headers = buildHeaders(settings.headers, callOptions.headers);
    const body = encodeBody(callOptions.body, headers);
    if (body instanceof ReadableStream) throw new TypeError("client.stream(): a stream body cannot be sent again on reconnect; pass a string, Blob or FormData");
    // The first non-200 response's body is read here, so the error can carry the
    // problem+json; connect() then fails the connection on its status as always.
    let failed: { response: Response; body: unknown } | undefined;
    const fetchWithErrorBody: FetchLike = async (input, init) => {
      const response = await fetchImpl()(input, init);
      if (response.status === 200 || response.status === 204) return response;
      failed = { response, body: await errorBody(response) };
      return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
    const events = connect(url, {
      method: method.toUpperCase(),
      headers,
      ...(body === undefined ? {} : { body: body as ReplayableBody }),
      ...(callOptions.lastEventId === undefined ? {} : { lastEventId: callOptions.lastEventId }),
      ...(callOptions.signal === undefined ? {} : { signal: callOptions.signal }),
      ...(callOptions.reconnectDelayMs === undefined ? {} : { reconnectDelayMs: callOptions.reconnectDelayMs }),
      ...(callOptions.maxReconnectDelayMs === undefined ? {} : { maxReconnectDelayMs: callOptions.maxReconnectDelayMs }),
      ...(callOptions.onOpen === undefined ? {} : { onOpen: callOptions.onOpen }),
      ...(callOptions.onReconnect === undefined ? {} : { onReconnect: callOptions.onReconnect }),
      fetch: fetchWithErrorBody,
    });
    return decodeEvents(events, description, { path, method, url, onUnknownEvent, failed: () => failed });
  }

  return {
    get: (path: string, options?: CallOptions) => call("get", path, options),
    post: (path: string, options?: CallOptions) => call("post", path, options),
    put: (path: string, options?: CallOptions) => call("put", path, options),
    patch: (path: string, options?: CallOptions) => call("patch", path, options),
    delete: (path: string, options?: CallOptions) => call("delete", path, options),
    request: (method: string, path: string, options?: CallOptions) => call(method, path, options),
    stream,
  } as unknown as Client<Api>;
}

async function* decodeEvents(
  events: AsyncGenerator<TypedSseEvent, void, undefined>,
  description: Readonly<Record<string, "json" | "text">> | "any",
  route: { path: string; method: string; url: string; onUnknownEvent: (info: UnknownEventInfo) => void; failed: () => { response: Response; body: unknown } | undefined },
): AsyncGenerator<TypedSseEvent<Record<string, unknown>>, void, undefined> {
  try {
    for await (const event of events) {
      if (description === "any") {
        yield event;
        continue;
      }
      const encoding = Object.hasOwn(description, event.event) ? description[event.event] : undefined;
      if (encoding === undefined) {
        route.onUnknownEvent({ path: route.path, method: route.method, event });
        continue;
      }
      if (encoding === "text") {
        yield event;
        continue;
      }
      let data: unknown;
      try {
        data = JSON.parse(event.data);
      } catch (cause) {
        throw new SseClientError(
          SseClientErrorCode.INVALID_JSON,
          `Event stream ${route.url}: data of event "${event.event}" is not valid JSON, which the OpenAPI document promises: ${JSON.stringify(event.data.length > 80 ? `${event.data.slice(0, 80)}…` : event.data)}.`,
          { url: route.url, event: event.event, cause },
        );
      }
      yield { ...event, data };
    }
  } catch (error) {
    const failed = route.failed();
    if (error instanceof SseClientError && error.code === SseClientErrorCode.BAD_STATUS && failed !== undefined) {
      throw new HttpResponseError({
        status: failed.response.status,
        statusText: failed.response.statusText,
        method: route.method.toUpperCase(),
        url: route.url,
        headers: failed.response.headers,
        body: failed.body,
      });
    }
    throw error;
  }
}

function resolveBase(baseUrl: string | URL): string {
  const location = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(baseUrl, location);
  } catch (cause) {
    throw new TypeError(`createClient(): ${JSON.stringify(String(baseUrl))} is not a valid URL`, { cause });
  }
  url.search = "";
  url.hash = "";
  return url.href.replace(/\/+$/, "");
}

function buildUrl(base: string, path: string, options: CallOptions, method: string): string {
  const where = `client ${method.toUpperCase()} ${JSON.stringify(path)}`;
  if (typeof path !== "string" || !path.startsWith("/")) throw new TypeError(`${where}: the path must start with "/"`);
  const params = options.params ?? {};
  const used = new Set<string>();
  const filled = path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    used.add(name);
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (value === undefined || value === null) throw new TypeError(`${where}: params.${name} is missing`);
    if (!isScalar(value)) throw new TypeError(`${where}: params.${name} must be a string, number, boolean or bigint`);
    const text = String(value);
    // "." and ".." would be resolved away by the URL, reaching another route.
    if (text === "" || text === "." || text === "..") throw new TypeError(`${where}: params.${name} cannot be ${JSON.stringify(text)}`);
    return encodeURIComponent(text);
  });
  for (const name of Object.keys(params)) {
    if (!used.has(name) && params[name] !== undefined) throw new TypeError(`${where}: params.${name} is not a parameter of this path`);
  }
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(options.query ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === undefined || item === null) continue;
      if (!isScalar(item)) throw new TypeError(`${where}: query.${name} must be a string, number, boolean, or an array of them`);
      search.append(name, String(item));
    }
  }
  const query = search.toString();
  return `${base}${filled}${query === "" ? "" : `?${query}`}`;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean" || typeof value === "bigint";
}

function buildHeaders(defaults: ClientOptions<unknown>["headers"], own: Record<string, unknown> | undefined): Headers {
  const headers = new Headers(defaults);
  for (const [name, value] of Object.entries(own ?? {})) {
    if (value === undefined || value === null) continue;
    if (!isScalar(value)) throw new TypeError(`client: header ${JSON.stringify(name)} must be a string, number or boolean`);
    headers.set(name, String(value)); // throws a TypeError for an invalid name or value
  }
  return headers;
}

function encodeBody(body: unknown, headers: Headers): BodyInit | undefined {
  if (body === undefined) return undefined;
  if (
    body instanceof FormData ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof ReadableStream
  ) {
    return body as BodyInit;
  }
  const contentType = headers.get("content-type");
  if (typeof body === "string" && contentType !== null && !isJson(contentType)) return body;
  if (contentType === null) headers.set("content-type", "application/json");
  return JSON.stringify(body);
}

function isJson(contentType: string | null): boolean {
  if (contentType === null) return false;
  const essence = contentType.split(";")[0]!.trim().toLowerCase();
  return essence === "application/json" || essence.endsWith("+json");
}

/** An error response's body: JSON when it says so and parses, else its text. */
async function errorBody(response: Response): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return "";
  }
  if (isJson(response.headers.get("content-type")) && text !== "") {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

async function successBody(response: Response, method: string, url: string): Promise<unknown> {
  if (response.status === 204 || response.status === 205 || method === "HEAD") {
    await response.body?.cancel().catch(() => {});
    return undefined;
  }
  const contentType = response.headers.get("content-type");
  if (isJson(contentType)) {
    const text = await response.text();
    if (text === "") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new TypeError(`${method} ${url}: the response says ${contentType} but is not valid JSON`, { cause });
    }
  }
  if (contentType !== null && contentType.trim().toLowerCase().startsWith("text/")) return response.text();
  const blob = await response.blob();
  return blob.size === 0 ? undefined : blob;
}
