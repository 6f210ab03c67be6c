/**
 * The broker behind channels: where events are numbered, kept for replay and
 * fanned out to every instance. The in-memory broker serves one process;
 * @cellojs/redis implements the same interface on Redis Streams.
 */
import type { RateLimitStore } from "../plugins/rate-limit.js";

/**
 * What {@link ChannelBroker.status} reports.
 * @example
 * const { connected } = app.broker.status?.() ?? { connected: true };
 */
export interface BrokerStatus {
  /** True while the broker can publish and deliver (every connection it needs is up). */
  connected: boolean;
  /** How many times a lost connection came back since the broker started. */
  reconnects?: number;
  /** How far behind the events it delivered last were, in ms (remote brokers: delivery time minus the event's time). */
  readerLagMs?: number;
}

/** One published event. */
export interface ChannelMessage {
  /** The id the broker assigned: monotonic per channel. Sent as the SSE `id`. */
  id: string;
  /** The SSE event type, if any. */
  event?: string;
  /** The payload, already a string (JSON for objects). */
  data: string;
  /**
   * Who may see the event: audience tags (`"user:1"`, `"role:admin"`), as
   * `channel.publish(data, { to })` gave them. A subscriber sees it only when one
   * of its own tags is in the list; absent, everyone does. A broker must store it
   * with the event and give it back, live and on replay, unchanged: dropping it
   * would show the event to every subscriber (the conformance suite checks it).
   */
  to?: readonly string[];
}

/** What a channel hands its broker to publish. */
export type PublishedMessage = Omit<ChannelMessage, "id">;

/** History settings of one channel ({@link CHANNEL_HISTORY_DEFAULTS} when none are given). */
export interface ChannelHistoryOptions {
  /** How many events to keep for replay. Default 1000. */
  history: number;
  /** Drop events older than this many ms from the history (0 = keep until pushed out). Default 0. */
  ttlMs: number;
}

/** Options of {@link ChannelBroker.replay}. */
export interface ReplayOptions {
  /**
   * Return at most this many events: the oldest after the given id. The caller
   * pages through a long history by asking again after the last id it got, so a
   * slow client never makes it hold the whole history. Default: no limit.
   */
  limit?: number;
}

/** What a replay request returns. */
export interface ReplayResult {
  /** Events after the given id, oldest first (at most `limit` of them). */
  events: ChannelMessage[];
  /** True when the id is older than the history or unknown: the client missed events that are gone. */
  reset: boolean;
  /** The earliest id still held (for the `reset` frame), if any. */
  earliestId?: string;
}

/**
 * A channel broker. Implement it to put channels on another backend.
 * Every method may be called for a channel before or after `configure`.
 *
 * Ordering contract: `replay()` and `lastId()` must resolve only once every
 * event up to what they report has been handed to this instance's `subscribe()`
 * callbacks. A subscription merges replay and live events by id while it
 * catches up and trusts that nothing older arrives live afterwards. Order is
 * per channel: events of different channels have none between them.
 *
 * Paging: a subscription reads history a page at a time (`replay(channel,
 * afterId, { limit })`, then again after the last id of the page), fetching
 * the next page only once its client has taken the previous one. A page with
 * fewer than `limit` events means the history was read to its end. Each page
 * follows the same contract, and may report `reset` when the events after
 * `afterId` were trimmed since the previous page.
 */
export interface ChannelBroker {
  /** Set a channel's history bounds (called once when the app creates the channel). */
  configure(channel: string, options: ChannelHistoryOptions): void;
  /** Publish and resolve with the assigned id. Delivery to subscribers goes through `subscribe`. */
  publish(channel: string, message: PublishedMessage): Promise<string>;
  /**
   * The events after `afterId` (exclusive), oldest first, at most `options.limit`
   * of them. The empty string means "from the start of the channel": every event
   * still held, or a reset if some were trimmed.
   */
  replay(channel: string, afterId: string, options?: ReplayOptions): Promise<ReplayResult>;
  /**
   * The newest id of a channel, or undefined when it has none. A subscription to
   * several channels calls it just before it subscribes, and starts the channel
   * at that id: report the newest id as of the call (as a command sent at once does).
   */
  lastId(channel: string): Promise<string | undefined>;
  /** Deliver every new event of `channel` to `deliver`, in id order, once per instance. Returns a function that stops it. */
  subscribe(channel: string, deliver: (message: ChannelMessage) => void): () => void;
  /** Order two ids of one channel: negative, zero or positive. */
  compareIds(a: string, b: string): number;
  /**
   * Delete a channel's events and whatever this broker keeps for it (`channel.delete()`
   * calls it, after stopping the channel's delivery). Optional: without it,
   * `channel.delete()` only removes the channel from the app.
   */
  delete?(channel: string): Promise<void>;
  /**
   * Counters for `app.enableRateLimit()` shared the way this broker shares channels
   * (the Redis broker: in Redis, on its publisher connection), used when the plugin is
   * given no `store`. Optional: without it, each instance counts in its own memory.
   */
  rateLimitStore?(): RateLimitStore;
  /** Release connections and loops. */
  close(): Promise<void>;
  /**
   * The broker's health right now, for readiness checks and metrics. Optional: a broker
   * without it (the in-memory one) is always connected. Must not throw or block.
   */
  status?(): BrokerStatus;
}

interface MemoryChannel {
  nextId: number;
  /** The events held, oldest first: the very objects delivered (never handed out by replay, which copies). */
  history: ChannelMessage[];
  /** When each event of `history` was published (ms), at the same index: a number each, no object per event. */
  times: number[];
  options: ChannelHistoryOptions;
  listeners: Set<(message: ChannelMessage) => void>;
}

/**
 * The history bounds of a channel created without options: `app.channel(name)`
 * and the channels `app.subscribe()` makes for names no code declared. A broker
 * applies them to a channel it was never configured for, and may keep nothing
 * for a channel whose settings equal them.
 *
 * @example
 * // In a broker of your own: what publish trims to when configure() was not called.
 * const { history, ttlMs } = settings.get(channel) ?? CHANNEL_HISTORY_DEFAULTS;
 */
export const CHANNEL_HISTORY_DEFAULTS: Readonly<ChannelHistoryOptions> = Object.freeze({ history: 1000, ttlMs: 0 });

function isDefault(options: ChannelHistoryOptions): boolean {
  return options.history === CHANNEL_HISTORY_DEFAULTS.history && options.ttlMs === CHANNEL_HISTORY_DEFAULTS.ttlMs;
}

/** What a channel the broker keeps nothing for looks like. Read, never written. */
const UNUSED: MemoryChannel = Object.freeze({ nextId: 1, history: [], times: [], options: CHANNEL_HISTORY_DEFAULTS, listeners: new Set<(message: ChannelMessage) => void>() });

/**
 * The in-process broker (the default). Ids are `"1"`, `"2"`, ... per channel;
 * delivery is synchronous inside `publish`.
 *
 * It keeps state only for channels that have events, listeners or non-default
 * history settings, so names that are only subscribed to and left (names from
 * requests) cost nothing once their last listener is gone.
 */
export function memoryBroker(): ChannelBroker {
  const channels = new Map<string, MemoryChannel>();
  /** Read-only uses: a channel with no state reads as an unused one, and stays without. */
  const peek = (name: string): MemoryChannel => channels.get(name) ?? UNUSED;
  const state = (name: string): MemoryChannel => {
    let channel = channels.get(name);
    if (!channel) {
      channel = { nextId: 1, history: [], times: [], options: { ...CHANNEL_HISTORY_DEFAULTS }, listeners: new Set() };
      channels.set(name, channel);
    }
    return channel;
  };
  const expire = (channel: MemoryChannel) => {
    const { ttlMs } = channel.options;
    if (ttlMs <= 0) return;
    const cutoff = Date.now() - ttlMs;
    let drop = 0;
    while (drop < channel.times.length && channel.times[drop]! < cutoff) drop++;
    if (drop > 0) {
      channel.history.splice(0, drop);
      channel.times.splice(0, drop);
    }
  };
  const parse = (id: string): number => (/^\d+$/.test(id) ? Number(id) : Number.NaN);

  return {
    configure(name, options) {
      const channel = channels.get(name);
      if (channel) channel.options = { ...options };
      else if (!isDefault(options)) state(name).options = { ...options };
    },
    // Not async: one settled promise per event, without an async function's own machinery.
    publish(name, message) {
      try {
        return Promise.resolve(publishSync(name, message));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async replay(name, afterId, options = {}) {
      const channel = peek(name);
      expire(channel);
      const after = afterId === "" ? 0 : parse(afterId);
      const newest = channel.nextId - 1;
      const earliest = channel.history[0];
      const earliestId = earliest?.id;
      // Unknown (not ours, or from the future: the server restarted) or older than what we hold.
      if (Number.isNaN(after) || after > newest) return { events: [], reset: true, earliestId };
      const firstHeld = earliest ? Number(earliest.id) : channel.nextId;
      if (after < firstHeld - 1) return { events: [], reset: true, earliestId };
      // Ids are consecutive and only the oldest are trimmed: the event after `after` sits at a known index.
      const from = after - firstHeld + 1;
      const to = options.limit === undefined ? undefined : from + Math.max(0, options.limit);
      const events = channel.history.slice(from, to).map((stored) => toMessage(stored.id, stored));
      return { events, reset: false, earliestId };
    },
    async lastId(name) {
      const channel = peek(name);
      return channel.nextId > 1 ? String(channel.nextId - 1) : undefined;
    },
    subscribe(name, deliver) {
      const channel = state(name);
      channel.listeners.add(deliver);
      return () => {
        channel.listeners.delete(deliver);
        // Nothing published and default settings: dropping it loses nothing.
        if (channel.listeners.size === 0 && channel.nextId === 1 && isDefault(channel.options) && channels.get(name) === channel) channels.delete(name);
      };
    },
    compareIds(a, b) {
      return parse(a) - parse(b);
    },
    async delete(name) {
      const channel = channels.get(name);
      if (!channel) return;
      // Another app sharing this broker may still listen: keep its listeners (and the numbering they see).
      if (channel.listeners.size > 0) {
        channel.history = [];
        channel.times = [];
        channel.options = { ...CHANNEL_HISTORY_DEFAULTS };
      } else channels.delete(name);
    },
    async close() {
      for (const channel of channels.values()) channel.listeners.clear();
    },
  };

  function publishSync(name: string, message: PublishedMessage): string {
    const channel = state(name);
    const id = String(channel.nextId++);
    const delivered = toMessage(id, message);
    channel.history.push(delivered);
    channel.times.push(Date.now());
    // shift() is O(1) in V8 (left-trimming), so a full history costs nothing extra per publish.
    while (channel.history.length > channel.options.history) {
      channel.history.shift();
      channel.times.shift();
    }
    expire(channel);
    for (const listener of channel.listeners) listener(delivered);
    return id;
  }
}

/** A message with only the fields it has (no `event: undefined`), its audience frozen (a copy unless it already was). */
function toMessage(id: string, { event, data, to }: PublishedMessage): ChannelMessage {
  const message: ChannelMessage = event === undefined ? { id, data } : { id, event, data };
  if (to !== undefined) message.to = Object.isFrozen(to) ? to : Object.freeze([...to]);
  return message;
}
