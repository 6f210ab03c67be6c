/**
 * `@cellojs/client`: a Server-Sent Events client for Node 20+ and browsers.
 *
 * - `connect()` streams a URL's events as a typed, reconnecting async iterator.
 * - `createParser()` is the WHATWG-exact incremental parser underneath, for
 *   bodies you fetch or read yourself.
 */
export { connect } from "./connect.js";
export type { ConnectOptions, FetchLike, ReconnectInfo, ReplayableBody, TypedSseEvent } from "./connect.js";
export { createParser } from "./parser.js";
export type { ParserOptions, ReceivedEvent, SseEvent, SseParser } from "./parser.js";
export { SseClientError, SseClientErrorCode } from "./errors.js";
export type { SseClientErrorDetails } from "./errors.js";
