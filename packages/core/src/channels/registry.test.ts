import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { CelloError } from "../errors.js";
import type { Request } from "../request.js";
import { rawSse, sleep } from "../sse/raw-client.test-support.js";
import { recordingLogger, startWithCleanup, type TestClient } from "../testing.js";
import { untilSize } from "./channel.test-support.js";

const start = startWithCleanup();

/** The routes of a chat app whose room names come from requests. */
function roomsApp(options: ConstructorParameters<typeof App>[0] = {}): App {
  const app = new App({ sse: { heartbeatMs: 0 }, ...options });
  app.get("/rooms/{room}", (req) => app.subscribe(req, `room-${req.params.room}`));
  // Every room the app holds, or 404 when it holds none.
  app.get("/all-rooms", (req) => app.subscribe(req, { pattern: "room-*" }));
  return app;
}

/** Open `path` on a raw socket, wait for the stream to start (or an error's JSON body), then leave. Resolves with what was received. */
async function subscribeAndLeave(port: number, path: string): Promise<string> {
  const conn = await rawSse(port, path);
  const text = await conn.until((t) => t.includes(": ok") || (/^HTTP\/1\.1 [45]/.test(t) && t.endsWith("}")), 10_000);
  conn.socket.destroy();
  await conn.closed;
  return text;
}

const portOf = (client: TestClient) => Number(new URL(client.url).port);

/**
 * Wait until `count` streams are open. (`untilSize` would not do here: it asks
 * `app.channel(name)`, which makes app code the owner of a request-made channel.)
 */
async function untilStreams(app: App, count: number): Promise<void> {
  for (let i = 0; i < 500 && app.openStreams !== count; i++) await sleep(10);
  expect(app.openStreams).toBe(count);
}

describe("channel lifetime", () => {
  it("drops the channels app.subscribe() made for request names once their last subscriber leaves: 10 000 names, registry and heap back to baseline", async () => {
    const { setFlagsFromString } = await import("node:v8");
    const { runInNewContext } = await import("node:vm");
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    // A low cap: any channel left behind would soon turn requests into 503s.
    const app = roomsApp({ maxChannels: 200 });
    const client = await start(app);
    const port = portOf(client);
    // Keeps only the answers that were not a stream (none, if all is well): nothing else of a cycle stays in the heap.
    const refused: string[] = [];
    const run = async (label: string, count: number) => {
      for (let done = 0; done < count; done += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, (_, i) => subscribeAndLeave(port, `/rooms/${label}${done + i}`)));
        for (const text of batch) if (!text.startsWith("HTTP/1.1 200")) refused.push(text);
      }
      await untilStreams(app, 0);
    };
    await run("warm", 1000);
    await sleep(100);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    await run("r", 10_000);
    expect(refused).toEqual([]);
    // HEAD and a client gone before the headers make a subscription that never streams: nothing stays either.
    for (let i = 0; i < 200; i++) expect((await client.head(`/rooms/h${i}`)).status).toBe(200);
    await sleep(200);
    gc();
    gc();
    const heapAfter = process.memoryUsage().heapUsed;
    // Kept, they cost about 1 KB each (10 MB here); dropped, nothing measurable.
    expect(heapAfter - heapBefore).toBeLessThan(3 * 1024 * 1024);
    // The app holds no room channel any more.
    const all = await subscribeAndLeave(port, "/all-rooms");
    expect(all.slice(0, 12)).toBe("HTTP/1.1 404");
    expect(all).toContain('{"error":"Not Found: no channel matches room-*","status":404}');
  }, 180_000);

  it("keeps a request-made channel while a subscriber, or a response on its way, holds it", async () => {
    const app = roomsApp();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let responseMade = false;
    // The response exists, the stream has not started: the channel must not be dropped meanwhile.
    app.get("/slow/{room}", async (req: Request) => {
      const response = await app.subscribe(req, `room-${req.params.room}`);
      responseMade = true;
      await gate;
      return response;
    });
    const client = await start(app);
    // Once the headers are in, the subscriber is attached.
    const first = await client.openSse("/rooms/lobby");
    const pending = client.openSse("/slow/lobby");
    for (let i = 0; i < 500 && !responseMade; i++) await sleep(5);
    first.close();
    await untilStreams(app, 0);
    release();
    const second = await pending;
    // The stream went to the channel the app holds (its size counts it), and a publish to it reaches the client.
    const lobby = app.channel("room-lobby");
    expect(lobby.size).toBe(1);
    await lobby.publish("hello");
    expect((await second.waitForEvents(1)).map((e) => e.data)).toEqual(["hello"]);
    second.close();
  });

  it("keeps the channels app code asked for, subscribers or not, and the object it holds keeps working", async () => {
    const app = roomsApp();
    const kept = app.channel("room-kept");
    const client = await start(app);
    const first = await client.openSse("/rooms/kept");
    expect(kept.size).toBe(1);
    first.close();
    await untilStreams(app, 0);
    expect(kept.size).toBe(0);
    expect(app.channel("room-kept")).toBe(kept);
    const second = await client.openSse("/rooms/kept");
    await kept.publish("still here");
    expect((await second.waitForEvents(1)).map((e) => e.data)).toEqual(["still here"]);
    second.close();
    await untilStreams(app, 0);
    // Patterns still match it.
    const all = await client.openSse("/all-rooms");
    expect(all.status).toBe(200);
    all.close();
  });

  it("keeps a request-made channel once app code asks for it, with the options that code gives", async () => {
    const app = roomsApp();
    const client = await start(app);
    const subscriber = await client.openSse("/rooms/7");
    const room = app.channel("room-7", { history: 2 });
    expect(room.size).toBe(1);
    for (const text of ["a", "b", "c"]) await room.publish(text);
    expect((await subscriber.waitForEvents(3)).map((e) => e.data)).toEqual(["a", "b", "c"]);
    subscriber.close();
    await untilStreams(app, 0);
    // Still held, with history 2: resuming after "1" replays 2 and 3; "" (from the start) lost "1".
    expect(app.channel("room-7")).toBe(room);
    expect((await client.sse("/rooms/7", { lastEventId: "1", maxEvents: 2 })).events.map((e) => e.data)).toEqual(["b", "c"]);
    expect((await app.broker.replay("room-7", "")).reset).toBe(true);
  });

  it("caps the channels at maxChannels: app.channel() throws, a request gets a 503 and leaves nothing behind", async () => {
    const app = roomsApp({ maxChannels: 3, logger: { info() {}, warn() {}, error() {} } });
    app.get("/pair/{a}/{b}", (req) => app.subscribe(req, [`room-${req.params.a}`, `room-${req.params.b}`]));
    const a = app.channel("room-a");
    app.channel("room-b");
    const client = await start(app);
    const held = await client.openSse("/rooms/c");
    let thrown: unknown;
    try {
      app.channel("room-d");
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(CelloError);
    expect((thrown as CelloError).code).toBe("CELLO_TOO_MANY_CHANNELS");
    expect((thrown as CelloError).message).toMatch(/maxChannels is 3/);
    const refused = await subscribeAndLeave(portOf(client), "/rooms/d");
    expect(refused.slice(0, 12)).toBe("HTTP/1.1 503");
    expect(refused).toContain('\r\n\r\n{"error":"Too many channels","status":503}');
    // The channels the app holds still serve.
    const existing = await client.openSse("/rooms/a");
    expect(existing.status).toBe(200);
    existing.close();
    // Room for one more, two asked: refused as a whole, nothing made.
    await a.delete();
    expect((await subscribeAndLeave(portOf(client), "/pair/x/y")).slice(0, 12)).toBe("HTTP/1.1 503");
    const x = await client.openSse("/rooms/x");
    expect(x.status).toBe(200);
    x.close();
    held.close();
  });

  it("refuses a maxChannels that is not a positive integer or Infinity", () => {
    for (const maxChannels of [0, -1, 1.5, Number.NaN]) {
      expect(() => new App({ maxChannels })).toThrow(expect.objectContaining({ code: "CELLO_INVALID_OPTION" }));
    }
    expect(() => new App({ maxChannels: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it("delete() ends the subscribers' streams, drops the history and the name, and the old object refuses use", async () => {
    const logger = recordingLogger();
    const app = roomsApp({ logger });
    const room = app.channel("room-9");
    const presence: string[] = [];
    room.onJoin(() => presence.push("join")).onLeave(() => presence.push("leave"));
    app.get("/held", (req) => room.subscribe(req));
    const client = await start(app);
    const viaName = await client.openSse("/rooms/9");
    const viaObject = await client.openSse("/held");
    await untilSize(app, "room-9", 2);
    await room.publish("before");
    await viaName.waitForEvents(1);
    await room.delete();
    await viaName.waitForEnd();
    await viaObject.waitForEnd();
    // Joins ran; the streams delete() ended left without presence callbacks.
    expect(presence).toEqual(["join", "join"]);
    expect(() => void room.publish("after")).toThrow(expect.objectContaining({ code: "CELLO_CHANNEL_DELETED" }));
    // A route still holding the deleted object: a 500, and the reason in the log.
    expect((await client.get("/held")).status).toBe(500);
    expect(logger.errors.map(([, err]) => (err as CelloError).code)).toEqual(["CELLO_CHANNEL_DELETED"]);
    await room.delete(); // a second call does nothing
    // The name is free: a new channel, whose history starts empty (a resume is told to reset).
    const fresh = app.channel("room-9");
    expect(fresh).not.toBe(room);
    const resumed = await client.sse("/rooms/9", { lastEventId: "1", maxEvents: 1 });
    expect(resumed.events.map((e) => e.event)).toEqual(["reset"]);
    expect(await app.broker.lastId("room-9")).toBeUndefined();
  });
});
