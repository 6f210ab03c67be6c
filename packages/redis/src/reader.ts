/**
 * The reader: one blocking connection per broker that runs XREAD BLOCK over
 * every channel with local subscribers and hands each entry to them, in id
 * order, exactly once. Its position per channel is the last id it delivered,
 * so after any reconnect it asks Redis for what came next: nothing lost,
 * nothing doubled, as long as the stream still holds it.
 */
import type { ChannelMessage, Logger } from "@cellojs/core";
import type { Redis } from "ioredis";
import { compareStreamIds, MIN_ID } from "./ids.js";

type Deliver = (message: ChannelMessage) => void;

interface ChannelState {
  name: string;
  key: string;
  listeners: Set<Deliver>;
  /** The last id delivered; undefined until the starting point is known. */
  position: string | undefined;
  /** A look-up of the starting point is in flight on the publisher connection. */
  resolving: boolean;
  /** Callers of {@link StreamReader.delivered} waiting for the position to reach an id. */
  waiters: Array<{ id: string; done: () => void }>;
}

/** @internal Settings of {@link StreamReader}. */
export interface ReaderSettings {
  keyOf: (channel: string) => string;
  blockMs: number;
  count: number;
  logger: Logger;
}

/** Raw XREAD reply (RESP2, as ioredis returns it): `[[key, [[id, [field, value, ...]], ...]], ...]`. */
type XreadReply = Array<[string, Array<[string, string[]]>]> | null;

/** @internal */
export class StreamReader {
  readonly #channels = new Map<string, ChannelState>();
  readonly #connection: Redis;
  /** Runs a command on the publisher connection (waiting briefly for it when it is down). */
  readonly #onCommands: <T>(send: (commands: Redis) => Promise<T>) => Promise<T>;
  readonly #settings: ReaderSettings;
  readonly #loop: Promise<void>;
  #closed = false;
  /** Bumped when a channel becomes readable: an XREAD issued before it must be re-issued. */
  #generation = 0;
  /** The generation of the XREAD now in flight, if any. */
  #blockedGeneration: number | undefined;
  #wakeLoop: (() => void) | undefined;
  /** The reader connection's CLIENT ID, for CLIENT UNBLOCK; fetched again after each reconnect. */
  #clientId: number | undefined;
  #unblocking = false;
  /** Delivery time minus the Redis time of the newest entry delivered (ms; undefined before the first). */
  lagMs: number | undefined;
  /** The last XREAD error logged, so a persistent one is reported once, not every retry. */
  #lastError: string | undefined;

  constructor(connection: Redis, onCommands: <T>(send: (commands: Redis) => Promise<T>) => Promise<T>, settings: ReaderSettings) {
    this.#connection = connection;
    this.#onCommands = onCommands;
    this.#settings = settings;
    connection.on("close", () => (this.#clientId = undefined));
    connection.on("ready", () => this.#wake());
    this.#loop = this.#run();
  }

  /** Start delivering `channel` to `deliver`; returns the function that stops it. */
  subscribe(channel: string, deliver: Deliver): () => void {
    let state = this.#channels.get(channel);
    if (!state) {
      state = { name: channel, key: this.#settings.keyOf(channel), listeners: new Set(), position: undefined, resolving: false, waiters: [] };
      this.#channels.set(channel, state);
      this.#resolveOnCommands(state);
    }
    state.listeners.add(deliver);
    const owner = state;
    return () => {
      owner.listeners.delete(deliver);
      if (owner.listeners.size === 0 && this.#channels.get(channel) === owner) {
        this.#channels.delete(channel);
        for (const waiter of owner.waiters.splice(0)) waiter.done();
      }
    };
  }

  /**
   * Resolve once this instance's subscribers of `channel` have been handed every
   * entry up to `id` (at once when they have, or when nobody here subscribes).
   * Reject after `timeoutMs` (the reader is reconnecting or far behind).
   *
   * Why: the publisher connection can see entries the reader has not delivered
   * yet. A subscription that replays up to such an entry and then goes live
   * would receive it a second time from the reader; waiting for the reader first
   * makes it arrive while the subscription still buffers, where it is dropped.
   */
  delivered(channel: string, id: string, timeoutMs: number): Promise<void> {
    const state = this.#channels.get(channel);
    if (!state || (state.position !== undefined && compareStreamIds(state.position, id) >= 0)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        id,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const index = state.waiters.indexOf(waiter);
        if (index >= 0) state.waiters.splice(index, 1);
        reject(new Error(`the reader had not delivered ${channel} up to ${id} after ${timeoutMs} ms (at ${state.position ?? "no position yet"})`));
      }, timeoutMs);
      state.waiters.push(waiter);
    });
  }

  /** Release the waiters whose id the channel's position has reached. */
  #settle(state: ChannelState): void {
    if (state.waiters.length === 0 || state.position === undefined) return;
    const position = state.position;
    const reached = state.waiters.filter((waiter) => compareStreamIds(position, waiter.id) >= 0);
    if (reached.length === 0) return;
    state.waiters = state.waiters.filter((waiter) => !reached.includes(waiter));
    for (const waiter of reached) waiter.done();
  }

  /** Stop the loop. The caller closes the connection, which ends a pending XREAD. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const state of this.#channels.values()) for (const waiter of state.waiters.splice(0)) waiter.done();
    this.#channels.clear();
    this.#wake();
    this.#connection.disconnect();
    await this.#loop;
  }

  /**
   * Find where a new channel starts: its last entry now. Sent at once on the
   * publisher connection, so Redis runs it before the replay the subscription
   * sends next on that connection: the live part then starts at or before the
   * end of the replay, and the subscription drops the overlap. No gap.
   */
  #resolveOnCommands(state: ChannelState): void {
    state.resolving = true;
    this.#onCommands((commands) => lastEntryId(commands, state.key)).then(
      (id) => {
        state.resolving = false;
        if (this.#channels.get(state.name) !== state || state.position !== undefined) return;
        state.position = id;
        this.#settle(state);
        this.#changed();
      },
      () => {
        // Publisher connection down: the loop resolves it on the reader connection instead.
        state.resolving = false;
        this.#wake();
      },
    );
  }

  async #run(): Promise<void> {
    const connection = this.#connection;
    while (!this.#closed) {
      if (connection.status !== "ready") {
        await this.#sleepUntilWoken(this.#settings.blockMs);
        continue;
      }
      try {
        this.#clientId ??= Number(await connection.call("CLIENT", "ID"));
        for (const state of this.#channels.values()) {
          if (state.position !== undefined || state.resolving) continue;
          const id = await lastEntryId(connection, state.key);
          if (this.#channels.get(state.name) === state && state.position === undefined) {
            state.position = id;
            this.#settle(state);
          }
        }
        const reading = [...this.#channels.values()].filter((state) => state.position !== undefined);
        if (reading.length === 0) {
          await this.#sleepUntilWoken(this.#settings.blockMs);
          continue;
        }
        this.#blockedGeneration = this.#generation;
        const reply = (await connection.call(
          "XREAD",
          "COUNT",
          String(this.#settings.count),
          "BLOCK",
          String(this.#settings.blockMs),
          "STREAMS",
          ...reading.map((state) => state.key),
          ...reading.map((state) => state.position!),
        )) as XreadReply;
        this.#blockedGeneration = undefined;
        this.#lastError = undefined;
        if (reply) this.#dispatch(reply, reading);
      } catch (err) {
        this.#blockedGeneration = undefined;
        if (this.#closed) break;
        // A lost connection shows up as a rejected XREAD: ioredis reconnects with
        // backoff and the loop resumes from the positions it keeps. An answer from
        // Redis itself (e.g. WRONGTYPE on a key used by something else) is worth a line.
        const message = err instanceof Error ? err.message : String(err);
        if (connection.status === "ready" && message !== this.#lastError) this.#settings.logger.error("@cellojs/redis: XREAD failed; retrying", err);
        this.#lastError = message;
        await this.#sleepUntilWoken(Math.min(this.#settings.blockMs, 250));
      }
    }
  }

  #dispatch(reply: NonNullable<XreadReply>, reading: ChannelState[]): void {
    const byKey = new Map(reading.map((state) => [state.key, state]));
    for (const [key, entries] of reply) {
      const state = byKey.get(key);
      // Unsubscribed while the XREAD was in flight.
      if (!state || this.#channels.get(state.name) !== state) continue;
      for (const [id, fields] of entries) {
        if (compareStreamIds(id, state.position!) <= 0) continue;
        state.position = id;
        // A stream id starts with the ms time Redis added the entry at.
        this.lagMs = Math.max(0, Date.now() - Number.parseInt(id, 10));
        const message = toMessage(id, fields);
        for (const deliver of [...state.listeners]) {
          try {
            deliver(message);
          } catch (err) {
            this.#settings.logger.error(`@cellojs/redis: a subscriber of ${state.name} threw`, err);
          }
        }
      }
      this.#settle(state);
    }
  }

  /** A channel became readable: re-issue the XREAD so it includes it. */
  #changed(): void {
    this.#generation++;
    this.#wake();
    void this.#unblock();
  }

  /**
   * Interrupt an XREAD issued before the last change with CLIENT UNBLOCK (it
   * then returns no entries, as on a timeout). The XREAD may still be on its way
   * to Redis (two connections race), in which case UNBLOCK finds nothing to
   * interrupt and is tried again shortly. Without UNBLOCK (an ACL may refuse
   * it) the BLOCK timeout bounds the wait instead.
   */
  async #unblock(): Promise<void> {
    if (this.#unblocking) return;
    this.#unblocking = true;
    try {
      for (let attempt = 0; attempt < 20 && !this.#closed; attempt++) {
        const blocked = this.#blockedGeneration;
        const clientId = this.#clientId;
        if (blocked === undefined || blocked >= this.#generation || clientId === undefined) return;
        const done = Number(await this.#onCommands((commands) => commands.call("CLIENT", "UNBLOCK", String(clientId))));
        if (done === 1) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } catch {
      // Publisher connection down or UNBLOCK not allowed: the BLOCK timeout takes over.
    } finally {
      this.#unblocking = false;
    }
  }

  #wake(): void {
    const wake = this.#wakeLoop;
    this.#wakeLoop = undefined;
    wake?.();
  }

  #sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeLoop = done;
    });
  }
}

/** The id of a stream's last entry, or `0-0` when it has none (then every entry to come is new). */
async function lastEntryId(connection: Redis, key: string): Promise<string> {
  const entries = (await connection.call("XREVRANGE", key, "+", "-", "COUNT", "1")) as Array<[string, string[]]>;
  return entries[0]?.[0] ?? MIN_ID;
}

/**
 * @internal An entry's fields (`data`, and `event` and `to` when present) as a
 * message. `to` is the audience as a JSON array of strings; one that does not
 * parse as that (written by something else) makes the event visible to nobody,
 * never to everybody.
 */
export function toMessage(id: string, fields: string[]): ChannelMessage {
  let data = "";
  let event: string | undefined;
  let to: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === "data") data = fields[i + 1]!;
    else if (fields[i] === "event") event = fields[i + 1];
    else if (fields[i] === "to") to = fields[i + 1];
  }
  const message: ChannelMessage = event === undefined ? { id, data } : { id, event, data };
  if (to !== undefined) message.to = audienceOf(to);
  return message;
}

function audienceOf(text: string): readonly string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((tag) => typeof tag === "string")) return Object.freeze(parsed as string[]);
  } catch {
    // Not ours: nobody sees it.
  }
  return Object.freeze([]);
}
