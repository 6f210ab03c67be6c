/**
 * Several app instances, each its own process on its own port, sharing one
 * Redis: what a client sees when it moves between them, when one dies, and
 * when their Redis connections are cut.
 */
import { connect, type FetchLike } from "@cellojs/client";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminConnection,
  closeAgent,
  connectionIds,
  deleteKeys,
  killConnections,
  openStream,
  publishExactlyOnce,
  publishVia,
  sequence,
  skipWithoutRedis,
  sleep,
  startFixture,
  uniquePrefix,
  until,
  warmUp,
  type FixtureServer,
  type RemoteStream,
  type StreamEvent,
} from "./redis.test-support.js";

/** Ids strictly increasing: each event once, in order. */
function strictlyIncreasing(events: StreamEvent[]): boolean {
  return events.every((e, i) => {
    if (i === 0) return true;
    const [ms0, seq0] = events[i - 1]!.id.split("-").map(BigInt);
    const [ms1, seq1] = e.id.split("-").map(BigInt);
    return ms1! > ms0! || (ms1 === ms0 && seq1! > seq0!);
  });
}

describe.skipIf(skipWithoutRedis)("instances sharing one Redis", () => {
  const prefix = uniquePrefix("cluster");
  let admin: Redis;
  let a: FixtureServer;
  let b: FixtureServer;

  beforeAll(async () => {
    admin = adminConnection();
    [a, b] = await Promise.all([startFixture(prefix), startFixture(prefix)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await closeAgent();
    await deleteKeys(admin, prefix);
    admin.disconnect();
  });

  /** Whether `payload` is among the last entries of the stream. */
  async function stored(payload: string): Promise<boolean> {
    const tail = await admin.xrevrange(`${prefix}ticks`, "+", "-", "COUNT", 10);
    return tail.some(([, fields]) => fields[1] === payload);
  }

  const publishAll = (base: string, payloads: string[], pauseEvery?: number) => publishExactlyOnce(base, payloads, stored, pauseEvery);

  it("each process prints its URL, and a publish on A reaches subscribers on A and B with one id", async () => {
    expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(b.url).not.toBe(a.url);
    const onA = await openStream(`${a.url}/ticks`);
    const onB = await openStream(`${b.url}/ticks`);
    expect([onA.status, onB.status]).toEqual([200, 200]);
    await warmUp(a.url, [onA, onB], "hello");
    const fromA = await publishVia(a.url, "from A");
    const fromB = await publishVia(b.url, "from B");
    const last = (s: RemoteStream) => s.events.slice(-2).map((e) => [e.id, e.data]);
    await until(() => onA.events.at(-1)?.data === "from B" && onB.events.at(-1)?.data === "from B", "both events on both");
    const expected = [
      [(fromA as { id: string }).id, "from A"],
      [(fromB as { id: string }).id, "from B"],
    ];
    expect(last(onA)).toEqual(expected);
    expect(last(onB)).toEqual(expected);
    onA.close();
    onB.close();
  });

  it("a subscriber hopping between A and B with Last-Event-ID receives 1000 events published on A exactly once, in order", async () => {
    const payloads = sequence(1000, "hop");
    let current = await openStream(`${a.url}/ticks`);
    const publisher = publishAll(a.url, payloads);
    const got: StreamEvent[] = [];
    // Wait for the first event: a client with no id resumes nothing.
    await until(() => current.events.some((e) => e.data === "hop1"), "the first event");
    let hops = 0;
    let done = false;
    void publisher.then(() => (done = true));
    for (; hops < 2000; hops++) {
      await sleep(10 + (hops % 7) * 3);
      current.close();
      got.push(...current.events.filter((e) => e.data.startsWith("hop")));
      if (done && got.length >= payloads.length) break;
      const lastEventId = got.at(-1)!.id;
      current = await openStream(`${hops % 2 ? a.url : b.url}/ticks`, lastEventId);
      expect(current.status).toBe(200);
    }
    await publisher;
    expect(hops).toBeGreaterThan(20);
    expect(got.map((e) => e.data)).toEqual(payloads);
    expect(strictlyIncreasing(got)).toBe(true);
  }, 60_000);

  it("subscribers resume with no loss and no duplicate when A's Redis connections are killed while it publishes", async () => {
    const payloads = sequence(600, "kill");
    const readerName = `cello-reader-${a.pid}`;
    const publisherName = `cello-publisher-${a.pid}`;
    expect(await connectionIds(admin, readerName)).toHaveLength(1);
    const onA = await openStream(`${a.url}/ticks`);
    const onB = await openStream(`${b.url}/ticks`);
    await warmUp(a.url, [onA, onB], "marker");
    const publisher = publishAll(a.url, payloads);
    let kills = 0;
    for (const after of [100, 250, 400]) {
      await until(() => onA.events.length > after, `event ${after} on A`, 20_000);
      kills += await killConnections(admin, [readerName, publisherName]);
    }
    const { retries } = await publisher;
    const relevant = (events: StreamEvent[]) => events.filter((e) => e.data.startsWith("kill"));
    await until(() => relevant(onA.events).length >= 600 && relevant(onB.events).length >= 600, "600 events on both", 20_000);
    await sleep(100);
    expect(kills).toBeGreaterThanOrEqual(3);
    for (const stream of [onA, onB]) {
      expect(relevant(stream.events).map((e) => e.data)).toEqual(payloads);
      expect(strictlyIncreasing(stream.events)).toBe(true);
    }
    // Both connections of A came back, and A told its log about each outage.
    await until(async () => (await connectionIds(admin, readerName)).length === 1, "A's reader to reconnect");
    expect(a.stderr()).toMatch(/@cellojs\/redis: the reader connection to redis:\/\/\S+ (closed|failed)[^\n]*; reconnecting with backoff/);
    expect(a.stdout()).toMatch(/@cellojs\/redis: the reader connection to redis:\/\/\S+ is back/);
    console.log(`cluster test: ${kills} connections killed, ${retries} publishes retried`);
    onA.close();
    onB.close();
  }, 60_000);

  it("clients of an instance killed with SIGKILL reconnect to the other with Last-Event-ID and miss nothing", async () => {
    const payloads = sequence(500, "crash");
    // A client-side "load balancer": the next attempt after a failure goes to the next instance.
    const failover = (): FetchLike => {
      const bases = [a.url, b.url];
      let current = 0;
      return async (url, init) => {
        const target = bases[current]! + new URL(url).pathname;
        try {
          return await fetch(target, init);
        } catch (err) {
          current = (current + 1) % bases.length;
          throw err;
        }
      };
    };
    const stop = new AbortController();
    const clients = [0, 1, 2].map(() => {
      const events: StreamEvent[] = [];
      const served = new Set<string>();
      const done = (async () => {
        for await (const ev of connect(`${a.url}/ticks`, { fetch: failover(), reconnectDelayMs: 20, maxReconnectDelayMs: 200, signal: stop.signal, onOpen: (res) => served.add(new URL(res.url).port) })) {
          events.push({ id: ev.id, event: ev.event, data: ev.data });
        }
      })();
      return { events, served, done };
    });
    await until(() => clients.every((c) => c.served.size === 1), "three clients on A");
    await warmUp(b.url, clients, "warmup");
    const publisher = publishAll(b.url, payloads, 5);
    await until(() => clients.every((c) => c.events.length > 150), "150 events on every client");
    await a.stop("SIGKILL");
    expect(a.child.signalCode).toBe("SIGKILL");
    await publisher;
    await until(() => clients.every((c) => c.events.filter((e) => e.data.startsWith("crash")).length >= 500), "every event on every client", 20_000);
    await sleep(100);
    stop.abort();
    await Promise.all(clients.map((c) => c.done));
    for (const client of clients) {
      expect(client.events.filter((e) => e.data.startsWith("crash")).map((e) => e.data)).toEqual(payloads);
      expect(strictlyIncreasing(client.events)).toBe(true);
      expect([...client.served]).toEqual([new URL(a.url).port, new URL(b.url).port]);
    }
  }, 60_000);
});
