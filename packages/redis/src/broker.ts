/**
 * A ChannelBroker on Redis Streams: one stream per channel, the stream id as
 * the SSE id, so every instance numbers events the same way and a client can
 * resume on any of them with its Last-Event-ID.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { CelloError, CHANNEL_HISTORY_DEFAULTS, DIAGNOSTICS_CHANNELS, type BrokerStatus, consoleLogger, type ChannelBroker, type ChannelHistoryOptions, type ChannelMessage, type Logger, type PublishedMessage, type ReplayOptions, type ReplayResult } from "@cellojs/core";
import type { Redis, RedisOptions } from "ioredis";
import { BrokerUnavailableError, lastConnectionError, openConnection, redactUrl, sendWhenConnected, toBrokerError, type ConnectionSettings } from "./connection.js";
import { compareStreamIds, isStreamId, MIN_ID } from "./ids.js";
import { StreamReader, toMessage } from "./reader.js";

const brokerState = diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.brokerState);

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions {
  /** Where Redis is. Default: `REDIS_URL`, else `redis://127.0.0.1:6379`. `rediss://` for TLS. */
  url?: string;
  /** Prefix of each channel's stream key: channel `stocks` is the stream `cello:ch:stocks`. Default `"cello:ch:"`. */
  prefix?: string;
  /**
   * Names of the two connections in `CLIENT LIST`: `<name>-reader-<pid>` and
   * `<name>-publisher-<pid>`. Default `"cello"`.
   */
  connectionName?: string;
  /** How long one XREAD blocks before it is re-issued (ms). Default 1000. */
  blockMs?: number;
  /** Entries read per channel per XREAD. Default 500. */
  readCount?: number;
  /** A publish, replay or lastId without an answer after this long rejects (ms). Default 2000. */
  commandTimeoutMs?: number;
  /**
   * How the two connections reconnect after Redis went away: the first delay and
   * the cap (ms) of an exponential backoff, with jitter. Default `{ minMs: 50, maxMs: 2000 }`.
   */
  reconnectBackoff?: { minMs?: number; maxMs?: number };
  /**
   * @deprecated Renamed {@link RedisBrokerOptions.reconnectBackoff} ("retry" is also
   * the SSE field and a client option); this name still works and will be removed in the next release.
   */
  retry?: { minMs?: number; maxMs?: number };
  /** Where outages and their end are reported. Default: the console. */
  logger?: Logger;
  /**
   * Extra ioredis options (TLS, username, password, db, family...). The options
   * this broker's guarantees rest on are set by it and win: `enableOfflineQueue`,
   * `maxRetriesPerRequest`, `autoResendUnfulfilledCommands`, `retryStrategy`,
   * `commandTimeout`, `socketTimeout`, `connectionName`.
   */
  redis?: RedisOptions;
}

/** The broker returned by {@link redisBroker}: a ChannelBroker plus what operations need. */
export interface RedisBroker extends ChannelBroker {
  /** The Redis URL, password masked. */
  readonly url: string;
  /** The `CLIENT SETNAME` names of the reader and publisher connections. */
  readonly connectionNames: { reader: string; publisher: string };
  /** The stream key of a channel. */
  streamKey(channel: string): string;
  /** Delete a channel's stream, so its history, for every instance (`channel.delete()` calls it). */
  delete(channel: string): Promise<void>;
  /**
   * Resolve once both connections are up; reject with a CELLO_BROKER_UNAVAILABLE
   * error after `timeoutMs` (default 5000). Useful at startup:
   * `app.onEvent("startup", () => broker.ready())`.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** Both connections up or not, reconnects so far, and how far behind the reader's last delivery was (ms). */
  status(): BrokerStatus;
}

/**
 * A channel broker on Redis Streams, for running several instances of an app:
 * a publish on any instance reaches the subscribers of every instance, and a
 * client may resume on any instance with its `Last-Event-ID`.
 *
 * Each channel is a stream (`cello:ch:<name>`), trimmed to about `history`
 * entries (`XADD MAXLEN ~`) and, with `ttlMs`, by age. Each instance keeps two
 * connections whatever the number of clients: one blocking XREAD reader that
 * fans out locally, one for publishes and replays.
 *
 * @param options - See {@link RedisBrokerOptions}: `url` (REDIS_URL or redis://127.0.0.1:6379),
 *   `prefix` ("cello:ch:"), `connectionName` ("cello"), `blockMs` (1000), `readCount` (500),
 *   `commandTimeoutMs` (2000), `reconnectBackoff` ({ minMs: 50, maxMs: 2000 }), `logger` (console), `redis`.
 * @returns A {@link RedisBroker}; pass it to `new App({ broker })`. `app.close()` closes it.
 * @example
 * import { App } from "@cellojs/core";
 * import { redisBroker } from "@cellojs/redis";
 *
 * const broker = redisBroker({ url: process.env.REDIS_URL });
 * const app = new App({ broker });
 * app.onEvent("startup", () => broker.ready());
 * const stocks = app.channel("stocks", { history: 1000 });
 * app.get("/stocks", (req) => stocks.subscribe(req));
 * await app.run();
 */
export function redisBroker(options: RedisBrokerOptions = {}): RedisBroker {
  return new RedisStreamsBroker(options);
}

class RedisStreamsBroker implements RedisBroker {
  readonly url: string;
  readonly connectionNames: { reader: string; publisher: string };
  readonly #prefix: string;
  readonly #settings: ConnectionSettings;
  readonly #commands: Redis;
  readonly #readerConnection: Redis;
  readonly #reader: StreamReader;
  readonly #config = new Map<string, ChannelHistoryOptions>();
  #closing: Promise<void> | undefined;
  #reconnects = 0;

  constructor(options: RedisBrokerOptions) {
    const url = options.url ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
    this.url = redactUrl(url);
    this.#prefix = options.prefix ?? "cello:ch:";
    // Validated before any connection opens, so a bad option leaks nothing.
    const blockMs = positive("blockMs", options.blockMs, 1000, "milliseconds", true);
    const readCount = positive("readCount", options.readCount, 500, "entries", true);
    this.#settings = {
      url,
      safeUrl: this.url,
      blockMs,
      commandTimeoutMs: positive("commandTimeoutMs", options.commandTimeoutMs, 2000, "milliseconds"),
      ...reconnectBackoff(options),
      extra: options.redis ?? {},
      logger: options.logger ?? consoleLogger,
    };
    const name = options.connectionName ?? "cello";
    this.connectionNames = { reader: `${name}-reader-${process.pid}`, publisher: `${name}-publisher-${process.pid}` };
    this.#commands = openConnection("publisher", this.connectionNames.publisher, this.#settings);
    this.#readerConnection = openConnection("reader", this.connectionNames.reader, this.#settings);
    for (const connection of [this.#commands, this.#readerConnection]) {
      let seenReady = false;
      connection.on("ready", () => {
        const reconnected = seenReady;
        if (reconnected) this.#reconnects++;
        seenReady = true;
        this.#reportState(reconnected);
      });
      connection.on("close", () => {
        if (!this.#closing) this.#reportState(false);
      });
    }
    this.#reader = new StreamReader(this.#readerConnection, (send) => this.#send(send), {
      keyOf: (channel) => this.streamKey(channel),
      blockMs,
      count: readCount,
      logger: this.#settings.logger,
    });
  }

  streamKey(channel: string): string {
    return this.#prefix + channel;
  }

  configure(channel: string, options: ChannelHistoryOptions): void {
    // Only settings that differ from the defaults are kept: channels made for names
    // from requests (always the defaults) then cost nothing here.
    if (options.history === CHANNEL_HISTORY_DEFAULTS.history && options.ttlMs === CHANNEL_HISTORY_DEFAULTS.ttlMs) this.#config.delete(channel);
    else this.#config.set(channel, { ...options });
  }

  /** Delete the channel's stream (its history, for every instance) and its settings here. */
  async delete(channel: string): Promise<void> {
    this.#config.delete(channel);
    try {
      await this.#send((commands) => commands.call("DEL", this.streamKey(channel)));
    } catch (err) {
      throw toBrokerError(err, `the delete of ${channel}`, this.#settings, this.#commands);
    }
  }

  async publish(channel: string, message: PublishedMessage): Promise<string> {
    const key = this.streamKey(channel);
    const { history, ttlMs } = this.#config.get(channel) ?? CHANNEL_HISTORY_DEFAULTS;
    const fields = message.event === undefined ? ["data", message.data] : ["data", message.data, "event", message.event];
    // The audience travels with the event (a JSON array), so every instance, live or replaying, checks the same tags.
    if (message.to !== undefined) fields.push("to", JSON.stringify(message.to));
    // `~` lets Redis trim whole nodes (cheap), so a stream holds at least `history`
    // entries and a little more. At least 1: an entry trimmed by its own XADD
    // would never reach the blocked readers of the other instances.
    try {
      return await this.#send(async (commands) => {
        const added = commands.call("XADD", key, "MAXLEN", "~", String(Math.max(1, history)), "*", ...fields);
        if (ttlMs > 0) commands.call("XTRIM", key, "MINID", "~", String(Date.now() - ttlMs)).catch(() => {});
        return String(await added);
      });
    } catch (err) {
      throw toBrokerError(err, `the publish to ${channel}`, this.#settings, this.#commands);
    }
  }

  async replay(channel: string, requestedId: string, options: ReplayOptions = {}): Promise<ReplayResult> {
    // "" is core's "before the first event" (a composite id naming a channel that had none): 0-0 here.
    const afterId = requestedId === "" ? MIN_ID : requestedId;
    const key = this.streamKey(channel);
    const { ttlMs } = this.#config.get(channel) ?? CHANNEL_HISTORY_DEFAULTS;
    const valid = isStreamId(afterId);
    // One pipeline on the publisher connection, in this order: expire by age, read
    // the range, then describe the stream. XINFO runs last: if the stream it
    // describes still holds an entry at or before `afterId`, nothing after it had
    // been trimmed when the XRANGE ran either, so the range is complete.
    let stream: StreamInfo | undefined;
    let entries: Array<[string, string[]]> = [];
    try {
      [entries, stream] = await this.#send(async (commands) => {
        const trimmed = ttlMs > 0 ? commands.call("XTRIM", key, "MINID", String(Date.now() - ttlMs)) : undefined;
        // A page (COUNT) when the caller pages through a long history.
        const count = options.limit === undefined ? [] : ["COUNT", String(Math.max(0, options.limit))];
        const range = valid ? (commands.call("XRANGE", key, `(${afterId}`, "+", ...count) as Promise<Array<[string, string[]]>>) : undefined;
        const info = commands.call("XINFO", "STREAM", key).then(parseInfo, (err: unknown) => {
          if (err instanceof Error && /no such key/i.test(err.message)) return undefined;
          throw err;
        });
        // All three fail together when the connection does: mark each as observed
        // now, so the ones not yet awaited are not reported as unhandled rejections.
        for (const pending of [trimmed, range, info]) pending?.catch(() => {});
        await trimmed;
        return [(await range) ?? [], await info] as const;
      });
    } catch (err) {
      throw toBrokerError(err, `the replay of ${channel}`, this.#settings, this.#commands);
    }
    const earliestId = stream?.firstId;
    const reset: ReplayResult = earliestId === undefined ? { events: [], reset: true } : { events: [], reset: true, earliestId };
    if (!valid) return reset;
    if (!stream) return afterId === MIN_ID ? { events: [], reset: false } : reset;
    // From the future: not issued by this stream (Redis lost its data, or another Redis).
    if (compareStreamIds(afterId, stream.lastGeneratedId) > 0) return reset;
    // An XDEL (not ours, but someone's) removed an entry after it.
    if (stream.maxDeletedId !== undefined && compareStreamIds(afterId, stream.maxDeletedId) < 0) return reset;
    const events = entries.map(([id, fields]) => toMessage(id, fields));
    const result: ReplayResult = earliestId === undefined ? { events, reset: false } : { events, reset: false, earliestId };
    const settled = async () => {
      if (stream.lastEntryId !== undefined) await this.#caughtUp(channel, stream.lastEntryId);
      return result;
    };
    // Trimming removes the oldest entries first: while one entry at or before
    // `afterId` is still held, nothing after it has been removed.
    if (compareStreamIds(afterId, stream.lastGeneratedId) === 0) return settled();
    if (earliestId !== undefined && compareStreamIds(afterId, earliestId) >= 0) return settled();
    // Older than everything held. If the stream never lost an entry (Redis 7
    // counts them), "0-0" means "from the start" and any other id is from another
    // incarnation of the stream; otherwise events after it may have been trimmed.
    // Redis does not record which ids trimming removed, so a client whose id was
    // the very last one trimmed gets a reset too.
    const neverTrimmed = stream.entriesAdded !== undefined && stream.entriesAdded === stream.length;
    return neverTrimmed && afterId === MIN_ID ? settled() : reset;
  }

  async lastId(channel: string): Promise<string | undefined> {
    const key = this.streamKey(channel);
    try {
      const entries = (await this.#send((commands) => commands.call("XREVRANGE", key, "+", "-", "COUNT", "1"))) as Array<[string, string[]]>;
      if (entries[0]) {
        await this.#caughtUp(channel, entries[0][0]);
        return entries[0][0];
      }
      // Empty (every entry expired) but it may have issued ids: the memory broker still reports its last one.
      const info = parseInfo(await this.#send((commands) => commands.call("XINFO", "STREAM", key)));
      return info.lastGeneratedId === MIN_ID ? undefined : info.lastGeneratedId;
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return undefined;
      throw toBrokerError(err, `the lastId of ${channel}`, this.#settings, this.#commands);
    }
  }

  subscribe(channel: string, deliver: (message: ChannelMessage) => void): () => void {
    return this.#reader.subscribe(channel, deliver);
  }

  /**
   * Wait until the local reader has handed `id` (and all before it) to this
   * instance's subscribers of `channel`. Core's Subscription replays, then goes
   * live, dropping only the live events that arrived while it replayed: an entry
   * it replayed must not come from the reader after that. The memory broker
   * delivers inside publish, so there it is always so; here the reader may lag
   * the publisher connection by a round trip.
   */
  async #caughtUp(channel: string, id: string): Promise<void> {
    const timeoutMs = this.#settings.commandTimeoutMs + this.#settings.blockMs;
    try {
      await this.#reader.delivered(channel, id, timeoutMs);
    } catch (err) {
      throw new BrokerUnavailableError(`the reader connection to Redis at ${this.url} is behind or reconnecting (${(err as Error).message})`, false, err);
    }
  }

  /** Run `send` on the publisher connection now, or once it is back (waiting at most commandTimeoutMs). */
  #send<T>(send: (commands: Redis) => Promise<T>): Promise<T> {
    return sendWhenConnected(this.#commands, this.#settings.commandTimeoutMs, () => send(this.#commands));
  }

  compareIds(a: string, b: string): number {
    return compareStreamIds(a, b);
  }

  status(): BrokerStatus {
    return {
      connected: !this.#closing && this.#commands.status === "ready" && this.#readerConnection.status === "ready",
      reconnects: this.#reconnects,
      readerLagMs: this.#reader.lagMs,
    };
  }

  /** Tell `cello:broker.state` subscribers (diagnostics_channel) the connection state changed. */
  #reportState(reconnected: boolean): void {
    if (!brokerState.hasSubscribers) return;
    brokerState.publish({ broker: this, connected: this.status().connected, reconnected });
  }

  async ready(timeoutMs = 5000): Promise<void> {
    const connections = [this.#commands, this.#readerConnection];
    const deadline = Date.now() + timeoutMs;
    while (!connections.every((c) => c.status === "ready")) {
      if (this.#closing) throw new BrokerUnavailableError(`the broker for ${this.url} is closed`, false, undefined);
      if (Date.now() >= deadline) {
        const reason = lastConnectionError(this.#commands) ?? lastConnectionError(this.#readerConnection) ?? `publisher ${this.#commands.status}, reader ${this.#readerConnection.status}`;
        throw new BrokerUnavailableError(`Redis at ${this.url} is not reachable after ${timeoutMs} ms (${reason})`, false, undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const connection of [this.#commands, this.#readerConnection]) {
      // From here a close is ours, not an outage to report.
      connection.removeAllListeners("close");
      connection.removeAllListeners("error");
      connection.on("error", () => {});
    }
    await this.#reader.close();
    const commands = this.#commands;
    if (commands.status === "ready") {
      // QUIT lets Redis answer what is in flight; disconnect if it does not answer.
      await Promise.race([commands.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, this.#settings.commandTimeoutMs))]);
    }
    commands.disconnect();
  }
}

interface StreamInfo {
  length: number;
  lastGeneratedId: string;
  firstId: string | undefined;
  /** The newest entry still held. */
  lastEntryId: string | undefined;
  /** Redis 7+ only: the highest id removed by XDEL (trimming does not count). */
  maxDeletedId: string | undefined;
  /** Redis 7+ only: entries ever added, trimmed or not. */
  entriesAdded: number | undefined;
}

/** XINFO STREAM's flat RESP2 reply (`[name, value, name, value, ...]`) to what replay needs. */
function parseInfo(reply: unknown): StreamInfo {
  const fields = new Map<string, unknown>();
  const flat = reply as unknown[];
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
  const first = fields.get("first-entry") as [string, string[]] | null | undefined;
  const last = fields.get("last-entry") as [string, string[]] | null | undefined;
  const maxDeleted = fields.get("max-deleted-entry-id");
  const entriesAdded = fields.get("entries-added");
  return {
    length: Number(fields.get("length") ?? 0),
    lastGeneratedId: String(fields.get("last-generated-id") ?? MIN_ID),
    firstId: first ? first[0] : undefined,
    lastEntryId: last ? last[0] : undefined,
    maxDeletedId: maxDeleted === undefined ? undefined : String(maxDeleted),
    entriesAdded: entriesAdded === undefined ? undefined : Number(entriesAdded),
  };
}

/** The `reconnectBackoff` bounds, given under that name or its deprecated one, `retry`. */
function reconnectBackoff(options: RedisBrokerOptions): Pick<ConnectionSettings, "backoffMinMs" | "backoffMaxMs"> {
  if (options.reconnectBackoff !== undefined && options.retry !== undefined) {
    throw new CelloError("CELLO_INVALID_OPTION", "redisBroker(): retry is the deprecated name of reconnectBackoff; pass reconnectBackoff only");
  }
  const name = options.retry !== undefined ? "retry" : "reconnectBackoff";
  const bounds = options.reconnectBackoff ?? options.retry;
  return {
    backoffMinMs: positive(`${name}.minMs`, bounds?.minMs, 50, "milliseconds"),
    backoffMaxMs: positive(`${name}.maxMs`, bounds?.maxMs, 2000, "milliseconds"),
  };
}

/**
 * An option's value, `fallback` when not given; checked before any connection
 * opens: a CelloError `CELLO_INVALID_OPTION` naming the option, its unit and default otherwise.
 */
function positive(name: string, given: number | undefined, fallback: number, unit: "milliseconds" | "entries", integer = false): number {
  const value = given ?? fallback;
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    // A string is quoted, so "1000" is not mistaken for the number it is not.
    const got = typeof value === "string" ? JSON.stringify(value) : String(value);
    throw new CelloError("CELLO_INVALID_OPTION", `redisBroker(): ${name} must be a positive ${integer ? "integer" : "number"} of ${unit} (default ${fallback}), got ${got}`);
  }
  return value;
}
