/**
 * The multi-process fault suite every distributed broker passes (Redis, PostgreSQL):
 * two app instances, each its own process on its own port, sharing one backend. What
 * a client sees when it moves between them with Last-Event-ID, when the broker's
 * connections of one instance are cut while it publishes, and when one instance is
 * SIGKILLed: every event once, in order, on every client. Each broker package runs it
 * from its cluster.test.ts with what differs (how to start an instance, how to see
 * that a publish was stored, how to cut connections, what the instance logs) and may
 * add its own tests through `extra` (PostgreSQL: a server restart). Not part of the
 * package's API: imported by relative path, kept out of dist/ (tsconfig.build.json).
 */
import { connect, type FetchLike } from "@cellojs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAgent, openStream, publishExactlyOnce, publishVia, sequence, sleep, until, warmUp, type FixtureProcess, type RemoteStream, type StreamEvent } from "./processes.test-support.js";

/** An instance of the fixture app (packages' startFixture). */
export type ClusterInstance = Omit<FixtureProcess, "match"> & { url: string };

/** What one broker's cluster tests differ in. */
export interface ClusterFaultsOptions {
  /** The describe block's name, e.g. "instances sharing one Redis". */
  name: string;
  /** Skip when the backend is not running (never under CI: the packages' support decides). */
  skip: boolean;
  /** Start one instance of the fixture app (all instances share one key prefix or table prefix). */
  start(): Promise<ClusterInstance>;
  /** Whether `payload` is in the broker's history (for exactly-once publishing across outages). */
  stored(payload: string): Promise<boolean>;
  /** Whether `b` comes after `a` in the broker's id order. */
  after(a: string, b: string): boolean;
  /** Delete what the tests stored and close admin connections. */
  cleanup(): Promise<void>;
  /** Cutting the broker's connections of one instance while it publishes. */
  cut: {
    /** In the test's name: "A's Redis connections are killed". */
    what: string;
    /** How many of the instance's listening/reading connections are open now. */
    listening(instance: ClusterInstance): Promise<number>;
    /** Cut every broker connection of the instance; how many were cut. */
    cut(instance: ClusterInstance): Promise<number>;
    /** What the instance writes to stderr when its listening connection drops, and to stdout when it is back. */
    lostLog: RegExp;
    backLog: RegExp;
  };
  /** More tests, registered inside the same describe block with its two instances. */
  extra?(context: ClusterContext): void;
}

/** What `extra` tests get: the two instances (set in beforeAll) and the shared helpers. */
export interface ClusterContext {
  a(): ClusterInstance;
  b(): ClusterInstance;
  publishAll(base: string, payloads: string[], pauseEvery?: number): Promise<{ retries: number }>;
  strictlyIncreasing(events: StreamEvent[]): boolean;
}

/** Register the cluster fault suite (vitest) for one broker. */
export function describeClusterFaults(options: ClusterFaultsOptions): void {
  describe.skipIf(options.skip)(options.name, () => {
    let a: ClusterInstance;
    let b: ClusterInstance;

    beforeAll(async () => {
      [a, b] = await Promise.all([options.start(), options.start()]);
    }, 60_000);
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await closeAgent();
      await options.cleanup();
    });

    /** Ids strictly increasing: each event once, in order. */
    const strictlyIncreasing = (events: StreamEvent[]) => events.every((e, i) => i === 0 || options.after(events[i - 1]!.id, e.id));
    const publishAll = (base: string, payloads: string[], pauseEvery?: number) => publishExactlyOnce(base, payloads, options.stored, pauseEvery);

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

    it(`subscribers resume with no loss and no duplicate when ${options.cut.what} while it publishes`, async () => {
      const payloads = sequence(600, "kill");
      expect(await options.cut.listening(a)).toBe(1);
      const onA = await openStream(`${a.url}/ticks`);
      const onB = await openStream(`${b.url}/ticks`);
      await warmUp(a.url, [onA, onB], "marker");
      const publisher = publishAll(a.url, payloads);
      let cuts = 0;
      for (const after of [100, 250, 400]) {
        await until(() => onA.events.length > after, `event ${after} on A`, 20_000);
        cuts += await options.cut.cut(a);
      }
      const { retries } = await publisher;
      const relevant = (events: StreamEvent[]) => events.filter((e) => e.data.startsWith("kill"));
      await until(() => relevant(onA.events).length >= 600 && relevant(onB.events).length >= 600, "600 events on both", 20_000);
      await sleep(100);
      expect(cuts).toBeGreaterThanOrEqual(3);
      for (const stream of [onA, onB]) {
        expect(relevant(stream.events).map((e) => e.data)).toEqual(payloads);
        expect(strictlyIncreasing(stream.events)).toBe(true);
      }
      // A's listening connection came back, and A told its log about each outage.
      await until(async () => (await options.cut.listening(a)) === 1, "A's listening connection to reconnect");
      expect(a.stderr()).toMatch(options.cut.lostLog);
      expect(a.stdout()).toMatch(options.cut.backLog);
      console.log(`cluster test: ${cuts} connections cut, ${retries} publishes retried`);
      onA.close();
      onB.close();
    }, 60_000);

    options.extra?.({ a: () => a, b: () => b, publishAll, strictlyIncreasing });

    // Last: it kills A.
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
}
