// What `bufferLimit` measures: what a client has not read, not what one turn of
// the event loop queued. A client that reads gets every burst, however large;
// one that does not is cut (or loses the oldest) at about the limit.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import type { Request } from "../request.js";
import { startWithCleanup, type TestClient } from "../testing.js";
import type { SseOptions } from "./options.js";
import { SseEvent } from "./event.js";
import { rawSse, sleep } from "./raw-client.test-support.js";
import { SseStream } from "./stream.js";

/**
 * A client in another process that reads `path` as fast as it can: one in this process would
 * stall with the server, fill its socket, and let backpressure hide a starved event loop.
 */
function spawnFastReader(port: number, path: string) {
  return spawn(
    process.execPath,
    [
      "-e",
      `const s = require("node:net").connect(${port}, "127.0.0.1", () => s.write("GET ${path} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"));
       s.on("data", () => {}); s.on("error", () => process.exit(0)); s.on("close", () => process.exit(0));`,
    ],
    { stdio: "ignore" },
  );
}

const start = startWithCleanup();
const portOf = (client: TestClient) => Number(new URL(client.url).port);
const MiB = 1024 * 1024;

/** An app whose streams report how they closed. */
function appWithReasons(sse: SseOptions = {}) {
  const app = new App({ sse: { heartbeatMs: 0, ...sse } });
  const closed: Array<{ reason: string; eventsSent: number; eventsDropped: number }> = [];
  app.addHook("onStreamClose", (_req, info) => closed.push({ reason: info.reason, eventsSent: info.eventsSent, eventsDropped: info.eventsDropped }));
  return { app, closed };
}

describe("a client that reads gets everything, whatever one turn queues", () => {
  it("receives a 2 MiB burst published on a channel in one tick, whole and in order (limit 1 MiB)", async () => {
    const { app, closed } = appWithReasons();
    const feed = app.channel("feed", { history: 0 });
    app.get("/feed", (req) => feed.subscribe(req));
    const client = await start(app);
    const reader = await client.openSse("/feed");
    for (let i = 0; i < 100 && feed.size === 0; i++) await sleep(5);
    const payload = "p".repeat(1024);
    const count = 2048; // 2 MiB of data in one tick, twice the limit
    for (let i = 0; i < count; i++) void feed.publish(payload);
    const events = await reader.waitForEvents(count, 20_000);
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: count }, (_, i) => String(i + 1)));
    expect(events.every((e) => e.data === payload)).toBe(true);
    // Still open and live afterwards.
    await feed.publish("after");
    expect((await reader.waitForEvents(count + 1))[count]).toMatchObject({ data: "after", id: String(count + 1) });
    expect(closed).toEqual([]);
    reader.close();
  });

  it("receives 100 000 events added synchronously to an SseStream", async () => {
    const { app, closed } = appWithReasons();
    const count = 100_000;
    app.get("/many", () => {
      const stream = new SseStream();
      setTimeout(() => {
        for (let i = 0; i < count; i++) stream.add(new SseEvent(`event number ${i} with some padding`, { id: String(i) }));
        stream.close();
      }, 20);
      return stream;
    });
    const client = await start(app);
    const res = await client.sse("/many", { timeoutMs: 30_000 });
    expect(res.endedBy).toBe("server-closed");
    expect(res.events.length).toBe(count);
    expect(res.events.every((e, i) => e.id === String(i) && e.data === `event number ${i} with some padding`)).toBe(true);
    expect(closed).toEqual([{ reason: "end", eventsSent: count, eventsDropped: 0 }]);
  }, 60_000);

  it("receives one event larger than the limit, and the small one yielded before it", async () => {
    const { app, closed } = appWithReasons();
    const big = "b".repeat(3 * MiB);
    app.get("/big", async function* () {
      yield new SseEvent("small", { id: "1" });
      yield new SseEvent(big, { id: "2" });
      yield new SseEvent("after", { id: "3" });
    });
    const client = await start(app);
    const res = await client.sse("/big", { timeoutMs: 20_000 });
    expect(res.events.map((e) => [e.id, e.data.length])).toEqual([
      ["1", 5],
      ["2", big.length],
      ["3", 5],
    ]);
    expect(res.events[1]!.data).toBe(big);
    expect(closed).toEqual([{ reason: "end", eventsSent: 3, eventsDropped: 0 }]);
  });

  it("receives an event larger than the limit pushed to an SseStream", async () => {
    const { app, closed } = appWithReasons({ bufferLimit: 64 * 1024 });
    const big = "q".repeat(MiB);
    app.get("/big", () => {
      const stream = new SseStream();
      setTimeout(() => {
        stream.addData("small");
        stream.addData(big);
        stream.close();
      }, 20);
      return stream;
    });
    const client = await start(app);
    const res = await client.sse("/big", { timeoutMs: 20_000 });
    expect(res.events.map((e) => e.data.length)).toEqual([5, big.length]);
    expect(closed.map((c) => c.reason)).toEqual(["end"]);
  });
});

describe("a client that does not read", () => {
  it("is cut at about the limit (reason overflow), even when every turn queues more than the limit", async () => {
    const { app, closed } = appWithReasons({ bufferLimit: 256 * 1024, writeTimeoutMs: 0 });
    let stream!: SseStream;
    app.get("/s", () => (stream = new SseStream()));
    const client = await start(app);
    const stalled = await rawSse(portOf(client), "/s", { read: false });
    for (let i = 0; i < 100 && stream === undefined; i++) await sleep(5);
    const chunk = "c".repeat(100 * 1024);
    let turns = 0;
    // 512 KiB per turn, twice the limit: the first turns fill the socket, then the client is judged.
    for (; turns < 200 && !stream.closed; turns++) {
      for (let i = 0; i < 5; i++) stream.addData(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(stream.closed).toBe(true);
    expect(closed.map((c) => c.reason)).toEqual(["overflow"]);
    expect(app.openStreams).toBe(0);
    // Cut within a few turns of its socket filling up, not after the whole run.
    expect(turns).toBeLessThan(200);
    stalled.socket.destroy();
  });

  it("under drop-oldest, finally reads what its socket held, then the newest events, and never the dropped ones", async () => {
    const limit = 64 * 1024;
    const { app, closed } = appWithReasons({ bufferLimit: limit, overflow: "drop-oldest", writeTimeoutMs: 0 });
    let stream!: SseStream;
    app.get("/s", () => (stream = new SseStream()));
    const client = await start(app);
    const stalled = await rawSse(portOf(client), "/s", { read: false });
    for (let i = 0; i < 100 && stream === undefined; i++) await sleep(5);
    const total = 20_000;
    const padding = "y".repeat(500);
    for (let i = 0; i < total; i++) {
      stream.add(new SseEvent(padding, { id: String(i) }));
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    stream.close();
    await sleep(50); // the last turns are judged (and their oldest dropped) after close() too
    // The client starts reading: it gets everything still held, and the stream ends.
    const chunks: string[] = [];
    stalled.socket.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
    stalled.socket.resume();
    await stalled.closed;
    const dropped = stream.eventsDropped;
    expect(dropped).toBeGreaterThan(total / 2);
    const ids = [...chunks.join("").matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length + dropped).toBe(total);
    // Strictly increasing: nothing twice, nothing out of order.
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    // What the socket held when it stopped taking more (0..k), then one gap (the
    // dropped, oldest queued), then the newest events up to the very last one.
    const gapAt = ids.findIndex((id, i) => id !== i);
    expect(gapAt).toBeGreaterThan(0);
    const tail = ids.slice(gapAt);
    expect(tail.every((id, i) => id === tail[0]! + i)).toBe(true);
    expect(tail.at(-1)).toBe(total - 1);
    expect(tail[0]! - gapAt).toBe(dropped);
    // The newest kept fit in about the limit (frames are ~515 bytes).
    expect(tail.length * 515).toBeLessThanOrEqual(limit + 515);
    expect(closed).toEqual([{ reason: "end", eventsSent: total - dropped, eventsDropped: dropped }]);
  }, 60_000);
});

describe("producers that never wait", () => {
  it("an infinite sync generator read by a fast client does not stall other requests", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    let produced = 0;
    let finished = false;
    app.get("/firehose", function* () {
      try {
        for (;;) {
          produced++;
          yield "x";
        }
      } finally {
        finished = true;
      }
    });
    app.get("/ping", () => "pong");
    const { port, url } = await app.listen({ port: 0 });
    // The reader must run in another process: one in this process stalls with the
    // server, its socket fills and backpressure hides the starvation.
    const reader = spawnFastReader(port, "/firehose");
    try {
      for (let i = 0; i < 500 && produced < 100_000; i++) await sleep(10);
      expect(produced).toBeGreaterThanOrEqual(100_000);
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await fetch(`${url}/ping`);
        expect(await res.text()).toBe("pong");
        latencies.push(performance.now() - started);
      }
      // Generous: the property is "answered while the stream runs", not a speed.
      expect(Math.max(...latencies)).toBeLessThan(1000);
      const before = produced;
      await sleep(100);
      expect(produced).toBeGreaterThan(before); // the stream kept running meanwhile
    } finally {
      reader.kill();
    }
    for (let i = 0; i < 200 && !finished; i++) await sleep(10);
    expect(finished).toBe(true);
    await app.close({ graceMs: 1000 });
  }, 30_000);

  it("an async generator whose awaits never wait does not stall other requests either", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    let produced = 0;
    app.get("/firehose", async function* (req: Request) {
      while (!req.signal.aborted) {
        produced++;
        yield await Promise.resolve({ n: produced });
      }
    });
    app.get("/ping", () => "pong");
    const { port, url } = await app.listen({ port: 0 });
    const reader = spawnFastReader(port, "/firehose");
    try {
      for (let i = 0; i < 500 && produced < 50_000; i++) await sleep(10);
      expect(produced).toBeGreaterThanOrEqual(50_000);
      const started = performance.now();
      expect(await (await fetch(`${url}/ping`)).text()).toBe("pong");
      expect(performance.now() - started).toBeLessThan(1000);
    } finally {
      reader.kill();
    }
    await app.close({ graceMs: 1000 });
  }, 30_000);
});
