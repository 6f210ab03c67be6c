/**
 * ChannelRegistry: the app's channels by name, and how long each lives.
 *
 * A channel app code asked for (`app.channel(name)`) is kept until
 * `channel.delete()`: the code may hold it, and patterns must keep matching it.
 * A channel `app.subscribe(request, name)` made for a name no code declared (a
 * name from a request, most of the time) is dropped when its last subscriber
 * leaves, with the broker's state for it, so request-made names cannot pile up.
 * Its events, if anyone published some, stay in the broker for replay. Both
 * kinds count toward `maxChannels`.
 */
import type { Request } from "../request.js";
import type { Response } from "../response.js";
import type { SseOptions } from "../sse/options.js";
import { CelloError, HttpError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ChannelBroker } from "./broker.js";
import { Channel, subscribeResponse, type ChannelOptions, type ChannelOwner } from "./channel.js";
import type { SubscribeOptions } from "./subscription.js";

/** The default of `AppOptions.maxChannels`. */
const DEFAULT_MAX_CHANNELS = 10_000;

/** One per app (not exported from the package). */
export class ChannelRegistry implements ChannelOwner {
  readonly #channels = new Map<string, Channel>();
  /** Channels `subscribe` made for a name no code declared: dropped once idle. Always registered ones. */
  readonly #onDemand = new Set<Channel>();
  readonly #broker: ChannelBroker;
  readonly #logger: Logger;
  readonly #maxChannels: number;

  constructor(broker: ChannelBroker, logger: Logger, maxChannels = DEFAULT_MAX_CHANNELS) {
    if (maxChannels !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxChannels) || maxChannels < 1)) {
      throw new CelloError("CELLO_INVALID_OPTION", `maxChannels must be a positive integer or Infinity, got ${maxChannels}`);
    }
    this.#broker = broker;
    this.#logger = logger;
    this.#maxChannels = maxChannels;
  }

  /** `app.channel(name, options)`: the channel called `name`, made if needed, kept until deleted. */
  declare(name: string, options: ChannelOptions | undefined): Channel {
    const existing = this.#channels.get(name);
    if (existing) {
      if (this.#onDemand.has(existing)) {
        // A request made it with the defaults; the code that declares it now chooses.
        if (options) existing.configure(options);
        this.#onDemand.delete(existing);
      }
      return existing;
    }
    this.#assertRoom(1);
    return this.#add(name, options ?? {});
  }

  /**
   * `app.subscribe(request, names, options)`: one response for the channels named
   * (made on demand when missing) and those matching `prefix*` patterns.
   */
  subscribe(request: Request, names: readonly string[], options: SubscribeOptions & { sse?: SseOptions }): Response {
    const missing = new Set<string>();
    for (const name of names) if (!name.endsWith("*") && !this.#channels.has(name)) missing.add(name);
    // Checked for all of them before making any, so a refused request leaves nothing behind.
    this.#assertRoom(missing.size);
    const selected: Channel[] = [];
    for (const name of names) {
      if (name.endsWith("*")) {
        const prefix = name.slice(0, -1);
        for (const channel of this.#channels.values()) if (channel.name.startsWith(prefix) && !selected.includes(channel)) selected.push(channel);
        continue;
      }
      let channel = this.#channels.get(name);
      if (!channel) {
        channel = this.#add(name, {});
        this.#onDemand.add(channel);
      }
      if (!selected.includes(channel)) selected.push(channel);
    }
    if (selected.length === 0) throw HttpError.fromCode("CELLO_NOT_FOUND", `no channel matches ${names.join(", ")}`);
    try {
      return subscribeResponse(request, selected, options, this.#logger);
    } catch (err) {
      for (const channel of selected) if (!channel.inUse) this.idle(channel);
      throw err;
    }
  }

  /** From a channel: nobody is subscribed or about to be. */
  idle(channel: Channel): void {
    if (!this.#onDemand.delete(channel)) return; // declared (kept), or already gone
    this.#channels.delete(channel.name);
    channel.stop();
  }

  /** From `channel.delete()`. */
  deleted(channel: Channel): void {
    this.#onDemand.delete(channel);
    if (this.#channels.get(channel.name) === channel) this.#channels.delete(channel.name);
  }

  /** Stop every channel's delivery (app shutdown). */
  stopAll(): void {
    for (const channel of this.#channels.values()) channel.stop();
  }

  #add(name: string, options: ChannelOptions): Channel {
    const channel = new Channel(name, this.#broker, options, this.#logger, this);
    this.#channels.set(name, channel);
    return channel;
  }

  #assertRoom(adding: number): void {
    if (adding === 0 || this.#channels.size + adding <= this.#maxChannels) return;
    throw new CelloError(
      "CELLO_TOO_MANY_CHANNELS",
      `the app holds ${this.#channels.size} channels and maxChannels is ${this.#maxChannels}; delete unused ones with channel.delete() or raise maxChannels`,
    );
  }
}
