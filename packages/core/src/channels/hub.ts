/**
 * ChannelHub: one channel's fan-out on this instance, and the one owner of its
 * membership. It holds the members (subscriptions that stream) and the
 * reservations (responses made, not streaming yet), listens to the broker while
 * anyone is a member, frames each event once and hands the same bytes to every
 * member, and runs the presence callbacks.
 *
 * Nothing else touches membership: a subscription reaches its channels only
 * through the {@link ChannelPort} each hub is (join, leave, history); the
 * registry that made the hub holds it; users get its {@link Channel} facade,
 * which has no membership or lifecycle methods at all.
 */
import { channels as diagnostics } from "../diagnostics.js";
import { CelloError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Request } from "../request.js";
import type { Response } from "../response.js";
import type { SseOptions } from "../sse/options.js";
import type { ChannelAuthorizer } from "./access.js";
import { CHANNEL_HISTORY_DEFAULTS, type ChannelBroker, type ChannelHistoryOptions, type ChannelMessage, type PublishedMessage, type ReplayResult } from "./broker.js";
import { Channel, type ChannelOptions } from "./channel.js";
import { messageFrame, type ChannelEvent, type ChannelPort, type SubscribeOptions } from "./subscription.js";

type PresenceListener = (request: Request) => void;

/** What a hub sees of a subscription. */
export interface ChannelMember {
  /** The request that opened it: what presence callbacks receive. */
  readonly request: Request;
  /** A live event of the channel behind `port`, framed once for every member (`bytes` is the frame's UTF-8 length). */
  deliver(port: ChannelPort, message: ChannelEvent, frame: string, bytes: number): void;
  /** End the member's stream: its channel was deleted. The client reconnects as after any end. */
  end(): void;
}

/** What a hub tells the registry that made it (the app's). */
export interface ChannelOwner {
  /** `hub` has no member left and no reservation. */
  idle(hub: ChannelHub): void;
  /** `channel.delete()` was called. */
  deleted(hub: ChannelHub): void;
  /** `channel.subscribe(request)`: checked against the app's rules like any subscription. */
  subscribeTo(hub: ChannelHub, request: Request, options: SubscribeOptions & { sse?: SseOptions }): Promise<Response>;
}

export class ChannelHub implements ChannelPort {
  readonly name: string;
  /** What app code holds: `app.channel(name)` returns it. */
  readonly channel: Channel;
  /** This hub as a one-element list of ports, shared by its single-channel subscriptions (one array less per subscriber). */
  readonly asList: readonly ChannelHub[] = [this];
  /** Where a subscription's failed catch-up is logged. */
  readonly logger: Logger;
  readonly #broker: ChannelBroker;
  readonly #owner: ChannelOwner;
  /** Members that stream: each live event goes to each of them. */
  readonly #members = new Set<ChannelMember>();
  /** Reservations: members whose response exists but does not stream yet. They keep the channel in use. */
  readonly #opening = new Set<ChannelMember>();
  #stopDelivery: (() => void) | undefined;
  readonly #joinListeners: PresenceListener[] = [];
  readonly #leaveListeners: PresenceListener[] = [];
  #deleted = false;
  /** The channel's own rule (`ChannelOptions.authorize`), if any. */
  #authorize: ChannelAuthorizer | undefined;
  /** The channel's audience tags of a request (`ChannelOptions.audience`), if any. */
  #audience: ((request: Request) => readonly string[]) | undefined;
  /** The app, named in diagnostics messages. */
  readonly scope: object;
  /** While `broker.publish()` runs with someone listening: when it was called (a broker may deliver before it returns). */
  #publishingSince: number | undefined;
  /** Publish times of this instance's events not delivered yet, by id (only while someone listens; bounded). */
  #publishedAt: Map<string, number> | undefined;

  constructor(name: string, broker: ChannelBroker, options: ChannelOptions, logger: Logger, owner: ChannelOwner, scope: object = {}) {
    this.name = name;
    this.scope = scope;
    this.#broker = broker;
    this.logger = logger;
    this.#owner = owner;
    this.configure(options);
    this.channel = new Channel(this);
  }

  /** Set the history bounds (at creation, and when app code declares a channel a request made). */
  configure(options: ChannelOptions): void {
    const history: ChannelHistoryOptions = { history: options.history ?? CHANNEL_HISTORY_DEFAULTS.history, ttlMs: options.ttlMs ?? CHANNEL_HISTORY_DEFAULTS.ttlMs };
    if (!Number.isInteger(history.history) || history.history < 0) throw new CelloError("CELLO_INVALID_OPTION", `history must be a non-negative integer, got ${history.history}`);
    if (!Number.isFinite(history.ttlMs) || history.ttlMs < 0) throw new CelloError("CELLO_INVALID_OPTION", `ttlMs must be a non-negative number, got ${history.ttlMs}`);
    if (options.authorize !== undefined && typeof options.authorize !== "function") throw new CelloError("CELLO_INVALID_OPTION", "authorize must be a function (request, channel) => boolean");
    if (options.audience !== undefined && typeof options.audience !== "function") throw new CelloError("CELLO_INVALID_OPTION", "audience must be a function (request) => string[]");
    this.#broker.configure(this.name, history);
    this.#authorize = options.authorize;
    this.#audience = options.audience;
  }

  /** A later `app.channel(name, { authorize })`: the rule, if the channel has none yet (the first rule stays). */
  requireAuthorize(authorize: ChannelAuthorizer): void {
    if (typeof authorize !== "function") throw new CelloError("CELLO_INVALID_OPTION", "authorize must be a function (request, channel) => boolean");
    this.#authorize ??= authorize;
  }

  /** The channel's own rule, which the registry asks with the app's. */
  get authorize(): ChannelAuthorizer | undefined {
    return this.#authorize;
  }

  /** `channel.subscribe(request, options)`. */
  subscribe(request: Request, options: SubscribeOptions & { sse?: SseOptions }): Promise<Response> {
    return this.#owner.subscribeTo(this, request, options);
  }

  /** The channel's own audience tags of `request` (`ChannelOptions.audience`), or undefined without the option. */
  audience(request: Request): readonly string[] | undefined {
    return this.#audience?.(request);
  }

  /** Members streaming on this instance. */
  get size(): number {
    return this.#members.size;
  }

  /** True once `channel.delete()` was called. */
  get deleted(): boolean {
    return this.#deleted;
  }

  /** True while a member streams or a reservation waits. */
  get inUse(): boolean {
    return this.#members.size > 0 || this.#opening.size > 0;
  }

  /** Hand a checked message to the broker; it comes back through `subscribe` to every instance. */
  publish(message: PublishedMessage): Promise<string> {
    if (diagnostics.channelPublish.hasSubscribers) diagnostics.channelPublish.publish({ app: this.scope, channel: this.name });
    // Timed only when this instance has subscribers: only then does the event come back here.
    if (!diagnostics.channelDeliver.hasSubscribers || this.#members.size === 0) return this.#broker.publish(this.name, message);
    return this.#timedPublish(message);
  }

  /** Publish, remembering when, so the delivery of this event reports its publish-to-flush latency. */
  #timedPublish(message: PublishedMessage): Promise<string> {
    const since = performance.now();
    this.#publishingSince = since;
    let published: Promise<string>;
    try {
      published = this.#broker.publish(this.name, message);
    } finally {
      this.#publishingSince = undefined;
    }
    return published.then((id) => {
      // Delivered already (synchronously, or before the broker answered): nothing to remember.
      if (this.#delivered === id) return id;
      const pending = (this.#publishedAt ??= new Map());
      // Events that never come back (no subscriber here, a lost connection) must not pile up.
      if (pending.size >= MAX_TIMED_PUBLISHES) pending.clear();
      pending.set(id, since);
      return id;
    });
  }

  /** The id of the last event delivered (only tracked while someone listens). */
  #delivered: string | undefined;

  onJoin(listener: PresenceListener): void {
    this.#joinListeners.push(listener);
  }

  onLeave(listener: PresenceListener): void {
    this.#leaveListeners.push(listener);
  }

  /** A response for `member` was made: the channel is in use until it joins and leaves, or leaves without joining (a HEAD, a client gone). */
  reserve(member: ChannelMember): void {
    this.#opening.add(member);
  }

  replay(afterId: string, limit: number): Promise<ReplayResult> {
    return this.#broker.replay(this.name, afterId, { limit });
  }

  lastId(): Promise<string | undefined> {
    return this.#broker.lastId(this.name);
  }

  compareIds(a: string, b: string): number {
    return this.#broker.compareIds(a, b);
  }

  join(member: ChannelMember): void {
    this.#opening.delete(member);
    if (this.#deleted) {
      // Deleted while this response was on its way: end it once it is attached everywhere.
      queueMicrotask(() => member.end());
      return;
    }
    this.#members.add(member);
    if (!this.#stopDelivery) this.#stopDelivery = this.#broker.subscribe(this.name, (message) => this.#deliver(message));
    for (const listener of this.#joinListeners) listener(member.request);
  }

  leave(member: ChannelMember): void {
    if (this.#members.delete(member)) {
      try {
        for (const listener of this.#leaveListeners) listener(member.request);
      } finally {
        if (!this.inUse) this.#owner.idle(this);
      }
      return;
    }
    // Never streamed (HEAD, a client gone before the headers): it no longer holds the channel.
    if (this.#opening.delete(member) && !this.inUse) this.#owner.idle(this);
  }

  /** Stop listening to the broker (the registry drops an idle channel; app shutdown). */
  stop(): void {
    this.#stopDelivery?.();
    this.#stopDelivery = undefined;
  }

  /** `channel.delete()`: see there. */
  async delete(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    this.stop();
    // Inert from here: the members it ends below leave without presence callbacks
    // (an onLeave that publishes to this channel would only meet CELLO_CHANNEL_DELETED).
    this.#joinListeners.length = 0;
    this.#leaveListeners.length = 0;
    this.#owner.deleted(this);
    for (const member of [...this.#members]) member.end();
    await this.#broker.delete?.(this.name);
  }

  #deliver(message: ChannelMessage): void {
    if (this.#members.size === 0) {
      if (diagnostics.channelDeliver.hasSubscribers) this.#timeDelivery(message.id);
      return;
    }
    // Framed and measured once, whatever the number of members.
    const frame = messageFrame(message);
    const bytes = Buffer.byteLength(frame);
    // Tagged with the channel once here, not once per member that filters.
    const tagged: ChannelEvent = { ...message, channel: this.name };
    for (const member of this.#members) member.deliver(this, tagged, frame, bytes);
    // After the members queued it: the engine's flush immediate runs before this one.
    if (diagnostics.channelDeliver.hasSubscribers) this.#timeDelivery(message.id);
  }

  /** Report this delivery once the flush pass that writes it has run (the engine's immediate was queued first). */
  #timeDelivery(id: string): void {
    this.#delivered = id;
    let since = this.#publishingSince;
    if (since === undefined && this.#publishedAt !== undefined) {
      since = this.#publishedAt.get(id);
      if (since !== undefined) this.#publishedAt.delete(id);
    }
    const subscribers = this.#members.size;
    setImmediate(() => {
      diagnostics.channelDeliver.publish({ app: this.scope, channel: this.name, subscribers, publishToFlushMs: since === undefined ? undefined : performance.now() - since });
    });
  }
}

/** Most publish times a hub keeps for events it has not seen come back. */
const MAX_TIMED_PUBLISHES = 10_000;
