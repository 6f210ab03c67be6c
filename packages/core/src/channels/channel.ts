/**
 * Channel: one publish, many subscribers. Events are numbered and kept by the
 * broker for replay; each event is framed once and the same bytes are queued
 * for every subscriber.
 *
 * This is the object app code holds: publishing, subscribing a request,
 * presence callbacks and deletion. Who is subscribed, and the fan-out, belong
 * to the channel's hub (hub.ts), which the app's registry owns.
 */
import { CelloError } from "../errors.js";
import { Html } from "../html/html.js";
import type { Request } from "../request.js";
import type { Response } from "../response.js";
import type { SseOptions } from "../sse/options.js";
import { formatSseFrame } from "../sse/event.js";
import type { ChannelAuthorizer } from "./access.js";
import type { PublishedMessage } from "./broker.js";
import type { ChannelHub } from "./hub.js";
import type { SubscribeOptions } from "./subscription.js";

/** Options of `app.channel(name, options)`. */
export interface ChannelOptions {
  /** Events kept for replay. Default 1000. */
  history?: number;
  /** Drop events older than this from the history (ms; 0 keeps them until pushed out). Default 0. */
  ttlMs?: number;
  /**
   * Who may subscribe: called with each subscribing request (and this channel's
   * name) before any SSE byte; anything but `true` answers 403 `CELLO_FORBIDDEN`.
   * It adds to the app's rules (`app.authorizeChannels`): all of those that cover
   * the channel must allow. See `AppOptions.channelAccess` for channels no rule covers.
   * Unlike the other options, a rule given to a later `app.channel(name, ...)` call
   * is not ignored when the channel has none yet: it takes it (the first rule stays).
   * @example
   * app.channel("admin", { authorize: (req) => req.getHeader("x-role") === "admin" });
   */
  authorize?: ChannelAuthorizer;
  /**
   * The audience tags of a subscribing request on this channel: it sees the events
   * published with a `to` that names one of them (and every event without `to`).
   * Called once per subscription; what it returns is added to the subscription's
   * own `audience` option. Default: no tags (only events without `to`).
   * @example
   * app.channel("orders", { audience: (req) => [`user:${req.getHeader("x-user")}`] });
   */
  audience?: (request: Request) => readonly string[];
}

/** Options of {@link Channel.publish}. */
export interface PublishOptions {
  /** The SSE event type. */
  event?: string;
  /**
   * Who may see this event: audience tags (`["user:1", "role:admin"]`). Only
   * subscribers with one of these tags (`audience`) get it, live or on replay;
   * the others skip it (their position still moves past it). An empty list
   * shows it to nobody. Default: everyone. Each tag is a string; anything else
   * throws a CelloError `CELLO_INVALID_OPTION` before anything is published.
   */
  to?: readonly string[];
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
  readonly #hub: ChannelHub;

  /**
   * Made with its hub by the app's registry (`app.channel()`, `app.subscribe()`), never
   * by user code. (Not tagged internal: a stripped constructor would leave TypeScript's
   * implicit `new Channel()`.)
   */
  constructor(hub: ChannelHub) {
    this.name = hub.name;
    this.#hub = hub;
  }

  /** Subscribers connected to this instance. */
  get size(): number {
    return this.#hub.size;
  }

  /**
   * Publish an event to every subscriber (on every instance, with a broker).
   * Strings are sent as they are, an {@link Html} fragment as its markup; anything else as JSON. Resolves with the id.
   *
   * What cannot be sent throws at once, before anything is published: an `event`
   * name with CR or LF, or data that has no JSON form (`undefined`, a function, a
   * BigInt, a cycle), as a CelloError `CELLO_INVALID_SSE_FIELD`; a deleted channel
   * as `CELLO_CHANNEL_DELETED`. So `void channel.publish(...)` never leaves an
   * unhandled rejection for a mistake in the call. A broker that fails (Redis
   * unreachable) rejects the promise.
   *
   * @param data - A string, sent as is, an Html fragment (the `html` template), sent as its markup, or a value sent as its JSON text.
   * @param options - `event`: the SSE event type. Default: none (`message` in the browser).
   *   `to`: the audience tags that may see it. Default: everyone.
   * @example
   * const id = await stocks.publish({ symbol: "ACME", price: 12.5 }, { event: "tick" });
   * await orders.publish({ order: 7, status: "shipped" }, { to: ["user:1", "role:admin"] });
   */
  publish(data: unknown, options: PublishOptions = {}): Promise<string> {
    this.#assertNotDeleted();
    const text = dataText(data);
    // Validate the event name before it reaches the broker (and every subscriber).
    if (options.event !== undefined) formatSseFrame("", { event: options.event });
    const to = options.to === undefined ? undefined : audienceList(options.to);
    const message: PublishedMessage = options.event === undefined ? { data: text } : { event: options.event, data: text };
    if (to !== undefined) message.to = to;
    try {
      return this.#hub.publish(message);
    } catch (err) {
      // A broker whose publish throws instead of rejecting: still a rejection for the caller.
      return Promise.reject(err);
    }
  }

  /**
   * An SSE response for this channel: first what the client missed (from
   * `Last-Event-ID`, or `?lastEventId=`), then live events, with no gap and no duplicate.
   *
   * The channel's rules (its `authorize`, `app.authorizeChannels`) are asked
   * first, hence the promise: a refused request gets a 403 `CELLO_FORBIDDEN`
   * before any SSE byte. Events published with `to` reach the client only when
   * its audience (`options.audience`, the channel's `audience`) names one of their
   * tags, on replay as live.
   *
   * @example
   * app.get("/orders", (req) => orders.subscribe(req, { audience: [`user:${req.getHeader("x-user")}`] }));
   */
  subscribe(request: Request, options: SubscribeOptions & { sse?: SseOptions } = {}): Promise<Response> {
    try {
      this.#assertNotDeleted();
      return this.#hub.subscribe(request, options);
    } catch (err) {
      return Promise.reject(err);
    }
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
  delete(): Promise<void> {
    return this.#hub.delete();
  }

  #assertNotDeleted(): void {
    if (this.#hub.deleted) throw new CelloError("CELLO_CHANNEL_DELETED", `channel ${JSON.stringify(this.name)} was deleted; app.channel(name) makes a new one`);
  }

  /** Run `listener` when a client joins this channel on this instance (presence). */
  onJoin(listener: (request: Request) => void): this {
    this.#hub.onJoin(listener);
    return this;
  }

  /** Run `listener` when a client leaves. */
  onLeave(listener: (request: Request) => void): this {
    this.#hub.onLeave(listener);
    return this;
  }
}

/** A frozen copy of `to`, after checking each tag is a string. */
function audienceList(to: readonly string[]): readonly string[] {
  if (!Array.isArray(to) || !to.every((tag) => typeof tag === "string")) {
    throw new CelloError("CELLO_INVALID_OPTION", "publish(): `to` must be an array of audience tags (strings)");
  }
  return Object.freeze([...to]);
}

/** What `publish` sends as `data:`: a string as is, an Html fragment as its markup, anything else as JSON. */
function dataText(data: unknown): string {
  if (typeof data === "string") return data;
  if (data instanceof Html) return data.toString();
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new CelloError("CELLO_INVALID_SSE_FIELD", `data has no JSON form (${(err as Error).message})`, { cause: err });
  }
  if (text === undefined) throw new CelloError("CELLO_INVALID_SSE_FIELD", `data must be a string or have a JSON form, got ${typeof data}`);
  return text;
}
