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
import { assertChannelName, forbidden, isChannelName, isChannelPattern, patternPrefix, type ChannelAccess, type ChannelPattern } from "./access.js";

/** One entry of `app.subscribe(request, channels)`: a channel's name (always literal) or a `{ pattern }`. */
export type ChannelSelector = string | ChannelPattern;

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
  readonly #access: ChannelAccess;
  #warnedStar = false;
  readonly #scope: object;

  /** `scope`: the app, named in diagnostics messages. */
  constructor(broker: ChannelBroker, logger: Logger, access: ChannelAccess, maxChannels = DEFAULT_MAX_CHANNELS, scope: object = {}) {
    if (maxChannels !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxChannels) || maxChannels < 1)) {
      throw new CelloError("CELLO_INVALID_OPTION", `maxChannels must be a positive integer or Infinity, got ${maxChannels}`);
    }
    this.#broker = broker;
    this.#logger = logger;
    this.#maxChannels = maxChannels;
    this.#access = access;
    this.#scope = scope;
  }

  /** `app.channel(name, options)`: the channel called `name`, made if needed, kept until deleted. */
  declare(name: string, options: ChannelOptions | undefined): Channel {
    assertChannelName(name);
    const existing = this.#channels.get(name);
    if (existing) {
      if (this.#onDemand.has(existing)) {
        // A request made it with the defaults; the code that declares it now chooses.
        if (options) existing.configure(options);
        this.#onDemand.delete(existing);
      } else if (options?.authorize !== undefined) {
        // The other options of the first call stay; a rule is never dropped silently: a channel that has none takes it.
        existing.requireAuthorize(options.authorize);
      }
      return existing.channel;
    }
    this.#assertRoom(1);
    return this.#add(name, options ?? {}).channel;
  }

  /**
   * `app.subscribe(request, channels, options)`: one response for the channels
   * named (made on demand when missing) and those `{ pattern }`s match. Names are
   * checked first (400), then every rule that covers each channel (403), and only
   * then is anything made or subscribed: a refused request leaves nothing behind.
   * A pattern selects only the channels the request may see; if it matched some
   * but the request may see none of them, that is a 403 too.
   */
  async subscribe(request: Request, selectors: readonly ChannelSelector[], options: SubscribeOptions & { sse?: SseOptions }): Promise<Response> {
    // Sets, not lists: a request may carry many names, and nothing here may cost more than linear time.
    const unique = new Set<string>();
    const prefixes: string[] = [];
    const patterns: string[] = [];
    for (const selector of selectors) {
      if (typeof selector === "string") {
        // From a request, most of the time: a 400 the client may see, not logged, the name not echoed.
        if (!isChannelName(selector)) throw HttpError.fromCode("CELLO_INVALID_CHANNEL_NAME");
        if (selector.endsWith("*")) this.#warnLiteralStar(selector);
        unique.add(selector);
      } else if (isChannelPattern(selector)) {
        prefixes.push(patternPrefix(selector));
        patterns.push(selector.pattern);
      } else throw new CelloError("CELLO_INVALID_OPTION", `app.subscribe() takes channel names (strings) and { pattern: "prefix*" } objects, got ${selector === null ? "null" : typeof selector}`);
    }
    const names = [...unique];
    // A channel's own rule is asked when the channel exists; if app code declared one with a rule while
    // the others were awaited, ask again (a rule is never skipped because it appeared late).
    let own = names.map((name) => this.#channels.get(name)?.authorize);
    for (;;) {
      for (const [i, name] of names.entries()) if (!(await this.#access.allows(request, name, own[i]))) throw forbidden();
      const now = names.map((name) => this.#channels.get(name)?.authorize);
      if (now.every((rule, i) => rule === own[i])) break;
      own = now;
    }
    let refused = false;
    const matched: ChannelHub[] = [];
    if (prefixes.length > 0) {
      for (const hub of [...this.#channels.values()]) {
        if (unique.has(hub.name) || !prefixes.some((prefix) => hub.name.startsWith(prefix))) continue;
        if (await this.#access.allows(request, hub.name, hub.authorize)) matched.push(hub);
        else refused = true;
      }
    }
    // The rules may have awaited: from here on, nothing awaits until the response holds its channels.
    // A channel deleted meanwhile is left out: a pattern selects the channels held now.
    const patterned = matched.filter((hub) => this.#channels.get(hub.name) === hub && !unique.has(hub.name));
    if (names.length === 0 && patterned.length === 0) {
      if (refused) throw forbidden();
      throw HttpError.fromCode("CELLO_NOT_FOUND", `no channel matches ${patterns.join(", ")}`);
    }
    return this.#respond(request, names, patterned, options);
  }

  /** `channel.subscribe(request, options)`: the same rules as `app.subscribe()`. */
  async subscribeTo(hub: ChannelHub, request: Request, options: SubscribeOptions & { sse?: SseOptions }): Promise<Response> {
    if (!(await this.#access.allows(request, hub.name, hub.authorize))) throw forbidden();
    // Deleted while the rules ran: as if deleted before the call.
    if (hub.deleted) throw new CelloError("CELLO_CHANNEL_DELETED", `channel ${JSON.stringify(hub.name)} was deleted; app.channel(name) makes a new one`);
    return subscribeResponse(request, hub.asList, options, this.#logger);
  }

  /** The response for the (allowed) `names`, made on demand when missing, and the (allowed) hubs patterns selected. Synchronous: nothing runs between the room check and the reservations. */
  #respond(request: Request, names: readonly string[], patterned: readonly ChannelHub[], options: SubscribeOptions & { sse?: SseOptions }): Response {
    let missing = 0;
    for (const name of names) if (!this.#channels.has(name)) missing++;
    // Checked for all of them before making any, so a refused request leaves nothing behind.
    this.#assertRoom(missing);
    const selected: ChannelHub[] = [];
    for (const name of names) {
      let hub = this.#channels.get(name);
      if (!hub) {
        hub = this.#add(name, {});
        this.#onDemand.add(hub);
      }
      selected.push(hub);
    }
    // Distinct from the named ones (the caller saw to it), each once.
    for (const hub of patterned) selected.push(hub);
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

  /**
   * Development hint, once per app: a name ending in `*` is a name, not a pattern
   * (it was a pattern before `{ pattern }`). Once, so a client sending such names cannot flood the log.
   */
  #warnLiteralStar(name: string): void {
    if (this.#warnedStar || process.env.NODE_ENV === "production" || this.#channels.has(name)) return;
    this.#warnedStar = true;
    this.#logger.warn(
      `app.subscribe() got the channel name ${JSON.stringify(name.slice(0, 80))}: a string is always one channel's name, "*" included; to select channels by prefix, pass { pattern: "prefix*" } (this hint is shown once)`,
    );
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
