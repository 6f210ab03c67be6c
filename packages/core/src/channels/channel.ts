/**
 * Channel: one publish, many subscribers. Events are numbered and kept by the
 * broker for replay; each event is framed once and the same bytes are queued
 * for every subscriber.
 */
import { CelloError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Request } from "../request.js";
import { Response } from "../response.js";
import type { SseOptions } from "../sse/options.js";
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

/** What a channel tells the registry that made it (the app's). Not exported from the package's index. */
export interface ChannelOwner {
  /** `channel` has no subscriber left and none on its way. */
  idle(channel: Channel): void;
  /** `channel.delete()` was called. */
  deleted(channel: Channel): void;
}

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
  /** Subscriptions whose Response exists but is not streaming yet: they keep the channel in use. */
  readonly #opening = new Set<Subscription>();
  #stopDelivery: (() => void) | undefined;
  readonly #joinListeners: PresenceListener[] = [];
  readonly #leaveListeners: PresenceListener[] = [];
  readonly #logger: Logger;
  readonly #owner: ChannelOwner | undefined;
  #deleted = false;
  /** This channel as a one-element list, shared by its subscriptions (one array less per subscriber). */
  readonly #asList: readonly Channel[] = [this];

  /**
   * Created by `app.channel()` and `app.subscribe()`, never by user code. (Not
   * tagged internal: a stripped constructor would leave TypeScript's implicit `new Channel()`.)
   */
  constructor(name: string, broker: ChannelBroker, options: ChannelOptions, logger: Logger, owner?: ChannelOwner) {
    this.name = name;
    this.#broker = broker;
    this.#logger = logger;
    this.#owner = owner;
    this.configure(options);
  }

  /** @internal Set the history bounds (at creation, and when app code declares a channel a request made). */
  configure(options: ChannelOptions): void {
    const history: ChannelHistoryOptions = { history: options.history ?? 1000, ttlMs: options.ttlMs ?? 0 };
    if (!Number.isInteger(history.history) || history.history < 0) throw new CelloError("CELLO_INVALID_OPTION", `history must be a non-negative integer, got ${history.history}`);
    if (!Number.isFinite(history.ttlMs) || history.ttlMs < 0) throw new CelloError("CELLO_INVALID_OPTION", `ttlMs must be a non-negative number, got ${history.ttlMs}`);
    this.#broker.configure(this.name, history);
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
   *
   * What cannot be sent throws at once, before anything is published: an `event`
   * name with CR or LF, or data that has no JSON form (`undefined`, a function, a
   * BigInt, a cycle), as a CelloError `CELLO_INVALID_SSE_FIELD`; a deleted channel
   * as `CELLO_CHANNEL_DELETED`. So `void channel.publish(...)` never leaves an
   * unhandled rejection for a mistake in the call. A broker that fails (Redis
   * unreachable) rejects the promise.
   *
   * @param data - A string, sent as is, or a value sent as its JSON text.
   * @param options - `event`: the SSE event type. Default: none (`message` in the browser).
   * @example
   * const id = await stocks.publish({ symbol: "ACME", price: 12.5 }, { event: "tick" });
   */
  publish(data: unknown, options: PublishOptions = {}): Promise<string> {
    this.#assertNotDeleted();
    const text = dataText(data);
    // Validate the event name before it reaches the broker (and every subscriber).
    if (options.event !== undefined) formatSseFrame("", { event: options.event });
    try {
      return this.#broker.publish(this.name, options.event === undefined ? { data: text } : { event: options.event, data: text });
    } catch (err) {
      // A broker whose publish throws instead of rejecting: still a rejection for the caller.
      return Promise.reject(err);
    }
  }

  /**
   * An SSE response for this channel: first what the client missed (from
   * `Last-Event-ID`, or `?lastEventId=`), then live events, with no gap and no duplicate.
   */
  subscribe(request: Request, options: SubscribeOptions & { sse?: SseOptions } = {}): Response {
    this.#assertNotDeleted();
    return subscribeResponse(request, this.#asList, options, this.#logger);
  }

  /**
   * Delete this channel: end its subscribers' streams on this instance, remove
   * it from the app (`app.channel(name)` then makes a new one, and patterns no
   * longer match it) and delete its history from the broker (with Redis, the
   * stream, for every instance). Its `onJoin`/`onLeave` callbacks do not run for
   * the streams it ends. Afterwards this object refuses `publish` and `subscribe`
   * (CelloError `CELLO_CHANNEL_DELETED`). Calling it again does nothing.
   *
   * @returns Resolves once the broker has deleted the history; rejects if the broker fails.
   * @example
   * app.post("/rooms/{room}/close", async (req) => {
   *   await app.channel(`room:${req.params.room}`).delete();
   *   return { closed: req.params.room };
   * });
   */
  async delete(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    this.stop();
    // Inert from here: the subscribers it ends below leave without presence callbacks
    // (an onLeave that publishes to this channel would only meet CELLO_CHANNEL_DELETED).
    this.#joinListeners.length = 0;
    this.#leaveListeners.length = 0;
    this.#owner?.deleted(this);
    for (const subscription of [...this.#subscribers]) subscription.end();
    await this.#broker.delete?.(this.name);
  }

  #assertNotDeleted(): void {
    if (this.#deleted) throw new CelloError("CELLO_CHANNEL_DELETED", `channel ${JSON.stringify(this.name)} was deleted; app.channel(name) makes a new one`);
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

  /** @internal A subscription to this channel was made; it streams later (or never: a HEAD, a client gone). */
  reserve(subscription: Subscription): void {
    this.#opening.add(subscription);
  }

  /** @internal True while a subscriber is connected or on its way. */
  get inUse(): boolean {
    return this.#subscribers.size > 0 || this.#opening.size > 0;
  }

  /** @internal */
  addSubscriber(subscription: Subscription): void {
    this.#opening.delete(subscription);
    if (this.#deleted) {
      // Deleted while this response was on its way: end it once it is attached everywhere.
      queueMicrotask(() => subscription.end());
      return;
    }
    this.#subscribers.add(subscription);
    if (!this.#stopDelivery) this.#stopDelivery = this.#broker.subscribe(this.name, (message) => this.#deliver(message));
    for (const listener of this.#joinListeners) listener(subscription.request);
  }

  /** @internal */
  removeSubscriber(subscription: Subscription): void {
    if (this.#subscribers.delete(subscription)) {
      try {
        for (const listener of this.#leaveListeners) listener(subscription.request);
      } finally {
        if (!this.inUse) this.#owner?.idle(this);
      }
      return;
    }
    // Never streamed (HEAD, a client gone before the headers): it no longer holds the channel.
    if (this.#opening.delete(subscription) && !this.inUse) this.#owner?.idle(this);
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
  const response = Response.sse(subscription, options.sse ?? {});
  for (const channel of channels) channel.reserve(subscription);
  return response;
}

/** What `publish` sends as `data:`: a string as is, anything else as JSON. */
function dataText(data: unknown): string {
  if (typeof data === "string") return data;
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new CelloError("CELLO_INVALID_SSE_FIELD", `data has no JSON form (${(err as Error).message})`, { cause: err });
  }
  if (text === undefined) throw new CelloError("CELLO_INVALID_SSE_FIELD", `data must be a string or have a JSON form, got ${typeof data}`);
  return text;
}
