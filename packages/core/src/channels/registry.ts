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
import type { Channel, ChannelOptions } from "./channel.js";
import { ChannelHub, type ChannelOwner } from "./hub.js";
import { subscribeResponse, type SubscribeOptions } from "./subscription.js";

/** The default of `AppOptions.maxChannels`. */
const DEFAULT_MAX_CHANNELS = 10_000;

/** One per app (not exported from the package). It holds each channel's hub; app code gets the hub's Channel. */
export class ChannelRegistry implements ChannelOwner {
  readonly #channels = new Map<string, ChannelHub>();
  /** Channels `subscribe` made for a name no code declared: dropped once idle. Always registered ones. */
  readonly #onDemand = new Set<ChannelHub>();
  readonly #broker: ChannelBroker;
  readonly #logger: Logger;
  readonly #maxChannels: number;
  readonly #scope: object;

  /** `scope`: the app, named in diagnostics messages. */
  constructor(broker: ChannelBroker, logger: Logger, maxChannels = DEFAULT_MAX_CHANNELS, scope: object = {}) {
    if (maxChannels !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxChannels) || maxChannels < 1)) {
      throw new CelloError("CELLO_INVALID_OPTION", `maxChannels must be a positive integer or Infinity, got ${maxChannels}`);
    }
    this.#broker = broker;
    this.#logger = logger;
    this.#maxChannels = maxChannels;
    this.#scope = scope;
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
      return existing.channel;
    }
    this.#assertRoom(1);
    return this.#add(name, options ?? {}).channel;
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
    const selected: ChannelHub[] = [];
    for (const name of names) {
      if (name.endsWith("*")) {
        const prefix = name.slice(0, -1);
        for (const hub of this.#channels.values()) if (hub.name.startsWith(prefix) && !selected.includes(hub)) selected.push(hub);
        continue;
      }
      let hub = this.#channels.get(name);
      if (!hub) {
        hub = this.#add(name, {});
        this.#onDemand.add(hub);
      }
      if (!selected.includes(hub)) selected.push(hub);
    }
    if (selected.length === 0) throw HttpError.fromCode("CELLO_NOT_FOUND", `no channel matches ${names.join(", ")}`);
    try {
      return subscribeResponse(request, selected, options, this.#logger);
    } catch (err) {
      for (const hub of selected) if (!hub.inUse) this.idle(hub);
      throw err;
    }
  }

  /** From a hub: nobody is subscribed or about to be. */
  idle(hub: ChannelHub): void {
    if (!this.#onDemand.delete(hub)) return; // declared (kept), or already gone
    this.#channels.delete(hub.name);
    hub.stop();
  }

  /** From `channel.delete()`. */
  deleted(hub: ChannelHub): void {
    this.#onDemand.delete(hub);
    if (this.#channels.get(hub.name) === hub) this.#channels.delete(hub.name);
  }

  /** Stop every channel's delivery (app shutdown). */
  stopAll(): void {
    for (const hub of this.#channels.values()) hub.stop();
  }

  #add(name: string, options: ChannelOptions): ChannelHub {
    const hub = new ChannelHub(name, this.#broker, options, this.#logger, this, this.#scope);
    this.#channels.set(name, hub);
    return hub;
  }

  #assertRoom(adding: number): void {
    if (adding === 0 || this.#channels.size + adding <= this.#maxChannels) return;
    throw new CelloError(
      "CELLO_TOO_MANY_CHANNELS",
      `the app holds ${this.#channels.size} channels and maxChannels is ${this.#maxChannels}; delete unused ones with channel.delete() or raise maxChannels`,
    );
  }
}
