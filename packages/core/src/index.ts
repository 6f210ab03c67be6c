/**
 * @cellojs/core: Cello's App API for TypeScript, with Server-Sent Events that really stream.
 * @packageDocumentation
 */
export { App, type AppOptions, type AppState, type CloseOptions, type LifecycleEvent, type Plugin } from "./app.js";
export type { RunOptions } from "./workers/cluster.js";
export type { ListenOptions, ServerAddress } from "./server.js";
export { Blueprint, type BlueprintOptions } from "./blueprint.js";
export type { ChannelAccessDefault, ChannelAuthorizer, ChannelPattern } from "./channels/access.js";
export { CHANNEL_HISTORY_DEFAULTS, memoryBroker, type BrokerStatus, type ChannelBroker, type ChannelHistoryOptions, type ChannelMessage, type PublishedMessage, type ReplayOptions, type ReplayResult } from "./channels/broker.js";
export { Channel, type ChannelOptions, type PublishOptions } from "./channels/channel.js";
export type { ChannelSelector } from "./channels/registry.js";
export type { ChannelEvent, ResetPayload, SubscribeOptions } from "./channels/subscription.js";
export { controller, del, get, head, options, patch, post, put, route, type ControllerDecorator, type ControllerOptions, type RouteDecorator } from "./decorators.js";
export {
  DIAGNOSTICS_CHANNELS,
  type BrokerStateMessage,
  type ChannelDeliverMessage,
  type ChannelPublishMessage,
  type ChannelReplayMessage,
  type ChannelResetMessage,
  type HttpResponseMessage,
  type SseCloseMessage,
  type SseDropMessage,
  type SseHeartbeatMessage,
  type SseOpenMessage,
  type SseWriteMessage,
} from "./diagnostics.js";
export { CelloError, ERROR_CODES, HttpError, type ErrorCode, type HttpErrorOptions } from "./errors.js";
export { Authenticated, type AuthenticatedOptions, type VerifiedCredential } from "./guards/authenticated.js";
export { PermissionGuard, RoleGuard, type PermissionGuardOptions, type RoleGuardOptions } from "./guards/claims.js";
export { And, Not, Or } from "./guards/combinators.js";
export type { Guard, GuardResult, GuardSecurity, Principal } from "./guards/guard.js";
export type { FinishInfo, HookName, Hooks } from "./hooks.js";
export { consoleLogger, silentLogger, type Logger } from "./logger.js";
export { compression, type CompressionOptions } from "./plugins/compression/compression.js";
export { cors, type CorsOptions } from "./plugins/cors.js";
export { healthChecks, type HealthCheck, type HealthCheckOptions } from "./plugins/health.js";
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
export { metrics, type MetricsOptions, type MetricsRegistry } from "./plugins/metrics/metrics.js";
export type { NotAcceptableProblem } from "./negotiation.js";
export { uiMessageStream, type UIMessageChunkObject, type UIMessageFinishReason, type UIMessageStreamOptions } from "./protocols/ai-sdk.js";
export { openaiChatStream, type OpenAIChatChunk, type OpenAIChatStreamOptions, type OpenAIFinishReason, type OpenAIUsage } from "./protocols/openai.js";
export { Html, escapeHtml, html, unsafeHtml, type HtmlValue } from "./html/html.js";
export { Request } from "./request.js";
export { Response, type ContentEncoder, type ResponseBody, type ResponseInit } from "./response.js";
export type { HttpMethod } from "./router.js";
export type { Handler, RouteInfo, RouteOptions } from "./routes.js";
export type { SseDeadlineReason, StreamEndOptions } from "./sse/deadline.js";
export type { TrustProxy } from "./client-ip.js";
export type { OverflowPolicy, SseOptions, SseShutdownOptions } from "./sse/options.js";
export type { SseCloseReason, SseStreamInfo } from "./sse/report.js";
export type { SseSource } from "./sse/source.js";
export { SseEvent, formatSseComment, formatSseFrame, type SseEventOptions } from "./sse/event.js";
export { SseStream } from "./sse/stream.js";
export { ResumableStreams, type ResumableStreamsOptions, type StreamEndReason, type StreamProducer } from "./streams/resumable.js";
export type { ValidationIssue, ValidationProblem } from "./validation/problem.js";
export type { ValidationOptions } from "./validation/route.js";
export type { RouteSchema, Validated, ValidatedRequest } from "./validation/schema.js";
