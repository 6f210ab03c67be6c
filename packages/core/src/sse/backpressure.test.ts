import { afterEach, describe, expect, it } from "vitest";
import { App, engineOf } from "../app.js";
import { TestClient } from "../testing.js";
import type { SseOptions } from "./options.js";
import { SseEvent } from "./event.js";
import { rawSse, sleep } from "./raw-client.test-support.js";
import { SseStream } from "./stream.js";

const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const LIMIT = 256 * 1024;
const EVENTS = 20_000; // 20 MB of 1 KB events: far more than the kernel buffers of a stalled loopback socket
const payload = "x".repeat(1000);
const PER_TURN = 100; // events pushed per turn of the event loop
// Most a stalled client may hold: the limit, plus the last write its socket
// accepted (one turn's frames), the turn that crossed the limit, and the two
// turns queued before the verdict (the engine judges at the pass after next,
// so that a client that reads gets a poll phase to drain).
const STALLED_BOUND = LIMIT + 4 * PER_TURN * 1100;

async function broadcastScenario(sse: SseOptions) {
  const app = new App({ sse: { bufferLimit: LIMIT, heartbeatMs: 0, ...sse } });
  const subscribers = new Set<SseStream>();
  const closeReasons: string[] = [];
  const dropped: number[] = [];
  app.addHook("onStreamClose", (_req, info) => {
    closeReasons.push(info.reason);
    dropped.push(info.eventsDropped);
  });
  app.get("/feed", () => {
    const stream = new SseStream();
    subscribers.add(stream);
    stream.onClose(() => subscribers.delete(stream));
    return stream;
  });
  const client = await TestClient.start(app);
  clients.push(client);
  const port = Number(new URL(client.url).port);

  const stalled = await rawSse(port, "/feed", { read: false });
  const reader = await client.openSse("/feed");
  for (let i = 0; i < 100 && subscribers.size < 2; i++) await sleep(5);
  expect(subscribers.size).toBe(2);

  let maxBuffered = 0;
  const streams = [...subscribers];
  for (let sent = 0; sent < EVENTS; ) {
    for (let i = 0; i < PER_TURN; i++, sent++) {
      const event = new SseEvent(payload, { id: String(sent) });
      for (const stream of streams) stream.add(event);
    }
    for (const connection of engineOf(app).connections) maxBuffered = Math.max(maxBuffered, connection.bufferedBytes);
    await new Promise((r) => setImmediate(r));
  }
  const received = await reader.waitForEvents(EVENTS, 30_000);
  return { app, stalled, reader, received, maxBuffered, closeReasons, dropped, streams };
}

describe("backpressure and slow clients", () => {
  it("closes a stalled reader at its buffer limit while another client on the same broadcast gets every event", async () => {
    const { app, received, maxBuffered, closeReasons, stalled } = await broadcastScenario({ overflow: "close" });
    expect(received.length).toBe(EVENTS);
    expect(received.every((e, i) => e.id === String(i) && e.data === payload)).toBe(true);
    expect(closeReasons).toEqual(["overflow"]);
    // Bounded: never more than the limit, plus what the last turns queued, held for one client.
    expect(maxBuffered).toBeLessThanOrEqual(STALLED_BOUND);
    // The server let go of it (a paused client never reads the FIN, so ask the server, not the client).
    expect(app.openStreams).toBe(1);
    stalled.socket.destroy();
  }, 60_000);

  it("drops the oldest events for a stalled reader under drop-oldest, counts them, and keeps the stream", async () => {
    const { app, received, maxBuffered, closeReasons, streams, stalled } = await broadcastScenario({ overflow: "drop-oldest", writeTimeoutMs: 0 });
    expect(received.length).toBe(EVENTS);
    expect(received.every((e, i) => e.id === String(i))).toBe(true);
    expect(closeReasons).toEqual([]);
    expect(maxBuffered).toBeLessThanOrEqual(STALLED_BOUND);
    const stalledStream = streams.find((s) => s.eventsDropped > 0)!;
    expect(stalledStream).toBeDefined();
    expect(stalledStream.eventsDropped).toBeGreaterThan(EVENTS / 2);
    // The deprecated name reads the same count.
    expect(stalledStream.droppedCount).toBe(stalledStream.eventsDropped);
    expect(app.openStreams).toBe(2);
    stalled.socket.destroy();
  }, 60_000);

  it("closes a client whose socket does not drain within the write timeout", async () => {
    const { app, closeReasons, received, stalled } = await broadcastScenario({ overflow: "drop-oldest", writeTimeoutMs: 300 });
    expect(received.length).toBe(EVENTS);
    for (let i = 0; i < 100 && closeReasons.length === 0; i++) await sleep(10);
    expect(closeReasons).toEqual(["write-timeout"]);
    expect(app.openStreams).toBe(1);
    stalled.socket.destroy();
  }, 60_000);

  it("makes a pull producer wait for a slow socket instead of buffering without bound", async () => {
    const app = new App({ sse: { heartbeatMs: 0, bufferLimit: LIMIT } });
    let produced = 0;
    app.get("/firehose", function* () {
      for (;;) {
        produced++;
        yield payload;
      }
    });
    const client = await TestClient.start(app);
    clients.push(client);
    const stalled = await rawSse(Number(new URL(client.url).port), "/firehose", { read: false });
    await sleep(300);
    const [connection] = engineOf(app).connections;
    expect(connection).toBeDefined();
    expect(connection!.bufferedBytes).toBeLessThanOrEqual(LIMIT);
    const plateau = produced;
    await sleep(200);
    expect(produced).toBe(plateau); // waiting on drain, not spinning
    stalled.socket.destroy();
  });
});
