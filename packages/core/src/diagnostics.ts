/**
 * The instrumentation seam: what the framework publishes on node:diagnostics_channel
 * (the channels undici and node:http publish on too). The engine, the channels and
 * the brokers only publish here; they know nothing of Prometheus. The metrics plugin
 * subscribes, and so may any other tool (OpenTelemetry, a custom exporter).
 *
 * Every publisher checks `hasSubscribers` first: with no subscriber no message object
 * is built, so instrumentation costs a property read per point.
 *
 * The channel names and message shapes are public: they follow semver like the rest of
 * the API. Every message names its `app` (or its `broker`), because channels are
 * process-wide while a process may run several apps.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import type { Request } from "./request.js";
import type { SseStreamInfo } from "./sse/report.js";

/**
 * The names of the diagnostics channels Cello.ts publishes on. Subscribe with
 * `diagnostics_channel.subscribe(name, fn)` from `node:diagnostics_channel`.
 * @example
 * import diagnostics_channel from "node:diagnostics_channel";
 * import { DIAGNOSTICS_CHANNELS, type SseCloseMessage } from "@cellojs/core";
 * diagnostics_channel.subscribe(DIAGNOSTICS_CHANNELS.sseClose, (message) => {
 *   const { route, info } = message as SseCloseMessage;
 *   console.log(route, info.reason);
 * });
 */
export const DIAGNOSTICS_CHANNELS = Object.freeze({
  /** A response was written ({@link HttpResponseMessage}); for SSE, when its head went out. */
  httpResponse: "cello:http.response",
  /** An SSE stream opened ({@link SseOpenMessage}). */
  sseOpen: "cello:sse.open",
  /** An SSE stream closed, with why ({@link SseCloseMessage}). */
  sseClose: "cello:sse.close",
  /** Events and bytes went to one client's socket in one write, the opening comment and final frame included, heartbeats not ({@link SseWriteMessage}). */
  sseWrite: "cello:sse.write",
  /** A heartbeat comment went to one client ({@link SseHeartbeatMessage}). */
  sseHeartbeat: "cello:sse.heartbeat",
  /** Queued events were dropped for a slow client under `overflow: "drop-oldest"` ({@link SseDropMessage}). */
  sseDrop: "cello:sse.drop",
  /** A channel event was handed to this instance's subscribers and flushed ({@link ChannelDeliverMessage}). */
  channelDeliver: "cello:channel.deliver",
  /** `channel.publish()` was called on this instance ({@link ChannelPublishMessage}). */
  channelPublish: "cello:channel.publish",
  /** A reconnecting client was sent the events it missed ({@link ChannelReplayMessage}). */
  channelReplay: "cello:channel.replay",
  /** A reconnecting client was sent `event: reset`: its position is no longer held ({@link ChannelResetMessage}). */
  channelReset: "cello:channel.reset",
  /** A broker's connection state changed ({@link BrokerStateMessage}). */
  brokerState: "cello:broker.state",
});

/** Message of `cello:http.response`. */
export interface HttpResponseMessage {
  readonly app: object;
  readonly request: Request;
  /** The route template (`/users/{id}`), or undefined when no route matched (404, 405, an onRequest hook's answer). */
  readonly route: string | undefined;
  readonly status: number;
  /** From the request's arrival to the response handed to the socket (for SSE: its head). */
  readonly durationMs: number;
}

/** Message of `cello:sse.open`. */
export interface SseOpenMessage {
  readonly app: object;
  readonly request: Request;
  readonly route: string | undefined;
}

/** Message of `cello:sse.close`. */
export interface SseCloseMessage {
  readonly app: object;
  readonly request: Request;
  readonly route: string | undefined;
  /** What the stream sent and why it closed (`info.reason`: an {@link SseCloseReason}). */
  readonly info: SseStreamInfo;
}

/** Message of `cello:sse.write`. */
export interface SseWriteMessage {
  readonly app: object;
  readonly request: Request;
  /** Events in this write (comments not counted). */
  readonly events: number;
  /** SSE bytes in this write (without HTTP chunk framing). */
  readonly bytes: number;
}

/** Message of `cello:sse.heartbeat`. */
export interface SseHeartbeatMessage {
  readonly app: object;
  readonly request: Request;
  /** Bytes of the heartbeat comment (not counted in `cello:sse.write`). */
  readonly bytes: number;
}

/** Message of `cello:sse.drop`. */
export interface SseDropMessage {
  readonly app: object;
  readonly request: Request;
  readonly events: number;
}

/** Message of `cello:channel.publish`. */
export interface ChannelPublishMessage {
  readonly app: object;
  readonly channel: string;
}

/** Message of `cello:channel.deliver`. */
export interface ChannelDeliverMessage {
  readonly app: object;
  readonly channel: string;
  /** Subscribers on this instance the event was handed to. */
  readonly subscribers: number;
  /**
   * Milliseconds from `channel.publish()` on this instance to the end of the flush pass
   * that wrote the event to its subscribers' sockets. Undefined for an event published
   * by another instance (its publish time is not known here).
   */
  readonly publishToFlushMs: number | undefined;
}

/** Message of `cello:channel.replay`. */
export interface ChannelReplayMessage {
  readonly app: object;
  readonly request: Request;
  readonly channel: string;
  /** Events replayed. */
  readonly events: number;
}

/** Message of `cello:channel.reset`. */
export interface ChannelResetMessage {
  readonly app: object;
  readonly request: Request;
  readonly channel: string;
}

/** Message of `cello:broker.state`. */
export interface BrokerStateMessage {
  /** The broker (compare with `app.broker`). */
  readonly broker: object;
  readonly connected: boolean;
  /** True when this state follows a lost connection coming back. */
  readonly reconnected: boolean;
}

/** The channel objects, made once: publishers read `hasSubscribers` on them. Not exported from the package. */
export const channels = {
  httpResponse: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.httpResponse),
  sseOpen: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.sseOpen),
  sseClose: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.sseClose),
  sseWrite: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.sseWrite),
  sseHeartbeat: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.sseHeartbeat),
  sseDrop: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.sseDrop),
  channelDeliver: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.channelDeliver),
  channelPublish: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.channelPublish),
  channelReplay: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.channelReplay),
  channelReset: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.channelReset),
  brokerState: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.brokerState),
};
