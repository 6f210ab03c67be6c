/**
 * @cellojs/core: Cello's App API for TypeScript, with Server-Sent Events that really stream.
 * @packageDocumentation
 */
export { App, type AppOptions, type CloseOptions, type Plugin } from "./app.js";
export type { ListenOptions, ServerAddress } from "./server.js";
export { Blueprint } from "./blueprint.js";
export { CHANNEL_HISTORY_DEFAULTS, memoryBroker, type ChannelBroker, type ChannelHistoryOptions, type ChannelMessage, type ReplayOptions, type ReplayResult } from "./channels/broker.js";
export { Channel, type ChannelOptions, type PublishOptions } from "./channels/channel.js";
export type { ChannelEvent, ResetPayload, SubscribeOptions } from "./channels/subscription.js";
export { controller, del, get, head, options, patch, post, put, route, type ControllerDecorator, type RouteDecorator } from "./decorators.js";
export { CelloError, ERROR_CODES, HttpError, type ErrorCode, type HttpErrorOptions } from "./errors.js";
export type { FinishInfo, HookName, Hooks } from "./hooks.js";
export { consoleLogger, silentLogger, type Logger } from "./logger.js";
export { cors, type CorsOptions } from "./plugins/cors.js";
export { logging, type LogRecord, type LoggingOptions } from "./plugins/logging.js";
export {
  rateLimit,
  type RateLimitOptions,
  type RateLimitPlugin,
  type RateLimitRule,
  type RateLimitStore,
  type RouteRateLimit,
  type StreamCaps,
  type StreamCounts,
} from "./plugins/rate-limit.js";
export { openapi } from "./plugins/openapi/plugin.js";
export type { OpenapiOptions, OpenapiUi, OperationDocs } from "./plugins/openapi/types.js";
export { Request } from "./request.js";
export { Response, type ResponseBody, type ResponseInit } from "./response.js";
export type { HttpMethod } from "./router.js";
export type { Handler, RouteInfo, RouteOptions } from "./routes.js";
export type { TrustProxy } from "./client-ip.js";
export type { OverflowPolicy, SseOptions, SseShutdownOptions } from "./sse/options.js";
export type { SseCloseReason, SseStreamInfo } from "./sse/report.js";
export type { SseSource } from "./sse/source.js";
export { SseEvent, formatSseComment, formatSseFrame, type SseEventOptions } from "./sse/event.js";
export { SseStream } from "./sse/stream.js";
