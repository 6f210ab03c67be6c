import { createServer } from "node:net";
import { CelloError, silentLogger, type ChannelMessage, type Logger } from "@cellojs/core";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisBroker, type RedisBroker, type RedisBrokerOptions } from "./index.js";
import { adminConnection, connectionIds, deleteKeys, killConnections, skipWithoutRedis, sleep, uniquePrefix, until } from "./redis.test-support.js";

const ID = /^\d+-\d+$/;

describe.skipIf(skipWithoutRedis)("redisBroker against a real Redis", () => {
  const prefix = uniquePrefix("broker");
  let admin: Redis;
  const brokers: RedisBroker[] = [];
  const open = (options: RedisBrokerOptions = {}) => {
    const broker = redisBroker({ prefix, logger: silentLogger, ...options });
    brokers.push(broker);
    return broker;
  };

  beforeAll(() => {
    admin = adminConnection();
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });
  afterAll(async () => {
    await deleteKeys(admin, prefix);
    expect(await admin.keys(`${prefix}*`)).toEqual([]);
    admin.disconnect();
  });

  it("publishes to the stream cello:ch:<name> (prefix configurable) and resolves with the stream id", async () => {
    const broker = open();
    await broker.ready();
    broker.configure("news", { history: 100, ttlMs: 0 });
    const first = await broker.publish("news", { event: "story", data: '{"headline":"hi"}' });
    const second = await broker.publish("news", { data: "plain" });
    expect(first).toMatch(ID);
    expect(broker.compareIds(first, second)).toBeLessThan(0);
    expect(broker.streamKey("news")).toBe(`${prefix}news`);
    expect(redisBroker({ logger: silentLogger, redis: { lazyConnect: true } }).streamKey("news")).toBe("cello:ch:news");
    expect(await admin.xrange(`${prefix}news`, "-", "+")).toEqual([
      [first, ["data", '{"headline":"hi"}', "event", "story"]],
      [second, ["data", "plain"]],
    ]);
  });

  // Replay after an id, pages, "" and lastId are in the conformance suite (broker-conformance.test.ts); here, Redis's own ids.
  it("reads 0-0 as the start of a stream, like \"\", and a page after an id older than any the stream issued as a reset", async () => {
    const broker = open();
    broker.configure("feed", { history: 100, ttlMs: 0 });
    for (let i = 1; i <= 5; i++) await broker.publish("feed", { data: `e${i}` });
    // "0-0" is before everything: the whole history of a stream that never lost an entry.
    expect((await broker.replay("feed", "0-0")).events.map((e) => e.data)).toEqual(["e1", "e2", "e3", "e4", "e5"]);
    expect((await broker.replay("feed", "0-0", { limit: 3 })).events.map((e) => e.data)).toEqual(["e1", "e2", "e3"]);
    // So is "", core's position of a channel that had no event yet.
    expect(await broker.replay("feed", "")).toEqual(await broker.replay("feed", "0-0"));
    // A page of a history whose start is gone (here: an id before the stream's first) is a reset, as any replay.
    expect((await broker.replay("feed", "1000-0", { limit: 2 })).reset).toBe(true);
  });

  it("resets for an id that is not a stream id, is from the future, or is older than what is held", async () => {
    const broker = open();
    broker.configure("ticks", { history: 10, ttlMs: 0 });
    const ids: string[] = [];
    // MAXLEN ~ trims whole nodes of 100 entries: publish well past one.
    for (let i = 1; i <= 400; i++) ids.push(await broker.publish("ticks", { data: `t${i}` }));
    const [oldest] = await admin.xrange(`${prefix}ticks`, "-", "+", "COUNT", 1);
    const earliestId = oldest![0];
    expect(earliestId).not.toBe(ids[0]);
    for (const bad of ["not-an-id", "17", "1-2-3", "99999999999999999999999-0"]) {
      expect(await broker.replay("ticks", bad)).toEqual({ events: [], reset: true, earliestId });
    }
    const [ms, seq] = ids.at(-1)!.split("-").map(Number);
    expect(await broker.replay("ticks", `${ms! + 60_000}-0`)).toEqual({ events: [], reset: true, earliestId });
    expect(await broker.replay("ticks", `${ms}-${seq! + 1}`)).toEqual({ events: [], reset: true, earliestId });
    expect(await broker.replay("ticks", ids[0]!)).toEqual({ events: [], reset: true, earliestId });
    expect(await broker.replay("ticks", "0-0")).toEqual({ events: [], reset: true, earliestId });
    expect(await broker.replay("ticks", "")).toEqual({ events: [], reset: true, earliestId });
    // Inside what is held: a normal replay.
    const inside = await broker.replay("ticks", ids[396]!);
    expect([inside.reset, inside.events.map((e) => e.data)]).toEqual([false, ["t398", "t399", "t400"]]);
    expect((await broker.replay("ticks", earliestId)).events).toHaveLength(ids.length - 1 - ids.indexOf(earliestId));
  });

  it("treats a channel with no stream as empty: 0-0 replays nothing, any other id resets, lastId is undefined", async () => {
    const broker = open();
    expect(await broker.replay("never", "0-0")).toEqual({ events: [], reset: false });
    expect(await broker.replay("never", "")).toEqual({ events: [], reset: false });
    expect(await broker.replay("never", "1700000000000-0")).toEqual({ events: [], reset: true });
    expect(await broker.lastId("never")).toBeUndefined();
  });

  it("a stream whose entries predate the client's id by another incarnation (Redis lost its data) resets", async () => {
    const broker = open();
    await broker.publish("reborn", { data: "after the restart" });
    // An id from before this stream existed, which it never issued.
    expect((await broker.replay("reborn", "1000-0")).reset).toBe(true);
  });

  it("keeps about `history` entries: at least that many, at most one 100-entry node more", async () => {
    const broker = open();
    broker.configure("bounded", { history: 250, ttlMs: 0 });
    for (let i = 0; i < 1000; i++) await broker.publish("bounded", { data: String(i) });
    const length = await admin.xlen(`${prefix}bounded`);
    expect(length).toBeGreaterThanOrEqual(250);
    expect(length).toBeLessThanOrEqual(350);
    const [newest] = await admin.xrevrange(`${prefix}bounded`, "+", "-", "COUNT", 1);
    expect(await broker.lastId("bounded")).toBe(newest![0]);
  });

  it.each([
    [{ blockMs: 0 }, "blockMs must be a positive integer of milliseconds (default 1000), got 0"],
    [{ readCount: 1.5 }, "readCount must be a positive integer of entries (default 500), got 1.5"],
    [{ commandTimeoutMs: -1 }, "commandTimeoutMs must be a positive number of milliseconds (default 2000), got -1"],
    [{ commandTimeoutMs: "2000" as never }, 'commandTimeoutMs must be a positive number of milliseconds (default 2000), got "2000"'],
    [{ reconnectBackoff: { minMs: Number.NaN } }, "reconnectBackoff.minMs must be a positive number of milliseconds (default 50), got NaN"],
    [{ reconnectBackoff: { maxMs: Infinity } }, "reconnectBackoff.maxMs must be a positive number of milliseconds (default 2000), got Infinity"],
    // The deprecated name is checked the same way, and named as given.
    [{ retry: { minMs: 0 } }, "retry.minMs must be a positive number of milliseconds (default 50), got 0"],
    [{ retry: { minMs: 10 }, reconnectBackoff: { minMs: 10 } }, "retry is the deprecated name of reconnectBackoff; pass reconnectBackoff only"],
  ] satisfies Array<[RedisBrokerOptions, string]>)("refuses invalid options (%o) with CELLO_INVALID_OPTION and a message naming the option, its unit and default", (options, detail) => {
    let thrown: unknown;
    try {
      redisBroker({ logger: silentLogger, ...options });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(CelloError);
    expect([(thrown as CelloError).code, (thrown as CelloError).message]).toEqual(["CELLO_INVALID_OPTION", `Invalid option: redisBroker(): ${detail}`]);
  });

  it("compares ids as two 64-bit numbers", () => {
    const broker = open({ redis: { lazyConnect: true } });
    expect(broker.compareIds("9-1", "10-0")).toBeLessThan(0);
    expect(broker.compareIds("10-0", "9-1")).toBeGreaterThan(0);
    expect(broker.compareIds("5-10", "5-9")).toBeGreaterThan(0);
    expect(broker.compareIds("5-009", "5-9")).toBe(0);
    expect(broker.compareIds("1-18446744073709551615", "1-18446744073709551614")).toBeGreaterThan(0);
    expect(broker.compareIds("1700000000000-0", "1700000000000-0")).toBe(0);
    expect(broker.compareIds("7", "1-0")).toBeNaN();
  });

  it("delivers each new entry once, in order, to every local subscriber and to other instances", async () => {
    const a = open({ connectionName: "cello-unit-a" });
    const b = open({ connectionName: "cello-unit-b" });
    await Promise.all([a.ready(), b.ready()]);
    const before = await a.publish("live", { data: "before anyone listened" });
    const onA: ChannelMessage[] = [];
    const onA2: ChannelMessage[] = [];
    const onB: ChannelMessage[] = [];
    a.subscribe("live", (m) => onA.push(m));
    a.subscribe("live", (m) => onA2.push(m));
    b.subscribe("live", (m) => onB.push(m));
    // Published at once, before the reader's first XREAD: the starting point is the
    // last id when subscribe() was called on this instance, not "$" at XREAD time.
    const ownA = a.publish("live", { data: "right after subscribing on a" });
    const ownB = b.publish("live", { data: "right after subscribing on b" });
    const [idA, idB] = await Promise.all([ownA, ownB]);
    await until(() => onA.some((m) => m.id === idA) && onB.some((m) => m.id === idB), "each instance's own first event");
    // Both instances are reading now: everything published from here reaches both.
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).publish("live", { event: "n", data: String(i) })));
    const expected = ids.map((id, i) => ({ id, event: "n", data: String(i) })).sort((x, y) => a.compareIds(x.id, y.id));
    const tail = (received: ChannelMessage[]) => received.filter((m) => m.event === "n");
    await until(() => tail(onA).length >= 50 && tail(onB).length >= 50, "50 events on both instances");
    await sleep(50);
    for (const received of [onA, onB]) {
      expect(tail(received)).toEqual(expected);
      expect(received.some((m) => m.id === before)).toBe(false);
      // In id order, each once.
      expect(received.every((m, i) => i === 0 || a.compareIds(received[i - 1]!.id, m.id) < 0)).toBe(true);
    }
    expect(onA2).toEqual(onA);
  });

  it("picks up a channel subscribed while the reader is blocked on others, without waiting out the block", async () => {
    const broker = open({ blockMs: 30_000 });
    const first: string[] = [];
    const second: string[] = [];
    broker.subscribe("one", (m) => first.push(m.data));
    await broker.publish("one", { data: "x" });
    await until(() => first.length === 1, "the first channel's event");
    // The reader is now blocked for up to 30 s on "one" alone: CLIENT UNBLOCK re-issues it.
    broker.subscribe("two", (m) => second.push(m.data));
    await sleep(20);
    await broker.publish("two", { data: "y" });
    await until(() => second.length === 1, "the second channel's event", 5000);
    expect([first, second]).toEqual([["x"], ["y"]]);
  });

  it("resolves replay and lastId only once the local subscribers have been handed what they report", async () => {
    // What core's Subscription relies on to drop the overlap between a replay and
    // live events. Here the local reader is made to lag: its connection is killed
    // and comes back only after ~200 ms, while the publisher connection answers at once.
    const local = open({ connectionName: `cello-unit-lag-${process.pid}`, reconnectBackoff: { minMs: 300, maxMs: 300 } });
    const remote = open();
    await Promise.all([local.ready(), remote.ready()]);
    const seen = new Set<string>();
    local.subscribe("overlap", (m) => seen.add(m.id));
    await sleep(20);
    const from = await local.publish("overlap", { data: "start" });
    await until(() => seen.has(from), "the first event");
    for (const round of [1, 2]) {
      expect(await killConnections(admin, [local.connectionNames.reader])).toBe(1);
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await remote.publish("overlap", { data: `${round}.${i}` }));
      expect(ids.some((id) => seen.has(id))).toBe(false);
      if (round === 1) {
        const replay = await local.replay("overlap", from);
        expect(replay.events.slice(-5).map((m) => m.id)).toEqual(ids);
        expect(replay.events.filter((m) => !seen.has(m.id))).toEqual([]);
      } else {
        const head = await local.lastId("overlap");
        expect(head).toBe(ids.at(-1));
        expect(seen.has(head!)).toBe(true);
      }
    }
  });

  it("stops delivering to a subscriber that unsubscribed", async () => {
    const broker = open();
    const got: string[] = [];
    const stop = broker.subscribe("quiet", (m) => got.push(m.data));
    await sleep(20);
    await broker.publish("quiet", { data: "1" });
    await until(() => got.length === 1, "the first event");
    stop();
    await broker.publish("quiet", { data: "2" });
    const again: string[] = [];
    broker.subscribe("quiet", (m) => again.push(m.data));
    await sleep(20);
    await broker.publish("quiet", { data: "3" });
    await until(() => again.length === 1, "the event after resubscribing");
    expect([got, again]).toEqual([["1"], ["3"]]);
  });

  it("rejects a publish within commandTimeoutMs with CELLO_BROKER_UNAVAILABLE naming the URL when Redis is unreachable", async () => {
    // A port that was free a moment ago: connections to it are refused.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const warnings: string[] = [];
    const logger: Logger = { info() {}, warn: (m) => warnings.push(m), error() {} };
    const broker = open({ url: `redis://:hunter2@127.0.0.1:${port}`, logger, commandTimeoutMs: 300 });
    const failure = await broker.publish("nowhere", { data: "x" }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(CelloError);
    expect((failure as CelloError).code).toBe("CELLO_BROKER_UNAVAILABLE");
    expect((failure as CelloError).message).toMatch(
      new RegExp(`^Broker unavailable: Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} is unreachable( \\(ECONNREFUSED: .*\\))?; the publish to nowhere was not sent$`),
    );
    expect(failure).toHaveProperty("mayHaveApplied", false);
    await expect(broker.replay("nowhere", "0-0")).rejects.toMatchObject({ code: "CELLO_BROKER_UNAVAILABLE" });
    await expect(broker.ready(300)).rejects.toMatchObject({ code: "CELLO_BROKER_UNAVAILABLE" });
    await until(() => warnings.length >= 2, "one warning per connection");
    await sleep(300);
    // One line per connection per outage, not one per reconnect attempt.
    expect(warnings.filter((w) => w.includes("publisher"))).toHaveLength(1);
    expect(warnings[0]).toContain(`127.0.0.1:${port}`);
    expect(warnings.join("\n")).not.toContain("hunter2");
  });

  it.each(["reconnectBackoff", "retry (deprecated)"] as const)("waits the backoff given as %s before reconnecting", async (label) => {
    // A first delay of 2.5 to 5 s: half a second after the kill, the connections are still down
    // (with the default 50 ms backoff they are back long before).
    const bounds = { minMs: 5000, maxMs: 5000 };
    const name = `cello-unit-backoff-${label.split(" ")[0]}-${process.pid}`;
    const broker = open({ connectionName: name, ...(label === "reconnectBackoff" ? { reconnectBackoff: bounds } : { retry: bounds }) });
    await broker.ready();
    const { reader, publisher } = broker.connectionNames;
    expect(await killConnections(admin, [reader, publisher])).toBe(2);
    await sleep(500);
    expect([...(await connectionIds(admin, reader)), ...(await connectionIds(admin, publisher))]).toEqual([]);
  });

  it("resumes after its connections are killed: nothing lost, nothing doubled", async () => {
    const broker = open({ connectionName: `cello-unit-kill-${process.pid}`, reconnectBackoff: { minMs: 10, maxMs: 100 } });
    await broker.ready();
    const { reader, publisher } = broker.connectionNames;
    const [readerBefore] = await connectionIds(admin, reader);
    const got: ChannelMessage[] = [];
    broker.subscribe("survivor", (m) => got.push(m));
    const other = open();
    const published: string[] = [];
    for (let i = 0; i < 300; i++) {
      published.push(await other.publish("survivor", { data: String(i) }));
      if (i === 100 || i === 200) expect(await killConnections(admin, [reader, publisher])).toBe(2);
      if (i % 10 === 0) await sleep(1);
    }
    await until(() => got.length >= 300, "all 300 events after two kills");
    await sleep(100);
    expect(got.map((m) => m.id)).toEqual(published);
    expect(got.map((m) => m.data)).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    // A new reader connection did the rest.
    await until(async () => (await connectionIds(admin, reader)).length === 1, "the reader to be back");
    expect(await connectionIds(admin, reader)).not.toEqual([readerBefore]);
    await until(() => broker.publish("survivor", { data: "after" }).then(() => true, () => false), "the publisher to be back");
  });

  it("close() ends both connections", async () => {
    const broker = redisBroker({ prefix, logger: silentLogger, connectionName: `cello-unit-close-${process.pid}` });
    await broker.ready();
    broker.subscribe("closing", () => {});
    await until(async () => (await connectionIds(admin, broker.connectionNames.reader)).length === 1, "the reader connection");
    await broker.close();
    await until(
      async () => (await connectionIds(admin, broker.connectionNames.reader)).length + (await connectionIds(admin, broker.connectionNames.publisher)).length === 0,
      "both connections to close",
    );
    await expect(broker.publish("closing", { data: "late" })).rejects.toMatchObject({ code: "CELLO_BROKER_UNAVAILABLE" });
  });
});
