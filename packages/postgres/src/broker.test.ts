/**
 * The PostgreSQL broker against a real server, beyond the conformance suite:
 * its tables, its numbering, exact trimming, hostile names and payloads, bad
 * options, an unreachable server, status() and close().
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { createServer } from "node:net";
import { DIAGNOSTICS_CHANNELS, silentLogger, type ChannelMessage } from "@cellojs/core";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compareIds, postgresBroker, type PostgresBroker, type PostgresBrokerOptions } from "./index.js";
import { adminPool, connectionCount, DATABASE_URL, dropTables, skipWithoutPostgres, sleep, terminate, uniquePrefix, until } from "./postgres.test-support.js";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("compareIds and options (no server needed)", () => {
  it("orders ids as numbers, and an id that is not one of ours before every one that is", () => {
    expect(compareIds("9", "10")).toBeLessThan(0);
    expect(compareIds("100", "99")).toBeGreaterThan(0);
    expect(compareIds("7", "7")).toBe(0);
    expect(compareIds("x", "1")).toBeLessThan(0);
    expect(compareIds("1", "1-0")).toBeGreaterThan(0);
  });

  it.each<[string, PostgresBrokerOptions, RegExp]>([
    ["a schema that is not an identifier", { schema: 'public"; DROP SCHEMA x; --' }, /schema must be an identifier/],
    ["a table prefix with a quote", { tablePrefix: 'x"y' }, /tablePrefix must be letters, digits and _/],
    ["a table prefix too long for PostgreSQL names", { tablePrefix: "p".repeat(41) }, /at most 40/],
    ["a pool of 0", { poolSize: 0 }, /poolSize must be a positive integer of connections \(default 5\), got 0/],
    ["a NaN timeout", { commandTimeoutMs: Number.NaN }, /commandTimeoutMs must be a positive number/],
    ["a string read count", { readCount: "10" as unknown as number }, /readCount must be a positive integer of events \(default 500\), got "10"/],
  ])("refuses %s with CELLO_INVALID_OPTION before opening any connection", (_label, options, message) => {
    let error: unknown;
    try {
      postgresBroker({ url: "postgres://127.0.0.1:1/none", ...options });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: "CELLO_INVALID_OPTION" });
    expect((error as Error).message).toMatch(message);
  });
});

describe.skipIf(skipWithoutPostgres)("postgresBroker against a real PostgreSQL", () => {
  const tablePrefix = uniquePrefix("broker");
  let admin: pg.Pool;
  const opened: PostgresBroker[] = [];
  const broker = (options: PostgresBrokerOptions = {}): PostgresBroker => {
    const made = postgresBroker({ url: DATABASE_URL, tablePrefix, poolSize: 2, logger: silentLogger, ...options });
    opened.push(made);
    return made;
  };

  beforeAll(() => {
    admin = adminPool();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((made) => made.close()));
  });
  afterAll(async () => {
    await dropTables(admin, tablePrefix);
    await dropTables(admin, `${tablePrefix}s_`, `${tablePrefix}schema`);
    await admin.query(`DROP SCHEMA IF EXISTS "${tablePrefix}schema" CASCADE`);
    await admin.end();
  });

  it("creates its tables once, under its prefix and schema, even when instances start together; createTables: false uses them as they are", async () => {
    const schema = `${tablePrefix}schema`;
    const starting = [broker({ schema, tablePrefix: `${tablePrefix}s_` }), broker({ schema, tablePrefix: `${tablePrefix}s_` }), broker({ schema, tablePrefix: `${tablePrefix}s_` })];
    await Promise.all(starting.map((made) => made.ready()));
    const { rows } = await admin.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [schema]);
    expect(rows.map((row) => row.table_name)).toEqual([`${tablePrefix}s_channels`, `${tablePrefix}s_events`, `${tablePrefix}s_rate_limits`]);
    expect(starting[0]!.tables).toMatchObject({ events: `"${schema}"."${tablePrefix}s_events"`, notifyChannel: `${schema}.${tablePrefix}s_notify` });
    const managed = broker({ schema, tablePrefix: `${tablePrefix}s_`, createTables: false });
    expect(managed.schemaSql()).toContain(`CREATE TABLE IF NOT EXISTS "${schema}"."${tablePrefix}s_events"`);
    const id = await managed.publish("ready-made", { data: "x" });
    expect((await starting[1]!.replay("ready-made", "")).events).toEqual([{ id, data: "x" }]);
    // Without the tables and without createTables, the error is PostgreSQL's, naming the table.
    const missing = broker({ tablePrefix: `${tablePrefix}none_`, createTables: false });
    await expect(missing.publish("c", { data: "x" })).rejects.toThrow(/relation "public\.t_broker_\w+none_channels" does not exist/);
  });

  it("numbers each channel 1, 2, 3... and pages in numeric order past 9 and 99 (not as text)", async () => {
    const b = broker();
    const ids: string[] = [];
    for (let i = 1; i <= 120; i++) ids.push(await b.publish("numbered", { data: `e${i}` }));
    expect(ids.slice(0, 3)).toEqual(["1", "2", "3"]);
    expect(ids.at(-1)).toBe("120");
    const page = await b.replay("numbered", "49", { limit: 10 });
    expect(page.events.map((e) => e.id)).toEqual(["50", "51", "52", "53", "54", "55", "56", "57", "58", "59"]);
    expect((await b.replay("numbered", "95")).events.map((e) => e.id)).toEqual(Array.from({ length: 25 }, (_, i) => String(96 + i)));
    // Ids that cannot be ours: a reset, never an error.
    for (const odd of ["-1", "1.5", "0x10", "99999999999999999999", " 1"]) expect((await b.replay("numbered", odd)).reset).toBe(true);
  });

  it("trims to `history` rows each time the ids pass a multiple of 100, a burst included; a deleted channel never reuses an id", async () => {
    const b = broker();
    b.configure("bounded", { history: 3, ttlMs: 0 });
    const held = async () => (await admin.query<{ seq: string }>(`SELECT seq FROM "${tablePrefix}events" WHERE channel = 'bounded' ORDER BY seq`)).rows.map((row) => Number(row.seq));
    for (let i = 1; i <= 99; i++) await b.publish("bounded", { data: String(i) });
    expect(await held()).toHaveLength(99);
    await b.publish("bounded", { data: "100" });
    expect(await held()).toEqual([98, 99, 100]);
    // Published together, in one statement: the ids pass 200 inside the burst.
    await Promise.all(Array.from({ length: 150 }, (_, i) => b.publish("bounded", { data: `burst ${i}` })));
    // Trimmed just after the burst's ids were handed out.
    await until(async () => (await held()).length === 3, "the trim after the burst");
    expect(await held()).toEqual([248, 249, 250]);
    expect((await b.replay("bounded", "")).earliestId).toBe("248");
    await b.delete("bounded");
    expect(await held()).toEqual([]);
    expect(await b.publish("bounded", { data: "again" })).toBe("252");
    expect(await b.replay("bounded", "250")).toMatchObject({ events: [], reset: true, earliestId: "252" });
    expect(await b.replay("bounded", "251")).toMatchObject({ events: [{ id: "252", data: "again" }], reset: false });
  });

  it("stores hostile names and payloads as they are (parameters only): SQL in names and data, NUL, quotes, emoji, 5 MB", async () => {
    const b = broker();
    const other = broker();
    const names = ["'; DROP TABLE cello_events; --", 'a"b\\c', "room:\u00e9t\u00e9 \ud83c\udf89", "$1", "%_*", "x".repeat(1500)];
    const payloads = ["'); DELETE FROM pg_class; --", "nul\u0000inside", "\r\n\t", "\ud83c\udf89".repeat(1000), "z".repeat(5 * 1024 * 1024)];
    const live = new Map<string, ChannelMessage[]>(names.map((name) => [name, []]));
    for (const name of names) other.subscribe(name, (message) => live.get(name)!.push(message));
    await other.ready();
    await sleep(200);
    for (const name of names) for (const data of payloads) await b.publish(name, { data, event: "odd 'event'", to: ["user:'1'", "\u0000"] });
    await until(() => [...live.values()].every((list) => list.length === payloads.length), "every event on the other instance", 20_000);
    for (const name of names) {
      const replayed = (await b.replay(name, "")).events;
      expect(replayed.map((e) => e.data)).toEqual(payloads);
      expect(live.get(name)!.map((e) => e.data)).toEqual(payloads);
      expect(replayed[0]).toMatchObject({ event: "odd 'event'", to: ["user:'1'", "\u0000"] });
    }
    // Still there, untouched.
    const { rows } = await admin.query<{ n: string }>(`SELECT count(DISTINCT channel) AS n FROM "${tablePrefix}events" WHERE channel = ANY($1::text[])`, [names]);
    expect(Number(rows[0]!.n)).toBe(names.length);
  }, 60_000);

  it("refuses names PostgreSQL cannot store (too long, NUL, a lone surrogate) and an event type with NUL, with a clear error", async () => {
    const b = broker();
    for (const name of ["", "x".repeat(2001), "a\u0000b", "a\ud800b"]) {
      await expect(b.publish(name, { data: "x" })).rejects.toMatchObject({ code: "CELLO_INVALID_CHANNEL_NAME" });
      await expect(b.replay(name, "")).rejects.toMatchObject({ code: "CELLO_INVALID_CHANNEL_NAME" });
      expect(typeof b.subscribe(name, () => {})).toBe("function");
    }
    await expect(b.publish("ok", { data: "x", event: "a\u0000" })).rejects.toMatchObject({ code: "CELLO_INVALID_SSE_FIELD" });
  });

  it("refuses data that is not a string, and the channel's later publishes still go through", async () => {
    const b = broker();
    for (const data of [42, null, undefined, { a: 1 }]) {
      await expect(b.publish("typed", { data } as unknown as { data: string })).rejects.toMatchObject({ code: "CELLO_INVALID_OPTION" });
    }
    const id = await b.publish("typed", { data: "fine" });
    expect((await b.replay("typed", "")).events.map((e) => [e.id, e.data])).toEqual([[id, "fine"]]);
  });

  it("catches up after its listening connection is terminated: events published meanwhile arrive once, in order", async () => {
    // No idle check in the test's time, and a reconnect after 0.5-1 s: the events are all
    // published while it is away, and no notification follows, so the catch-up must come
    // from the reconnect itself.
    const reader = broker({ applicationName: "cello-unit-reader", reconnectBackoff: { minMs: 1000, maxMs: 1000 }, idleCheckMs: 60_000 });
    const writer = broker();
    const seen: string[] = [];
    reader.subscribe("gap", (message) => seen.push(message.data));
    await reader.ready();
    await sleep(100);
    await writer.publish("gap", { data: "before" });
    await until(() => seen.length === 1, "the first event");
    expect(await terminate(admin, [reader.applicationNames.listener])).toBe(1);
    await until(() => !reader.status().connected, "the reader to notice");
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer.publish("gap", { data: `while away ${i}` })));
    expect(reader.status().connected).toBe(false);
    await until(() => seen.length === 21, "the events published while it was away", 20_000);
    expect(seen).toEqual(["before", ...Array.from({ length: 20 }, (_, i) => `while away ${i}`)]);
    expect(reader.status()).toMatchObject({ connected: true, reconnects: 1 });
    expect(reader.status().readerLagMs).toBeGreaterThanOrEqual(0);
  });

  it("status() and cello:broker.state report a lost and regained connection", async () => {
    const b = broker({ applicationName: "cello-unit-status", reconnectBackoff: { minMs: 20, maxMs: 100 } });
    const states: Array<{ connected: boolean; reconnected: boolean }> = [];
    const listener = (message: unknown) => {
      const { broker: from, connected, reconnected } = message as { broker: unknown; connected: boolean; reconnected: boolean };
      if (from === b) states.push({ connected, reconnected });
    };
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.brokerState, listener);
    try {
      await b.ready();
      expect(b.status()).toEqual({ connected: true, reconnects: 0, readerLagMs: undefined });
      await terminate(admin, [b.applicationNames.listener]);
      await until(() => b.status().reconnects === 1 && b.status().connected, "the reconnect");
      expect(states).toContainEqual({ connected: false, reconnected: false });
      expect(states.at(-1)).toEqual({ connected: true, reconnected: true });
    } finally {
      diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNELS.brokerState, listener);
    }
  });

  it("rejects within commandTimeoutMs with CELLO_BROKER_UNAVAILABLE naming the URL (password masked) when PostgreSQL is unreachable", async () => {
    const url = `postgres://app:s3cret@127.0.0.1:${await freePort()}/test`;
    const b = postgresBroker({ url, commandTimeoutMs: 300, logger: silentLogger });
    opened.push(b);
    const started = Date.now();
    const error = await b.publish("c", { data: "x" }).catch((err: unknown) => err);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toMatchObject({ code: "CELLO_BROKER_UNAVAILABLE", mayHaveApplied: false });
    expect((error as Error).message).toContain(url.replace("s3cret", "***"));
    expect((error as Error).message).not.toContain("s3cret");
    await expect(b.ready(300)).rejects.toMatchObject({ code: "CELLO_BROKER_UNAVAILABLE" });
    expect(b.status().connected).toBe(false);
  });

  it("close() ends every connection it opened", async () => {
    const b = broker({ applicationName: "cello-unit-close" });
    b.subscribe("c", () => {});
    await b.ready();
    await b.publish("c", { data: "x" });
    expect(await connectionCount(admin, b.applicationNames.listener)).toBe(1);
    expect(await connectionCount(admin, b.applicationNames.pool)).toBeGreaterThan(0);
    await b.close();
    await until(async () => (await connectionCount(admin, b.applicationNames.listener)) + (await connectionCount(admin, b.applicationNames.pool)) === 0, "no connection left");
    await expect(b.publish("c", { data: "y" })).rejects.toMatchObject({ code: "CELLO_BROKER_UNAVAILABLE", mayHaveApplied: false });
  });
});
