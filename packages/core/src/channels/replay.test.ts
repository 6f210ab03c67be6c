// Resuming far back: history is paged at the pace the client reads, so a
// resume of more than the buffer limit reaches a reading client whole, with
// live events arriving meanwhile merged in (no gap, no duplicate), and the
// server holds about a page per client whatever the history holds.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { App, engineOf } from "../app.js";
import { countingSse, sleep } from "../sse/raw-client.test-support.js";
import { startWithCleanup } from "../testing.js";
import { memoryBroker, type ChannelBroker } from "./broker.js";
import { untilSize } from "./channel.test-support.js";

const start = startWithCleanup();
/** Ids `first`, `first + 1`, ...: every event once, in order. */
const consecutiveFrom = (first: number) => (previous: string, id: string) => Number(id) === (previous === "" ? first : Number(previous) + 1);

/** Distinct strings of `size` bytes (flat, not views of one shared string: real memory). */
function payload(i: number, size: number): string {
  const bytes = Buffer.alloc(size, 0x61);
  bytes.write(`${i}:`);
  return bytes.toString("latin1");
}

describe("memoryBroker replay pages", () => {
  it("returns at most `limit` events after the id, and the next page after the last one", async () => {
    const broker = memoryBroker();
    broker.configure("p", { history: 5, ttlMs: 0 });
    for (let i = 1; i <= 8; i++) await broker.publish("p", { data: `e${i}` }); // holds 4..8
    expect(await broker.replay("p", "3", { limit: 2 })).toEqual({
      events: [
        { id: "4", data: "e4" },
        { id: "5", data: "e5" },
      ],
      reset: false,
      earliestId: "4",
    });
    expect((await broker.replay("p", "5", { limit: 2 })).events.map((e) => e.id)).toEqual(["6", "7"]);
    expect((await broker.replay("p", "7", { limit: 2 })).events.map((e) => e.id)).toEqual(["8"]);
    expect(await broker.replay("p", "8", { limit: 2 })).toEqual({ events: [], reset: false, earliestId: "4" });
    expect((await broker.replay("p", "2", { limit: 2 })).reset).toBe(true);
    expect((await broker.replay("p", "3")).events.length).toBe(5);
    expect((await broker.replay("p", "", { limit: 1 })).reset).toBe(true); // from the start, but 1..3 are gone
  });
});

describe("resuming more history than the buffer limit", () => {
  /**
   * The in-memory broker with a round trip on each replay, as a networked broker
   * has: it reports what it holds when asked and resolves `ms` later, while live
   * events keep being delivered (the ordering contract allows it).
   */
  function withReplayLatency(ms: number): ChannelBroker {
    const inner = memoryBroker();
    return {
      ...inner,
      async replay(channel, afterId, options) {
        const result = await inner.replay(channel, afterId, options);
        await sleep(ms);
        return result;
      },
    };
  }

  it.each([
    ["the in-memory broker", () => memoryBroker()],
    ["a broker whose replay takes a round trip", () => withReplayLatency(5)],
  ])("delivers every event once, in order, to a slow reader while live events keep coming, then goes live (%s)", async (_name, broker) => {
    const limit = 64 * 1024;
    const app = new App({ broker: broker(), sse: { heartbeatMs: 0, bufferLimit: limit } });
    const reasons: string[] = [];
    app.addHook("onStreamClose", (_req, info) => reasons.push(info.reason));
    const history = 6000;
    const feed = app.channel("feed", { history: 50_000 });
    app.get("/feed", (req) => feed.subscribe(req));
    const client = await start(app);
    const port = Number(new URL(client.url).port);
    for (let i = 1; i <= history; i++) await feed.publish(payload(i, 1000)); // 6 MB: ~100 times the limit
    // A reader at a few MB/s: the catch-up takes seconds.
    const reader = await countingSse(port, "/feed", { headers: { "Last-Event-ID": "1" }, isNext: consecutiveFrom(2), pace: { bytes: 64 * 1024, everyMs: 10 } });
    await untilSize(app, "feed", 1);
    // Meanwhile live events at about 1 MB/s, slower than the reader (or it could never
    // catch up, and would rightly be cut), but for long enough to fill the 1 MiB live
    // buffer while history is paged: some are dropped from it and read from the history.
    let published = history;
    const started = performance.now();
    while (performance.now() - started < 2500) {
      for (let i = 0; i < 4; i++) void feed.publish(payload(++published, 1000));
      await sleep(3);
    }
    await reader.until(published - 1, 30_000);
    expect(reader.misordered).toBe(0);
    expect(reader.lastId).toBe(String(published));
    // Live now: the next event arrives on its own.
    await feed.publish("after");
    await reader.until(published, 10_000);
    expect([reader.count, reader.lastId, reader.misordered]).toEqual([published, String(published + 1), 0]);
    expect(reasons).toEqual([]);
    reader.socket.destroy();
  }, 60_000);

  it("loses nothing when the live buffer overflows while the last page of history is being fetched", async () => {
    // The in-memory broker, except that while it answers the page that reaches the end of
    // the history, 1.5 MB of live events are published (as during a networked broker's
    // round trip): they are newer than that page, and more than the live buffer holds.
    const inner = memoryBroker();
    let burst = 0;
    const broker: ChannelBroker = {
      ...inner,
      async replay(channel, afterId, options) {
        const result = await inner.replay(channel, afterId, options);
        if (burst > 0 && options?.limit !== undefined && result.events.length < options.limit) {
          for (; burst > 0; burst--) void inner.publish(channel, { data: payload(burst, 1000) });
        }
        return result;
      },
    };
    const app = new App({ broker, sse: { heartbeatMs: 0 } });
    const feed = app.channel("feed", { history: 10_000 });
    app.get("/feed", (req) => feed.subscribe(req));
    const client = await start(app);
    for (let i = 1; i <= 100; i++) await feed.publish(payload(i, 1000));
    burst = 1500;
    const reader = await countingSse(Number(new URL(client.url).port), "/feed", { headers: { "Last-Event-ID": "10" }, isNext: consecutiveFrom(11) });
    await reader.until(1590, 20_000);
    expect([reader.count, reader.lastId, reader.misordered]).toEqual([1590, "1600", 0]);
    await feed.publish("live");
    await reader.until(1591);
    expect([reader.lastId, reader.misordered]).toEqual(["1601", 0]);
    reader.socket.destroy();
  });

  it("holds about a page per client: 50 MB of history resumed by a slow and a fast reader", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const bufferLimit = 1024 * 1024;
    const app = new App({ sse: { heartbeatMs: 0, bufferLimit } });
    const reasons: string[] = [];
    app.addHook("onStreamClose", (_req, info) => reasons.push(info.reason));
    const events = 5000;
    const size = 10_000;
    const feed = app.channel("archive", { history: events });
    app.get("/archive", (req) => feed.subscribe(req));
    const client = await start(app);
    const port = Number(new URL(client.url).port);
    for (let i = 1; i <= events; i++) await feed.publish(payload(i, size)); // 50 MB
    await sleep(50);
    gc();
    gc();
    const baseline = process.memoryUsage().heapUsed;
    const headers = { "Last-Event-ID": "0" };
    const fast = await countingSse(port, "/archive", { headers, isNext: consecutiveFrom(1) });
    // About 5 MB/s: still reading when the fast one is done.
    const slow = await countingSse(port, "/archive", { headers, isNext: consecutiveFrom(1), pace: { bytes: 128 * 1024, everyMs: 10 } });
    // What the server holds: its JS heap (pages, frames, queues) and, per connection, the
    // bytes queued by the engine plus those in the socket's buffer (outside the heap).
    // Not the process's external memory: the in-process test readers' own read buffers dominate it.
    let peakHeap = 0;
    let peakBuffered = 0;
    const sample = () => {
      let buffered = 0;
      for (const connection of engineOf(app).connections) buffered += connection.bufferedBytes;
      peakBuffered = Math.max(peakBuffered, buffered);
      gc();
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - baseline);
    };
    const sampler = setInterval(sample, 50);
    try {
      await fast.until(events, 60_000);
      sample();
      expect(slow.count).toBeLessThan(events); // both were reading at once
      await slow.until(events, 60_000);
    } finally {
      clearInterval(sampler);
    }
    for (const reader of [fast, slow]) expect([reader.count, reader.lastId, reader.misordered]).toEqual([events, String(events), 0]);
    expect(reasons).toEqual([]);
    const MB = 1024 * 1024;
    console.log(`resuming 50 MB to a slow and a fast reader: peak heap growth ${(peakHeap / MB).toFixed(1)} MB, peak bytes held for both ${(peakBuffered / MB).toFixed(1)} MB`);
    // About a page per client (256 KiB), its frames and its write, against the 100 MB
    // that holding each replay whole would take. Generous: 3 x the limit per client, plus 2 MB.
    expect(peakHeap + peakBuffered).toBeLessThan(2 * 3 * bufferLimit + 2 * MB);
    fast.socket.destroy();
    slow.socket.destroy();
  }, 120_000);
});
