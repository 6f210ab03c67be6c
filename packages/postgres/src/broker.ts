/**
 * A ChannelBroker on PostgreSQL: the history in a table, numbered per channel
 * in commit order, fanned out to every instance by LISTEN/NOTIFY, and
 * publishable inside the caller's own transaction.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import {
  CelloError,
  CHANNEL_HISTORY_DEFAULTS,
  consoleLogger,
  DIAGNOSTICS_CHANNELS,
  formatSseFrame,
  type BrokerStatus,
  type Channel,
  type ChannelBroker,
  type ChannelHistoryOptions,
  type ChannelMessage,
  type Logger,
  type PublishedMessage,
  type PublishOptions,
  type RateLimitStore,
  type ReplayOptions,
  type ReplayResult,
} from "@cellojs/core";
import pg from "pg";
import { BrokerUnavailableError, isConnectionError, redactUrl, toBrokerError } from "./errors.js";
import { compareIds, parseId, toMessage } from "./ids.js";
import { postgresRateLimitStore } from "./rate-limit.js";
import { NotifyReader } from "./reader.js";
import { statements, tableNames, TRIM_EVERY, type Statements, type TableNames } from "./sql.js";

const brokerState = diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.brokerState);

/** Options of {@link postgresBroker}. */
export interface PostgresBrokerOptions {
  /** Where PostgreSQL is. Default: `DATABASE_URL`, else `postgres://127.0.0.1:5432/postgres`. */
  url?: string;
  /** The schema of the broker's tables (created if missing). Default `"public"`. */
  schema?: string;
  /**
   * Prefix of the table names: `<prefix>channels`, `<prefix>events`, `<prefix>rate_limits`.
   * Letters, digits and `_`. Default `"cello_"`. Apps (or test runs) with different
   * prefixes share a database without seeing each other's channels.
   */
  tablePrefix?: string;
  /**
   * Create the schema and tables on first use (`CREATE ... IF NOT EXISTS`, under an
   * advisory lock, so instances starting together do not race). Default true. With
   * false, run {@link PostgresBroker.schemaSql} in your own migrations.
   */
  createTables?: boolean;
  /** Connections of the command pool (publishes, replays). Default 5. The reader holds one more. */
  poolSize?: number;
  /**
   * The `application_name` of the connections, as `pg_stat_activity` shows it:
   * `<name>-pool-<pid>` and `<name>-listener-<pid>`. Default `"cello"`.
   */
  applicationName?: string;
  /** Events fetched per channel per query by the reader. Default 500. */
  readCount?: number;
  /** A statement without an answer after this long fails (ms); also how long a call waits for a connection. Default 2000. */
  commandTimeoutMs?: number;
  /**
   * With no notification for this long (ms), the reader fetches its channels anyway: a
   * liveness check of its connection. Default 5000.
   */
  idleCheckMs?: number;
  /** How the listening connection reconnects: first delay and cap (ms) of an exponential backoff, with jitter. Default `{ minMs: 50, maxMs: 2000 }`. */
  reconnectBackoff?: { minMs?: number; maxMs?: number };
  /** Where outages and their end are reported. Default: the console. */
  logger?: Logger;
  /**
   * Extra node-postgres options for both the pool and the listening connection (TLS,
   * user, password...). `connectionString`, `application_name` and the timeouts are set
   * from this broker's options and win.
   */
  pg?: pg.ClientConfig;
}

/**
 * Anything that runs a parameterised statement the way node-postgres does: a
 * `pg.Client`, a `pg.PoolClient` inside `BEGIN ... COMMIT`, or an adapter of yours.
 */
export interface SqlClient {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/** The broker returned by {@link postgresBroker}: a ChannelBroker plus transactional publish and what operations need. */
export interface PostgresBroker extends ChannelBroker {
  /** The database URL, password masked. */
  readonly url: string;
  /** The tables, schema-qualified and quoted, e.g. `"public"."cello_events"`, and the NOTIFY channel. */
  readonly tables: { channels: string; events: string; rateLimits: string; notifyChannel: string };
  /** The `application_name` of the pool's connections and of the listening one. */
  readonly applicationNames: { pool: string; listener: string };
  /**
   * Publish inside the caller's transaction, on the caller's connection: the event is
   * stored and delivered when that transaction commits, and never if it rolls back.
   * `data` and `options` mean what they mean to `channel.publish()` (a string as is,
   * anything else as JSON; `event`; `to`), checked the same way before anything is sent.
   *
   * The channel's row stays locked until the transaction ends, so other publishes to
   * the same channel wait for it: keep such transactions short. Ids follow commit order.
   *
   * @param client - A connection inside `BEGIN` (on the same database as the broker). Without a transaction, the publish commits at once.
   * @param channel - A channel of the app, or its name.
   * @returns The id the event gets if the transaction commits.
   * @example
   * const tx = await pool.connect();
   * try {
   *   await tx.query("BEGIN");
   *   await tx.query("INSERT INTO orders (id, total) VALUES ($1, $2)", [7, 120]);
   *   await broker.publishIn(tx, orders, { order: 7, status: "created" }, { event: "order" });
   *   await tx.query("COMMIT"); // subscribers get the event now, not before
   * } catch (err) {
   *   await tx.query("ROLLBACK"); // and never, if the order was not stored
   *   throw err;
   * } finally {
   *   tx.release();
   * }
   */
  publishIn(client: SqlClient, channel: Channel | string, data: unknown, options?: PublishOptions): Promise<string>;
  /** Delete a channel's history, for every instance (`channel.delete()` calls it). Ids are never reused. */
  delete(channel: string): Promise<void>;
  /**
   * Resolve once the tables exist and the listening connection is up; reject with a
   * CELLO_BROKER_UNAVAILABLE error after `timeoutMs` (default 5000). Useful at
   * startup: `app.onEvent("startup", () => broker.ready())`.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** The DDL this broker runs when `createTables` is on, for your own migrations. */
  schemaSql(): string;
  /** Connected (listening connection up, command pool answering), reconnects so far, and the reader's lag (ms). */
  status(): BrokerStatus;
}

/**
 * A channel broker on PostgreSQL, for running several instances of an app on the
 * database a team already runs: a publish on any instance reaches the subscribers
 * of every instance, a client resumes on any instance with its `Last-Event-ID`,
 * and {@link PostgresBroker.publishIn} publishes inside your own transaction.
 *
 * Each event is a row of `<prefix>events`, numbered per channel (1, 2, 3...) under the
 * channel's row lock, so ids follow commit order with no gap; the history is trimmed
 * to `history` rows and, with `ttlMs`, by age. Each publish sends a NOTIFY carrying
 * only the channel and the id; each instance keeps one listening connection that
 * fetches the new rows, plus a small pool for publishes and replays.
 *
 * @param options - See {@link PostgresBrokerOptions}: `url` (DATABASE_URL or postgres://127.0.0.1:5432/postgres),
 *   `schema` ("public"), `tablePrefix` ("cello_"), `createTables` (true), `poolSize` (5),
 *   `applicationName` ("cello"), `readCount` (500), `commandTimeoutMs` (2000), `idleCheckMs` (5000),
 *   `reconnectBackoff` ({ minMs: 50, maxMs: 2000 }), `logger` (console), `pg`.
 * @returns A {@link PostgresBroker}; pass it to `new App({ broker })`. `app.close()` closes it.
 * @example
 * import { App } from "@cellojs/core";
 * import { postgresBroker } from "@cellojs/postgres";
 *
 * const broker = postgresBroker({ url: process.env.DATABASE_URL });
 * const app = new App({ broker });
 * app.onEvent("startup", () => broker.ready());
 * const stocks = app.channel("stocks", { history: 1000 });
 * app.get("/stocks", (req) => stocks.subscribe(req));
 * await app.run();
 */
export function postgresBroker(options: PostgresBrokerOptions = {}): PostgresBroker {
  return new PostgresChannelBroker(options);
}

class PostgresChannelBroker implements PostgresBroker {
  readonly url: string;
  readonly tables: PostgresBroker["tables"];
  readonly applicationNames: { pool: string; listener: string };
  readonly #names: TableNames;
  readonly #sql: Statements;
  readonly #pool: pg.Pool;
  readonly #reader: NotifyReader;
  readonly #config = new Map<string, ChannelHistoryOptions>();
  /** lastId() lookups in flight for channels not read here yet: where a subscription made meanwhile starts. */
  readonly #pendingHeads = new Map<string, Promise<number | undefined>>();
  /** Publishes waiting per channel, and whether a statement of theirs is in flight (see publish). */
  readonly #queues = new Map<string, PublishQueue>();
  readonly #commandTimeoutMs: number;
  readonly #createTables: boolean;
  readonly #logger: Logger;
  #schema: Promise<void> | undefined;
  /** The last command failed for want of a connection (cleared by the next that succeeds). */
  #poolDown = false;
  #closing: Promise<void> | undefined;

  constructor(options: PostgresBrokerOptions) {
    const url = options.url ?? process.env.DATABASE_URL ?? "postgres://127.0.0.1:5432/postgres";
    this.url = redactUrl(url);
    // Validated before any connection opens, so a bad option leaks nothing.
    this.#names = tableNames(options.schema ?? "public", options.tablePrefix ?? "cello_");
    this.#sql = statements(this.#names);
    this.tables = { channels: this.#names.channels, events: this.#names.events, rateLimits: this.#names.rateLimits, notifyChannel: this.#names.notifyChannel };
    this.#commandTimeoutMs = positive("commandTimeoutMs", options.commandTimeoutMs, 2000, "milliseconds");
    const poolSize = positive("poolSize", options.poolSize, 5, "connections", true);
    const readCount = positive("readCount", options.readCount, 500, "events", true);
    const idleCheckMs = positive("idleCheckMs", options.idleCheckMs, 5000, "milliseconds");
    const backoffMinMs = positive("reconnectBackoff.minMs", options.reconnectBackoff?.minMs, 50, "milliseconds");
    const backoffMaxMs = positive("reconnectBackoff.maxMs", options.reconnectBackoff?.maxMs, 2000, "milliseconds");
    this.#createTables = options.createTables ?? true;
    this.#logger = options.logger ?? consoleLogger;
    const name = options.applicationName ?? "cello";
    this.applicationNames = { pool: `${name}-pool-${process.pid}`, listener: `${name}-listener-${process.pid}` };
    const base: pg.ClientConfig = { ...options.pg, connectionString: url, keepAlive: true, connectionTimeoutMillis: this.#commandTimeoutMs };
    this.#pool = new pg.Pool({ ...base, application_name: this.applicationNames.pool, max: poolSize, idleTimeoutMillis: 10_000 });
    // An idle connection the server ended (restart, pg_terminate_backend): the pool drops it; the next command opens another.
    this.#pool.on("error", () => {});
    this.#reader = new NotifyReader({
      client: { ...base, application_name: this.applicationNames.listener },
      notifyChannel: this.#names.notifyChannel,
      fetchSql: this.#sql.fetch,
      lastIds: async (names) => {
        const { rows } = await this.#command<{ name: string; last: string }>("lastIds", this.#sql.lastIds, [names], "the start of a subscription");
        return new Map(rows.map((row) => [row.name, Number(row.last)]));
      },
      readCount,
      commandTimeoutMs: this.#commandTimeoutMs,
      idleCheckMs,
      backoffMinMs,
      backoffMaxMs,
      safeUrl: this.url,
      logger: this.#logger,
      onState: (_connected, reconnected) => this.#reportState(reconnected),
    });
  }

  configure(channel: string, options: ChannelHistoryOptions): void {
    // Only settings that differ from the defaults are kept: channels made for names
    // from requests (always the defaults) then cost nothing here.
    if (options.history === CHANNEL_HISTORY_DEFAULTS.history && options.ttlMs === CHANNEL_HISTORY_DEFAULTS.ttlMs) this.#config.delete(channel);
    else this.#config.set(channel, { ...options });
  }

  async publish(channel: string, message: PublishedMessage): Promise<string> {
    checkName(channel);
    checkEvent(message);
    // After the reader knows where a channel subscribed here starts: a publish made after
    // subscribe() then always comes after that point, and reaches the new subscriber.
    await this.#started(channel);
    // Queued per channel, in call order: the ids of this instance's publishes follow the
    // order they were made in (as with the in-memory broker). What queues up while a
    // statement is in flight goes in the next one, together: one round trip, one row
    // lock and one NOTIFY for a whole burst.
    return new Promise<string>((resolve, reject) => {
      let queue = this.#queues.get(channel);
      if (!queue) this.#queues.set(channel, (queue = { waiting: [], sending: false }));
      queue.waiting.push({ message, resolve, reject });
      if (queue.sending) return;
      queue.sending = true;
      // Sent once this turn of the event loop is over: the events a tick publishes together share one statement.
      setImmediate(() => void this.#flush(channel, queue));
    });
  }

  async #flush(channel: string, queue: PublishQueue): Promise<void> {
    while (queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, MAX_BATCH);
      try {
        // Inside the try: whatever goes wrong with one batch is its publishes' error, and the
        // queue goes on (a throw here once left `sending` set and every later publish waiting).
        const { name, text, values } = this.#publishStatement(channel, batch.map((entry) => entry.message));
        const { rows } = await this.#command<{ last: string }>(name, text, values, batch.length === 1 ? `the publish to ${describeName(channel)}` : `a batch of ${batch.length} publishes to ${describeName(channel)}`);
        const last = Number(rows[0]!.last);
        const first = last - batch.length + 1;
        batch.forEach((entry, index) => entry.resolve(String(first + index)));
        // The statement trimmed what was there before it, not its own rows: a burst that
        // passed a trim point and reaches past `history` is trimmed now.
        const { history } = this.#config.get(channel) ?? CHANNEL_HISTORY_DEFAULTS;
        if (batch.length > 1 && Math.floor(last / TRIM_EVERY) !== Math.floor((first - 1) / TRIM_EVERY) && first <= last - Math.max(1, history)) {
          await this.#command("trim", this.#sql.trim, [channel, last - Math.max(1, history)], `trimming ${describeName(channel)}`).catch(() => {});
        }
      } catch (err) {
        for (const entry of batch) entry.reject(err);
      }
    }
    queue.sending = false;
    if (this.#queues.get(channel) === queue) this.#queues.delete(channel);
  }

  async publishIn(client: SqlClient, channel: Channel | string, data: unknown, options: PublishOptions = {}): Promise<string> {
    const name = typeof channel === "string" ? channel : channel?.name;
    if (typeof name !== "string") throw new CelloError("CELLO_INVALID_OPTION", "publishIn(): channel must be a Channel or a channel name");
    if (client === null || typeof client !== "object" || typeof (client as SqlClient).query !== "function") {
      throw new CelloError("CELLO_INVALID_OPTION", "publishIn(): client must be a connection with query(text, values), e.g. a pg.PoolClient inside BEGIN");
    }
    checkName(name);
    const message = publishedMessage(data, options);
    checkEvent(message);
    await this.#ensureSchema();
    await this.#started(name);
    const { text, values } = this.#publishStatement(name, [message]);
    // The caller's connection and transaction: its errors are the caller's, unchanged.
    const { rows } = await client.query(text, values);
    return (rows[0] as { last: string }).last;
  }

  #publishStatement(channel: string, messages: PublishedMessage[]): { name: string; text: string; values: unknown[] } {
    const { history, ttlMs } = this.#config.get(channel) ?? CHANNEL_HISTORY_DEFAULTS;
    const values: unknown[] = [
      channel,
      messages.map((message) => message.event ?? null),
      // The data as UTF-8 bytes (bytea): any string round-trips, NUL included.
      messages.map((message) => Buffer.from(message.data, "utf8")),
      messages.map((message) => (message.to === undefined ? null : JSON.stringify(message.to))),
      messages.length,
      // At least 1 kept: a row trimmed by its own publish would never reach the other instances.
      Math.max(1, history),
      this.#names.notifyChannel,
    ];
    if (ttlMs > 0) return { name: "publishWithTtl", text: this.#sql.publishWithTtl, values: [...values, ttlMs] };
    return { name: "publish", text: this.#sql.publish, values };
  }

  async replay(channel: string, afterId: string, options: ReplayOptions = {}): Promise<ReplayResult> {
    checkName(channel);
    await this.#started(channel);
    const { ttlMs } = this.#config.get(channel) ?? CHANNEL_HISTORY_DEFAULTS;
    const what = `the replay of ${describeName(channel)}`;
    if (ttlMs > 0) await this.#command("expire", this.#sql.expire, [channel, ttlMs], what);
    const after = afterId === "" ? null : parseId(afterId);
    const limit = options.limit === undefined ? null : Math.max(0, Math.floor(options.limit));
    const rows =
      afterId !== "" && after === undefined
        ? (await this.#command<ReplayRow>("channel", this.#sql.channel, [channel], what)).rows
        : (await this.#command<ReplayRow>("replay", this.#sql.replay, [channel, after, limit], what)).rows;
    const head = rows.find((row) => row.kind === 0);
    const earliest = head?.earliest == null ? undefined : Number(head.earliest);
    const earliestId = earliest === undefined ? undefined : String(earliest);
    const reset: ReplayResult = earliestId === undefined ? { events: [], reset: true } : { events: [], reset: true, earliestId };
    if (after === undefined) return reset;
    const last = head ? Number(head.seq) : 0;
    const start = head ? Number(head.start) : 0;
    const from = after ?? start;
    // From the future: not issued for this channel (another database, or one restored from a backup).
    if (from > last) return reset;
    // Ids are consecutive and only the oldest go: the event after `from` is held unless `from` is older than the earliest.
    if (earliest !== undefined ? from < earliest - 1 : from < last) return reset;
    const events = rows
      .filter((row) => row.kind === 1)
      .sort((a, b) => Number(a.seq) - Number(b.seq))
      .map((row) => toMessage(row.seq, row.event, row.data!, row.audience));
    // Up to the channel's head, not only the page's end: the caller trusts that nothing at or
    // before `afterId` arrives live afterwards, even when this instance's reader lags the
    // instance the client came from.
    if (last > 0) await this.#caughtUp(channel, last);
    return earliestId === undefined ? { events, reset: false } : { events, reset: false, earliestId };
  }

  async lastId(channel: string): Promise<string | undefined> {
    checkName(channel);
    // A subscription to several channels asks for each head, then subscribes at once:
    // the reader must start no later than the head this reports (see NotifyReader.subscribe).
    let reportHead: ((last: number | undefined) => void) | undefined;
    if (!this.#reader.reads(channel)) {
      const head = new Promise<number | undefined>((resolve) => (reportHead = resolve));
      this.#pendingHeads.set(channel, head);
      void head.then(() => {
        if (this.#pendingHeads.get(channel) === head) this.#pendingHeads.delete(channel);
      });
    } else await this.#started(channel);
    let rows: ReplayRow[];
    try {
      ({ rows } = await this.#command<ReplayRow>("channel", this.#sql.channel, [channel], `the lastId of ${describeName(channel)}`));
    } finally {
      reportHead?.(rows! === undefined ? undefined : Number(rows[0]?.seq ?? 0));
    }
    const head = rows[0];
    if (!head || Number(head.seq) <= Number(head.start)) return undefined;
    await this.#caughtUp(channel, Number(head.seq));
    return head.seq;
  }

  subscribe(channel: string, deliver: (message: ChannelMessage) => void): () => void {
    // A name PostgreSQL cannot store has no events: nothing to deliver.
    if (!storableName(channel)) return () => {};
    return this.#reader.subscribe(channel, deliver, this.#pendingHeads.get(channel));
  }

  compareIds(a: string, b: string): number {
    return compareIds(a, b);
  }

  /** Delete the channel's events, for every instance, and its settings here. Its next id follows the ones it had, plus one. */
  async delete(channel: string): Promise<void> {
    checkName(channel);
    this.#config.delete(channel);
    const what = `the delete of ${describeName(channel)}`;
    await this.#ensureSchema();
    await this.#withClient(what, async (client) => {
      // One transaction: a replay sees the channel either whole or empty with its start moved.
      await client.query("BEGIN");
      try {
        await client.query(this.#sql.deleteChannel, [channel]);
        await client.query(this.#sql.deleteEvents, [channel]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    });
  }

  rateLimitStore(): RateLimitStore {
    // The broker's pool and table; created with the others.
    void this.#ensureSchema().catch(() => {});
    return postgresRateLimitStore({ pool: this.#pool, schema: this.#names.plain.schema, table: this.#names.plain.rateLimits, tableCreated: true });
  }

  schemaSql(): string {
    return this.#sql.ddl;
  }

  status(): BrokerStatus {
    return { connected: !this.#closing && this.#reader.connected && !this.#poolDown, reconnects: this.#reader.reconnects, readerLagMs: this.#reader.lagMs };
  }

  async ready(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let reason = "";
    while (true) {
      if (this.#closing) throw new BrokerUnavailableError(`the broker for ${this.url} is closed`, false, undefined);
      try {
        await this.#ensureSchema();
        if (this.#reader.connected) return;
        reason = "the listening connection is not up";
      } catch (err) {
        reason = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() >= deadline) throw new BrokerUnavailableError(`PostgreSQL at ${this.url} is not ready after ${timeoutMs} ms (${reason})`, false, undefined);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#reader.close();
    await this.#pool.end().catch(() => {});
  }

  /** Wait until the reader knows where `channel` starts, if it reads it (see NotifyReader.started). */
  async #started(channel: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BrokerUnavailableError(`PostgreSQL at ${this.url} did not answer within ${this.#commandTimeoutMs} ms; the subscription to ${describeName(channel)} has no starting point yet`, false, undefined)), this.#commandTimeoutMs);
    });
    try {
      await Promise.race([this.#reader.started(channel), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Wait until the reader has handed `id` (and all before it) to this instance's
   * subscribers of `channel`: a subscription replays, then goes live, dropping only
   * the live events that arrived while it replayed, so an event it replayed must
   * not come from the reader after that.
   */
  async #caughtUp(channel: string, id: number): Promise<void> {
    try {
      await this.#reader.delivered(channel, id, 2 * this.#commandTimeoutMs);
    } catch (err) {
      throw new BrokerUnavailableError(`the listening connection to PostgreSQL at ${this.url} is behind or reconnecting (${(err as Error).message})`, false, err);
    }
  }

  /** Create the tables once (again after a failure), unless the app manages them. */
  #ensureSchema(): Promise<void> {
    if (!this.#createTables) return Promise.resolve();
    this.#schema ??= this.#createSchema().catch((err: unknown) => {
      this.#schema = undefined;
      throw err;
    });
    return this.#schema;
  }

  async #createSchema(): Promise<void> {
    const { plain } = this.#names;
    const quoted = [this.#names.channels, this.#names.events, this.#names.rateLimits];
    await this.#withClient("creating the tables", async (client) => {
      const { rows } = await client.query<{ ok: boolean }>(this.#sql.exists, quoted);
      if (rows[0]?.ok) return;
      await client.query("BEGIN");
      try {
        // Instances starting together: one creates, the others wait and find the tables there.
        await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`cello:${plain.schema}.${plain.channels}`]);
        await client.query(this.#sql.ddl);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    });
  }

  /** Run one statement on the pool (a named, prepared one), after the tables exist. */
  async #command<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[], what: string): Promise<pg.QueryResult<R>> {
    await this.#ensureSchema();
    return this.#withClient(what, (client) => client.query<R>({ name: `cello_${name}`, text, values }));
  }

  /**
   * Borrow a pool connection for `run`. Failing to get one means nothing was sent;
   * a connection lost while `run` was in flight means it may have applied.
   */
  async #withClient<T>(what: string, run: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.#closing) throw new BrokerUnavailableError(`the broker for ${this.url} is closed; ${what} was not sent`, false, undefined);
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      this.#markPool(false);
      throw toBrokerError(err, what, this.url, false);
    }
    // A checked-out client has no error listener of the pool's: a server that goes away
    // mid-statement would emit an unhandled 'error' and end the process. The statement
    // fails with it instead.
    client.on("error", ignore);
    let failure: unknown;
    try {
      const result = await withTimeout(run(client), this.#commandTimeoutMs);
      this.#markPool(true);
      return result;
    } catch (err) {
      failure = err;
      if (isConnectionError(err)) this.#markPool(false);
      throw toBrokerError(err, what, this.url, true);
    } finally {
      // A connection that failed (or timed out) is thrown away, not reused.
      client.off("error", ignore);
      client.release(failure !== undefined && isConnectionError(failure) ? (failure as Error) : undefined);
    }
  }

  #markPool(up: boolean): void {
    const down = !up;
    if (down === this.#poolDown) return;
    this.#poolDown = down;
    this.#reportState(false);
  }

  /** Tell `cello:broker.state` subscribers (diagnostics_channel) the connection state changed. */
  #reportState(reconnected: boolean): void {
    if (!brokerState.hasSubscribers) return;
    brokerState.publish({ broker: this, connected: this.status().connected, reconnected });
  }
}

function ignore(): void {}

/** Most events one publish statement carries. */
const MAX_BATCH = 500;

interface PublishQueue {
  waiting: Array<{ message: PublishedMessage; resolve: (id: string) => void; reject: (err: unknown) => void }>;
  sending: boolean;
}

/** PostgreSQL text cannot hold a NUL or a lone surrogate: refuse such an event type before anything is sent. */
function checkEvent(message: PublishedMessage): void {
  if (typeof message?.data !== "string") {
    throw new CelloError("CELLO_INVALID_OPTION", `a published message's data must be a string (the SSE data field), got ${message === null || typeof message !== "object" ? String(message) : typeof message.data}`);
  }
  if (message.event !== undefined && !storableText(message.event)) {
    throw new CelloError("CELLO_INVALID_SSE_FIELD", "the event type holds a NUL or a lone surrogate, which PostgreSQL text cannot store");
  }
}

interface ReplayRow {
  kind: number;
  seq: string;
  start: string | null;
  earliest: string | null;
  event: string | null;
  data: Buffer | null;
  audience: string | null;
}

/** Reject after `ms` with a timeout error (the statement keeps running; its connection is then discarded). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: "ETIMEDOUT" })), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** PostgreSQL text holds any well-formed string without NUL. */
function storableText(text: string): boolean {
  return !text.includes("\u0000") && !LONE_SURROGATE.test(text);
}

/** Longest channel name this broker stores, in UTF-8 bytes (an index entry holds about 2700). */
const MAX_NAME_BYTES = 2000;

function storableName(name: string): boolean {
  return typeof name === "string" && name.length > 0 && storableText(name) && Buffer.byteLength(name) <= MAX_NAME_BYTES;
}

/** Refuse a name PostgreSQL cannot store as it is (core already refuses such names from requests). */
function checkName(name: string): void {
  if (!storableName(name)) {
    throw new CelloError("CELLO_INVALID_CHANNEL_NAME", `the PostgreSQL broker stores channel names of 1 to ${MAX_NAME_BYTES} UTF-8 bytes, without NUL or lone surrogates; got ${describeName(String(name))}`);
  }
}

function describeName(name: string): string {
  return name.length > 80 ? `${JSON.stringify(name.slice(0, 80))}... (${name.length} characters)` : JSON.stringify(name);
}

/** What `channel.publish(data, options)` would hand its broker, checked the same way. */
function publishedMessage(data: unknown, options: PublishOptions): PublishedMessage {
  let text: string | undefined;
  if (typeof data === "string") text = data;
  else {
    try {
      text = JSON.stringify(data);
    } catch (err) {
      throw new CelloError("CELLO_INVALID_SSE_FIELD", `data has no JSON form (${(err as Error).message})`, { cause: err });
    }
    if (text === undefined) throw new CelloError("CELLO_INVALID_SSE_FIELD", `data must be a string or have a JSON form, got ${typeof data}`);
  }
  if (options.event !== undefined) formatSseFrame("", { event: options.event });
  const message: PublishedMessage = options.event === undefined ? { data: text } : { event: options.event, data: text };
  if (options.to !== undefined) {
    if (!Array.isArray(options.to) || !options.to.every((tag) => typeof tag === "string")) {
      throw new CelloError("CELLO_INVALID_OPTION", "publishIn(): `to` must be an array of audience tags (strings)");
    }
    message.to = Object.freeze([...options.to]);
  }
  return message;
}

/**
 * An option's value, `fallback` when not given; checked before any connection
 * opens: a CelloError `CELLO_INVALID_OPTION` naming the option, its unit and default otherwise.
 */
function positive(name: string, given: number | undefined, fallback: number, unit: string, integer = false): number {
  const value = given ?? fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    const got = typeof value === "string" ? JSON.stringify(value) : String(value);
    throw new CelloError("CELLO_INVALID_OPTION", `postgresBroker(): ${name} must be a positive ${integer ? "integer" : "number"} of ${unit} (default ${fallback}), got ${got}`);
  }
  return value;
}
