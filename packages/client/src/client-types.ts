/**
 * The types of a typed client: what a generated `Api` interface looks like,
 * and the call signatures {@link createClient} derives from it. Types only.
 */
import type { ConnectOptions, TypedSseEvent } from "./connect.js";

/** The methods an `Api` interface may list per path (OpenAPI's, `query` being 3.2's). */
export type ApiMethod = "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace" | "query";

/**
 * One operation of a generated `Api` interface. `never` marks what it does not
 * have: no path parameters, no body, no events (a JSON route), no JSON response
 * (an SSE route).
 */
export interface ApiOperation {
  /** Path template parameters, e.g. `{ id: number }` for `/users/{id}`. */
  params: unknown;
  /** Query parameters. */
  query: unknown;
  /** Header parameters (lower-case names). */
  headers: unknown;
  /** The JSON request body (`| undefined` when optional). */
  body: unknown;
  /** The 2xx response body: parsed JSON, a string for text, `undefined` for none. */
  response: unknown;
  /** Bodies of the documented non-2xx responses, by status (`"404"`, `"4XX"`, `"default"`). */
  errors: unknown;
  /** SSE routes: event name -> the type of its data. */
  events: unknown;
}

type IsNever<T> = [T] extends [never] ? true : false;

/** The operation of `Api` at `Path` and `Method`. */
export type OperationOf<Api, Path extends keyof Api, Method extends string> = Api[Path] extends { [M in Method]: infer Operation extends ApiOperation } ? Operation : never;

/** Paths of `Api` with a `Method` operation that is not an event stream. */
export type JsonPath<Api, Method extends ApiMethod> = {
  [Path in keyof Api & string]: Api[Path] extends { [M in Method]: { events: infer Events } } ? (IsNever<Events> extends true ? Path : never) : never;
}[keyof Api & string];

/** Methods of `Api[Path]` whose operation is an event stream. */
export type StreamMethod<Api, Path extends keyof Api> = {
  [Method in keyof Api[Path] & ApiMethod]: Api[Path][Method] extends { events: infer Events } ? (IsNever<Events> extends true ? never : Method) : never;
}[keyof Api[Path] & ApiMethod];

/** Paths of `Api` with at least one event-stream operation. */
export type StreamPath<Api> = {
  [Path in keyof Api & string]: IsNever<StreamMethod<Api, Path>> extends true ? never : Path;
}[keyof Api & string];

/** The response body type of an operation. */
export type ResponseOf<Api, Path extends keyof Api, Method extends string> = OperationOf<Api, Path, Method>["response"];

/**
 * The body of an error response of an operation: the union of its documented
 * non-2xx bodies (an `HttpResponseError`'s `body`, once you know which call threw).
 */
export type ErrorBodyOf<Api, Path extends keyof Api, Method extends string> = OperationOf<Api, Path, Method>["errors"] extends infer Errors
  ? IsNever<Errors> extends true
    ? unknown
    : Errors[keyof Errors]
  : never;

/** The event type an SSE operation's iterator yields: a union by event name, `data` typed per event. */
export type StreamEventOf<Api, Path extends keyof Api, Method extends string> = TypedSseEvent<OperationOf<Api, Path, Method>["events"] & object>;

/** Header values: the documented header parameters, plus any other header (authorization...). */
export type HeaderValues<Headers> = (IsNever<Headers> extends true ? unknown : Headers) & { [name: string]: unknown };

type ParamsPart<T> = IsNever<T> extends true ? { params?: never } : {} extends T ? { params?: T } : { params: T };
type QueryPart<T> = IsNever<T> extends true ? { query?: never } : {} extends T ? { query?: T } : { query: T };
type HeadersPart<T> = IsNever<T> extends true ? { headers?: HeaderValues<T> } : {} extends T ? { headers?: HeaderValues<T> } : { headers: HeaderValues<T> };
type BodyPart<T> = IsNever<T> extends true ? { body?: never } : undefined extends T ? { body?: T } : { body: T };

/** What a call passes for an operation: `params`, `query`, `headers` and `body` as its document says, and a `signal`. */
export type RequestOptions<Operation extends ApiOperation> = ParamsPart<Operation["params"]> &
  QueryPart<Operation["query"]> &
  HeadersPart<Operation["headers"]> &
  BodyPart<Operation["body"]> & {
    /** Aborting it aborts the request. */
    signal?: AbortSignal;
  };

/** The options argument, optional when nothing in it is required. */
export type RequestArgs<Options> = {} extends Options ? [options?: Options] : [options: Options];

/** What `client.stream()` passes: the request (as {@link RequestOptions}), the method of a non-GET stream, and `connect()`'s stream options. */
export type StreamOptions<Operation extends ApiOperation, Method extends string> = Omit<RequestOptions<Operation>, "signal"> &
  (Method extends "get" ? { method?: "get" } : { method: Method }) &
  Pick<ConnectOptions, "lastEventId" | "signal" | "reconnectDelayMs" | "maxReconnectDelayMs" | "onOpen" | "onReconnect">;

/**
 * The run-time description of an `Api`'s SSE routes (the generated `streams`
 * constant): path -> method -> event name -> `"json"` or `"text"`, or `"any"`
 * for a route whose document lists no events.
 */
export type StreamsDescription<Api> = {
  readonly [Path in StreamPath<Api>]: {
    readonly [Method in StreamMethod<Api, Path>]: { readonly [Event in keyof OperationOf<Api, Path, Method>["events"]]: "json" | "text" } | "any";
  };
};
