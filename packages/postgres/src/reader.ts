/**
 * The reader: one connection per broker that LISTENs for the broker's
 * notifications and fetches, for every channel with local subscribers, the
 * rows after the last id it delivered, handing each event to them once, in id
 * order. A notification only says "channel X has id N": the rows come from the
 * table, so a lost or coalesced notification costs nothing but a later fetch,
 * and after a reconnect one fetch per channel catches up on everything missed.
 */
import { createHash } from "node:crypto";
import type { ChannelMessage, Logger } from "@cellojs/core";
import pg from "pg";
import { backoff, describe } from "./errors.js";
import { toMessage } from "./ids.js";
import { NOTIFY_NAME_BYTES } from "./sql.js";

type Deliver = (message: ChannelMessage) => void;

interface ChannelState {
  name: string;
  /** The MD5 a notification carries instead of a long name. */
  digest: string | undefined;
  listeners: Set<Deliver>;
  /** The last id delivered (or known to be gone); undefined until the starting point is known. */
  position: number | undefined;
  /** Settles once `position` is known (or the channel was dropped). */
  started: Promise<void>;
  /** Callers of {@link NotifyReader.delivered} waiting for the position to reach an id. */
  waiters: Array<{ id: number; done: () => void }>;
}

/** @internal Settings of {@link NotifyReader}. */
export interface ReaderSettings {
  /** pg.Client options (connection string, TLS...) for the listening connection. */
  client: pg.ClientConfig;
  /** The NOTIFY channel publishes signal on. */
  notifyChannel: string;
  /** The fetch statement (see sql.ts). */
  fetchSql: string;
  /** Where a new channel starts: its last id now (0 when it has none), read on the command pool. */
  lastIds: (names: string[]) => Promise<Map<string, number>>;
  /** Rows fetched per channel per query. */
  readCount: number;
  /** A fetch without an answer after this long ends the connection (it is then re-opened). */
  commandTimeoutMs: number;
  /** With no notification for this long, fetch anyway: checks the connection and catches what a lost notification left. */
  idleCheckMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  safeUrl: string;
  logger: Logger;
  /** Told when the connection comes up (`reconnected`: not the first time) or goes down. */
  onState: (connected: boolean, reconnected: boolean) => void;
}

/** @internal */
export class NotifyReader {
  readonly #channels = new Map<string, ChannelState>();
  readonly #byDigest = new Map<string, ChannelState>();
  readonly #dirty = new Set<ChannelState>();
  readonly #settings: ReaderSettings;
  #client: pg.Client | undefined;
  #connected = false;
  #everConnected = false;
  #closed = false;
  #fetching = false;
  #fetchScheduled = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #wakeReconnect: (() => void) | undefined;
  readonly #loop: Promise<void>;
  /** Successful reconnects after the first connection. */
  reconnects = 0;
  /** Delivery time minus the database time of the newest event delivered (ms; undefined before the first). */
  lagMs: number | undefined;

  constructor(settings: ReaderSettings) {
    this.#settings = settings;
    this.#loop = this.#run();
  }

  /** True while the listening connection is up. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Start delivering `channel` to `deliver`; returns the function that stops it.
   * `startHint`: the channel's last id as a lookup in flight will report it (a
   * subscription to several channels asks for each one's head just before it
   * subscribes): the reader then starts no later than that.
   */
  subscribe(channel: string, deliver: Deliver, startHint?: Promise<number | undefined>): () => void {
    let state = this.#channels.get(channel);
    if (!state) {
      const digest = Buffer.byteLength(channel) > NOTIFY_NAME_BYTES ? createHash("md5").update(channel).digest("hex") : undefined;
      const created: ChannelState = { name: channel, digest, listeners: new Set(), position: undefined, started: Promise.resolve(), waiters: [] };
      state = created;
      this.#channels.set(channel, state);
      if (digest !== undefined) this.#byDigest.set(digest, state);
      created.started = this.#start(created, startHint);
    }
    state.listeners.add(deliver);
    const owner = state;
    return () => {
      owner.listeners.delete(deliver);
      if (owner.listeners.size === 0 && this.#channels.get(channel) === owner) this.#drop(owner);
    };
  }

  /**
   * Resolve once a channel subscribed here knows where it starts (at once for
   * others). A replay or lastId waits for it before it reads: its snapshot is
   * then no older than the starting point, so no event falls between the two.
   */
  started(channel: string): Promise<void> {
    return this.#channels.get(channel)?.started ?? Promise.resolve();
  }

  /**
   * Resolve once this instance's subscribers of `channel` have been handed every
   * event up to `id` (at once when they have, or when nobody here subscribes);
   * reject after `timeoutMs` (the reader is reconnecting or far behind).
   *
   * Why: the command pool can see events the reader has not delivered yet. A
   * subscription that replays up to such an event and then goes live would get
   * it a second time; waiting for the reader first makes it arrive while the
   * subscription still buffers, where it is dropped.
   */
  delivered(channel: string, id: number, timeoutMs: number): Promise<void> {
    const state = this.#channels.get(channel);
    if (!state || (state.position !== undefined && state.position >= id)) return Promise.resolve();
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
        reject(new Error(`the reader had not delivered ${JSON.stringify(channel.slice(0, 80))} up to ${id} after ${timeoutMs} ms (at ${state.position ?? "no position yet"})`));
      }, timeoutMs);
      state.waiters.push(waiter);
      // Do not wait for a notification: fetch now.
      this.#markDirty(state);
    });
  }

  /** Stop reading and close the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const state of [...this.#channels.values()]) this.#drop(state);
    clearTimeout(this.#idleTimer);
    this.#wakeReconnect?.();
    const client = this.#client;
    if (client) await client.end().catch(() => {});
    await this.#loop;
  }

  #drop(state: ChannelState): void {
    this.#channels.delete(state.name);
    if (state.digest !== undefined) this.#byDigest.delete(state.digest);
    this.#dirty.delete(state);
    for (const waiter of state.waiters.splice(0)) waiter.done();
  }

  /** True when `channel` has subscribers here. */
  reads(channel: string): boolean {
    return this.#channels.has(channel);
  }

  /** Find where a new channel starts (its last id now, or the hint if older), retrying while the database is away. */
  async #start(state: ChannelState, startHint: Promise<number | undefined> | undefined): Promise<void> {
    const hint = await startHint?.catch(() => undefined);
    for (let attempt = 1; !this.#closed && this.#channels.get(state.name) === state; attempt++) {
      try {
        const now = (await this.#settings.lastIds([state.name])).get(state.name) ?? 0;
        const last = hint === undefined ? now : Math.min(now, hint);
        if (this.#channels.get(state.name) !== state || state.position !== undefined) return;
        state.position = last;
        this.#settle(state);
        // Anything committed after that read and before LISTEN took effect is fetched now.
        this.#markDirty(state);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, backoff(attempt, this.#settings.backoffMinMs, this.#settings.backoffMaxMs)));
      }
    }
  }

  #markDirty(state: ChannelState): void {
    if (state.position === undefined || this.#channels.get(state.name) !== state) return;
    this.#dirty.add(state);
    this.#scheduleFetch();
  }

  /** One fetch for a burst of notifications: they arrive many per socket read. */
  #scheduleFetch(): void {
    if (this.#fetchScheduled || this.#fetching || !this.#connected) return;
    this.#fetchScheduled = true;
    setImmediate(() => {
      this.#fetchScheduled = false;
      void this.#fetchAll();
    });
  }

  async #fetchAll(): Promise<void> {
    if (this.#fetching) return;
    this.#fetching = true;
    try {
      while (this.#dirty.size > 0 && this.#connected && !this.#closed) {
        const client = this.#client!;
        const batch = [...this.#dirty].slice(0, 200);
        for (const state of batch) this.#dirty.delete(state);
        let rows: FetchRow[];
        try {
          const result = await client.query<FetchRow>({
            text: this.#settings.fetchSql,
            values: [batch.map((state) => state.name), batch.map((state) => state.position!), this.#settings.readCount],
            query_timeout: this.#settings.commandTimeoutMs,
          } as pg.QueryConfig);
          rows = result.rows;
        } catch (err) {
          // Back in the set: the next connection fetches them first.
          for (const state of batch) if (this.#channels.get(state.name) === state) this.#dirty.add(state);
          if (!this.#closed) {
            this.#settings.logger.warn(`@cellojs/postgres: a fetch on the listening connection to ${this.#settings.safeUrl} failed (${describe(err)}); reconnecting`);
            // A statement that got no answer: the socket may be dead without knowing it.
            this.#disconnect(client);
          }
          return;
        }
        this.#dispatch(batch, rows);
      }
    } finally {
      this.#fetching = false;
      this.#armIdleCheck();
    }
    if (this.#dirty.size > 0) this.#scheduleFetch();
  }

  #dispatch(batch: ChannelState[], rows: FetchRow[]): void {
    const byName = new Map<string, FetchRow[]>();
    for (const row of rows) {
      let list = byName.get(row.name);
      if (!list) byName.set(row.name, (list = []));
      list.push(row);
    }
    for (const state of batch) {
      // Dropped (last subscriber left) while the fetch was in flight.
      if (this.#channels.get(state.name) !== state) continue;
      const list = byName.get(state.name) ?? [];
      let delivered = 0;
      for (const row of list) {
        if (row.seq === null) continue;
        delivered++;
        const seq = Number(row.seq);
        if (seq <= state.position!) continue;
        state.position = seq;
        this.lagMs = Math.max(0, Date.now() - Number(row.at_ms));
        const message = toMessage(row.seq, row.event, row.data!, row.audience);
        for (const deliver of [...state.listeners]) {
          try {
            deliver(message);
          } catch (err) {
            this.#settings.logger.error(`@cellojs/postgres: a subscriber of ${state.name} threw`, err);
          }
        }
      }
      if (delivered >= this.#settings.readCount) {
        // A full page: there may be more.
        this.#dirty.add(state);
        continue;
      }
      // Read to the end: every id up to the channel's last was delivered or trimmed before it could be.
      const last = list[0]?.last === null || list[0] === undefined ? 0 : Number(list[0].last);
      if (last > state.position!) state.position = last;
      this.#settle(state);
    }
  }

  /** Release the waiters whose id the channel's position has reached. */
  #settle(state: ChannelState): void {
    if (state.waiters.length === 0 || state.position === undefined) return;
    const position = state.position;
    const reached = state.waiters.filter((waiter) => position >= waiter.id);
    if (reached.length === 0) return;
    state.waiters = state.waiters.filter((waiter) => !reached.includes(waiter));
    for (const waiter of reached) waiter.done();
  }

  #onNotification(payload: string | undefined): void {
    if (payload === undefined) return;
    const match = /^(\d+)([:#])/.exec(payload);
    if (!match) return;
    const key = payload.slice(match[0].length);
    const state = match[2] === ":" ? this.#channels.get(key) : this.#byDigest.get(key);
    if (!state || state.position === undefined || Number(match[1]) <= state.position) return;
    this.#markDirty(state);
  }

  /** With channels to read and nothing heard for a while, fetch them all: a cheap liveness check that also catches up. */
  #armIdleCheck(): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed) return;
    this.#idleTimer = setTimeout(() => {
      for (const state of this.#channels.values()) this.#markDirty(state);
      if (this.#channels.size === 0) this.#armIdleCheck();
    }, this.#settings.idleCheckMs);
    this.#idleTimer.unref();
  }

  #disconnect(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#connected = false;
    this.#settings.onState(false, false);
    // end() waits for the server; a dead socket is destroyed instead.
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    stream?.destroy();
    void client.end().catch(() => {});
  }

  /** Connect, LISTEN, catch up; when the connection ends, do it again with backoff. */
  async #run(): Promise<void> {
    let attempt = 0;
    let down = false;
    while (!this.#closed) {
      const client = new pg.Client(this.#settings.client);
      const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
      client.on("error", () => {
        // Reported through 'end' and the failed statement; without a listener it would end the process.
      });
      try {
        await client.connect();
        await client.query(`LISTEN "${this.#settings.notifyChannel}"`);
      } catch (err) {
        void client.end().catch(() => {});
        if (this.#closed) break;
        if (!down) {
          down = true;
          this.#settings.logger.warn(`@cellojs/postgres: the listening connection to ${this.#settings.safeUrl} failed (${describe(err)}); reconnecting with backoff`);
        }
        await this.#sleep(backoff(++attempt, this.#settings.backoffMinMs, this.#settings.backoffMaxMs));
        continue;
      }
      if (this.#closed) {
        await client.end().catch(() => {});
        break;
      }
      attempt = 0;
      this.#client = client;
      this.#connected = true;
      const reconnected = this.#everConnected;
      if (reconnected) this.reconnects++;
      this.#everConnected = true;
      if (down) this.#settings.logger.info(`@cellojs/postgres: the listening connection to ${this.#settings.safeUrl} is back`);
      down = false;
      this.#settings.onState(true, reconnected);
      client.on("notification", (message) => {
        if (message.channel === this.#settings.notifyChannel) this.#onNotification(message.payload);
      });
      // Whatever was committed while nobody listened: one fetch per channel.
      for (const state of this.#channels.values()) this.#markDirty(state);
      this.#armIdleCheck();
      await ended;
      if (this.#client === client) {
        this.#client = undefined;
        if (this.#connected) {
          this.#connected = false;
          this.#settings.onState(false, false);
        }
      }
      if (this.#closed) break;
      down = true;
      this.#settings.logger.warn(`@cellojs/postgres: the listening connection to ${this.#settings.safeUrl} closed; reconnecting with backoff`);
      await this.#sleep(backoff(1, this.#settings.backoffMinMs, this.#settings.backoffMaxMs));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakeReconnect = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakeReconnect = done;
    });
  }
}

interface FetchRow {
  name: string;
  last: string | null;
  seq: string | null;
  event: string | null;
  data: Buffer | null;
  audience: string | null;
  at_ms: string | null;
}
