/**
 * Channel: one publish, many subscribers. Events are numbered and kept by the
 * broker for replay; each event is framed once and the same bytes are queued
 * for every subscriber.
 */
import type { Logger } from "../logger.js";
import type { Request } from "../request.js";
import { Response } from "../response.js";
import type { SseOptions } from "../sse/engine.js";
import { formatSseFrame } from "../sse/event.js";
import type { ChannelBroker, ChannelHistoryOptions, ChannelMessage } from "./broker.js";
import { Subscription, type ChannelEvent, type SubscribeOptions } from "./subscription.js";

/** Options of `app.channel(name, options)`. */
export interface ChannelOptions {
  /** Events kept for replay. Default 1000. */
  history?: number;
  /** Drop events older than this from the history (ms; 0 keeps them until pushed out). Default 0. */
  ttlMs?: number;
}

/** Options of {@link Channel.publish}. */
export interface PublishOptions {
  /** The SSE event type. */
  event?: string;
}

type PresenceListener = (request: Request) => void;

/**
 * A named broadcast channel. Get one with `app.channel(name)`.
 *
 * @example
 * const stocks = app.channel("stocks", { history: 1000 });
 * app.get("/stocks", (req) => stocks.subscribe(req));
 * setInterval(() => stocks.publish({ symbol: "ACME", price: Math.random() }, { event: "tick" }), 1000);
 */
export class Channel {
  readonly name: string;
  readonly #broker: ChannelBroker;
  readonly #subscribers = new Set<Subscription>();
  #stopDelivery: (() => void) | undefined;
  readonly #joinListeners: PresenceListener[] = [];
  readonly #leaveListeners: PresenceListener[] = [];
  readonly #logger: Logger;
  /** This channel as a one-element list, shared by its subscriptions (one array less per subscriber). */
  readonly #asList: readonly Channel[] = [this];

  /** @internal Created by `app.channel()`. */
  constructor(name: string, broker: ChannelBroker, options: ChannelOptions, logger: Logger) {
    this.name = name;
    this.#broker = broker;
    this.#logger = logger;
    const history: ChannelHistoryOptions = { history: options.history ?? 1000, ttlMs: options.ttlMs ?? 0 };
    if (!Number.isInteger(history.history) || history.history < 0) throw new TypeError(`history must be a non-negative integer, got ${history.history}`);
    broker.configure(name, history);
  }

  /** The broker behind this channel. */
  get broker(): ChannelBroker {
    return this.#broker;
  }

  /** Subscribers connected to this instance. */
  get size(): number {
    return this.#subscribers.size;
  }

  /**
   * Publish an event to every subscriber (on every instance, with a broker).
   * Strings are sent as they are; anything else as JSON. Resolves with the id.
   */
  publish(data: unknown, options: PublishOptions = {}): Promise<string> {
    try {
      const text = typeof data === "string" ? data : JSON.stringify(data);
      // Validate the event name before it reaches the broker (and every subscriber).
      if (options.event !== undefined) formatSseFrame("", { event: options.event });
      return this.#broker.publish(this.name, options.event === undefined ? { data: text } : { event: options.event, data: text });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * An SSE response for this channel: first what the client missed (from
   * `Last-Event-ID`, or `?lastEventId=`), then live events, with no gap and no duplicate.
   */
  subscribe(request: Request, options: SubscribeOptions & { sse?: SseOptions } = {}): Response {
    return subscribeResponse(request, this.#asList, options, this.#logger);
  }

  /** Run `listener` when a client joins this channel on this instance (presence). */
  onJoin(listener: PresenceListener): this {
    this.#joinListeners.push(listener);
    return this;
  }

  /** Run `listener` when a client leaves. */
  onLeave(listener: PresenceListener): this {
    this.#leaveListeners.push(listener);
    return this;
  }

  /** @internal */
  addSubscriber(subscription: Subscription): void {
    this.#subscribers.add(subscription);
    if (!this.#stopDelivery) this.#stopDelivery = this.#broker.subscribe(this.name, (message) => this.#deliver(message));
    for (const listener of this.#joinListeners) listener(subscription.request);
  }

  /** @internal */
  removeSubscriber(subscription: Subscription): void {
    if (!this.#subscribers.delete(subscription)) return;
    for (const listener of this.#leaveListeners) listener(subscription.request);
  }

  #deliver(message: ChannelMessage): void {
    if (this.#subscribers.size === 0) return;
    // Framed and measured once, whatever the number of subscribers.
    const frame = formatSseFrame(message.data, message.event === undefined ? { id: message.id } : { id: message.id, event: message.event });
    const bytes = Buffer.byteLength(frame);
    // Tagged with the channel once here, not once per subscriber that filters.
    const tagged: ChannelEvent = { ...message, channel: this.name };
    for (const subscriber of this.#subscribers) subscriber.deliver(this, tagged, frame, bytes);
  }

  /** @internal Stop delivery (app shutdown). */
  stop(): void {
    this.#stopDelivery?.();
    this.#stopDelivery = undefined;
  }
}

/** @internal Build the SSE response of a subscription to one or more channels. */
export function subscribeResponse(request: Request, channels: readonly Channel[], options: SubscribeOptions & { sse?: SseOptions }, logger: Logger): Response {
  const subscription = new Subscription(request, channels, options, (err) => logger.error(`Channel replay failed for ${channels.map((c) => c.name).join(", ")}`, err));
  return Response.sse(subscription, options.sse ?? {});
}
