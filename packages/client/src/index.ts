/**
 * `@cellojs/client`: a Server-Sent Events client, and a typed API client, for
 * Node 20+ and browsers.
 *
 * - `connect()` streams a URL's events as a typed, reconnecting async iterator.
 * - `createParser()` is the WHATWG-exact incremental parser underneath, for
 *   bodies you fetch or read yourself.
 * - `createClient<Api>()` calls an API typed by the module `cello-client generate`
 *   writes from its OpenAPI document (`@cellojs/client/generate` is the generator).
 */
export { connect } from "./connect.js";
export type { ConnectOptions, FetchLike, ReconnectInfo, ReplayableBody, TypedSseEvent } from "./connect.js";
export { createParser } from "./parser.js";
export type { ParserOptions, ReceivedEvent, SseEvent, SseParser } from "./parser.js";
export { createClient } from "./client.js";
export type { Client, ClientOptions, UnknownEventInfo } from "./client.js";
export type { ApiOperation, ErrorBodyOf, RequestOptions, ResponseOf, StreamEventOf } from "./client-types.js";
export { HttpResponseError, SseClientError, SseClientErrorCode } from "./errors.js";
export type { SseClientErrorDetails } from "./errors.js";
