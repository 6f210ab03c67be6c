/**
 * The channel tests of @cellojs/core (src/channels/channel.test.ts), run on a
 * Redis broker in one process: what a client sees must not depend on the broker.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { App, silentLogger } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
// Shared with core's in-memory channel tests, imported by path (test support is not part of any package's exports).
import { expectOwnEventsWhileResuming, receiveWhileHopping, untilSize } from "../../core/src/channels/channel.test-support.js";
import { redisBroker, type RedisBroker, type RedisBrokerOptions } from "./index.js";
import { adminConnection, connectionIds, deleteKeys, skipWithoutRedis, uniquePrefix } from "./redis.test-support.js";

/** The data of the events of one channel (its data start with `letter`), in the order received. */
const inChannel = (events: Array<{ data: string }>, letter: string) => events.filter((e) => e.data.startsWith(letter)).map((e) => e.data);

describe.skipIf(skipWithoutRedis)("channels on the Redis broker", () => {
  const prefix = uniquePrefix("channel");
  let admin: Redis;
  const clients: TestClient[] = [];
  const apps: App[] = [];

  function redisApp(options: RedisBrokerOptions = {}): App {
    const app = new App({ broker: redisBroker({ prefix, logger: silentLogger, ...options }), sse: { heartbeatMs: 0 }, logger: silentLogger });
    apps.push(app);
    return app;
  }
  async function start(app: App): Promise<TestClient> {
    const client = await TestClient.start(app);
    clients.push(client);
    return client;
  }

  beforeAll(() => {
    admin = adminConnection();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    // Apps never started still own broker connections.
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await deleteKeys(admin, prefix);
    admin.disconnect();
  });

  it("broadcasts to every subscriber with the Redis stream id as the SSE id", async () => {
    const app = redisApp();
    const news = app.channel("news");
    app.get("/news", (req) => news.subscribe(req));
    const client = await start(app);
    const a = await client.openSse("/news");
    const b = await client.openSse("/news");
    await untilSize(app, "news", 2);
    const first = await news.publish({ headline: "hello" }, { event: "story" });
    const second = await news.publish("plain text");
    for (const handle of [a, b]) {
      expect(await handle.waitForEvents(2)).toEqual([
        { event: "story", data: '{"headline":"hello"}', id: first },
        { event: "message", data: "plain text", id: second },
      ]);
      handle.close();
    }
    expect(first).toMatch(/^\d+-\d+$/);
  });

  it("replays what a client missed from Last-Event-ID or ?lastEventId=, then goes live", async () => {
    const app = redisApp();
    const feed = app.channel("feed");
    app.get("/feed", (req) => feed.subscribe(req));
    const client = await start(app);
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await feed.publish(`e${i}`));
    const fromHeader = await client.openSse("/feed", { lastEventId: ids[1] });
    const fromQuery = await client.openSse(`/feed?lastEventId=${ids[3]}`);
    await untilSize(app, "feed", 2);
    ids.push(await feed.publish("e6"));
    expect((await fromHeader.waitForEvents(4)).map((e) => [e.id, e.data])).toEqual([
      [ids[2], "e3"],
      [ids[3], "e4"],
      [ids[4], "e5"],
      [ids[5], "e6"],
    ]);
    expect((await fromQuery.waitForEvents(2)).map((e) => e.id)).toEqual([ids[4], ids[5]]);
    fromHeader.close();
    fromQuery.close();
  });

  it("sends the reset frame for an id older than the history, unknown or from the future, then live", async () => {
    const app = redisApp();
    const ticks = app.channel("ticks", { history: 3 });
    app.get("/ticks", (req) => ticks.subscribe(req));
    const client = await start(app);
    const ids: string[] = [];
    // Redis trims whole 100-entry nodes (MAXLEN ~): publish past a few of them.
    for (let i = 1; i <= 300; i++) ids.push(await ticks.publish(`t${i}`));
    const [[earliestId]] = (await admin.xrange(`${prefix}ticks`, "-", "+", "COUNT", 1)) as Array<[string, string[]]> as [[string, string[]]];
    const future = `${Number(ids.at(-1)!.split("-")[0]) + 60_000}-0`;
    const old = await client.openSse("/ticks", { lastEventId: ids[0] });
    const unknown = await client.openSse("/ticks", { lastEventId: "not-an-id" });
    const fromFuture = await client.openSse("/ticks", { lastEventId: future });
    await untilSize(app, "ticks", 3);
    const live = await ticks.publish("t301");
    const expectReset = async (handle: typeof old, lastEventId: string) => {
      const [reset, next] = await handle.waitForEvents(2);
      expect(reset!.event).toBe("reset");
      expect(JSON.parse(reset!.data)).toEqual({ channel: "ticks", lastEventId, earliestId });
      expect([next!.id, next!.data]).toEqual([live, "t301"]);
    };
    await expectReset(old, ids[0]!);
    await expectReset(unknown, "not-an-id");
    await expectReset(fromFuture, future);
    const inside = await client.sse("/ticks", { lastEventId: ids[297], maxEvents: 3 });
    expect(inside.events.map((e) => e.data)).toEqual(["t299", "t300", "t301"]);
    for (const h of [old, unknown, fromFuture]) h.close();
  });

  it("resumes far more history than bufferLimit, a page at a time, with live events meanwhile: each event once, in order", async () => {
    const app = redisApp();
    const archive = app.channel("archive", { history: 10_000 });
    const bufferLimit = 64 * 1024;
    app.get("/archive", (req) => archive.subscribe(req, { sse: { bufferLimit } }));
    const reasons: string[] = [];
    app.addHook("onStreamClose", (_req, info) => reasons.push(info.reason));
    const client = await start(app);
    const payload = "r".repeat(1000);
    const ids: string[] = [];
    // 3 MB of history, about 50 times the limit (published 100 at a time: one round trip each batch).
    for (let batch = 0; batch < 30; batch++) ids.push(...(await Promise.all(Array.from({ length: 100 }, () => archive.publish(payload)))));
    const reader = await client.openSse("/archive", { lastEventId: ids[0] });
    await untilSize(app, "archive", 1);
    // Live events while the history is being paged.
    for (let i = 0; i < 500; i++) {
      ids.push(await archive.publish(`live ${i}`));
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const events = await reader.waitForEvents(ids.length - 1, 30_000);
    expect(events.map((e) => e.id)).toEqual(ids.slice(1));
    expect(events.at(-1)!.data).toBe("live 499");
    expect(reasons).toEqual([]);
    reader.close();
  }, 60_000);

  it("delivers 1000 events exactly once, in order, to a subscriber that keeps reconnecting with Last-Event-ID", async () => {
    const app = redisApp();
    const stream = app.channel("stream", { history: 2000 });
    app.get("/stream", (req) => stream.subscribe(req));
    const client = await start(app);
    const { received, reconnects } = await receiveWhileHopping(app, client, { channel: "stream", path: "/stream", count: 1000 });
    expect(reconnects).toBeGreaterThan(10);
    expect(received.map((e) => e.data)).toEqual(Array.from({ length: 1000 }, (_, i) => `n${i + 1}`));
    expect(received.every((e, i) => i === 0 || app.broker.compareIds(received[i - 1]!.id, e.id) < 0)).toBe(true);
  }, 60_000);

  it("resumes a filtered subscriber with exactly its own events while the other's arrive live during its catch-up", async () => {
    const app = redisApp();
    const inbox = app.channel("inbox", { history: 2000 });
    app.get("/inbox", (req) => inbox.subscribe(req, { filter: (m) => (JSON.parse(m.data) as { to: string }).to === req.query.user }));
    const client = await start(app);
    await expectOwnEventsWhileResuming(app, client, { channel: "inbox", path: (user) => `/inbox?user=${user}`, count: 900 });
  }, 60_000);

  it("subscribes to several channels with a composite id that resumes each channel", async () => {
    const connectionName = `composite-${randomBytes(4).toString("hex")}`;
    const app = redisApp({ connectionName });
    const sport = app.channel("feed:sport");
    const tech = app.channel("feed:tech");
    app.get("/feed", (req) => app.subscribe(req, "feed:*"));
    const client = await start(app);
    const s1 = await sport.publish("s1");
    const first = await client.openSse("/feed");
    await untilSize(app, "feed:tech", 1);
    const t1 = await tech.publish("t1");
    const s2 = await sport.publish("s2");
    // Two instances publishing while the reader is between two XREADs (here: its
    // XREAD interrupted first, as when a channel joins it): the next XREAD returns
    // both channels' entries in one reply, listed by channel (sport first), not by time.
    const [reader] = await connectionIds(admin, (app.broker as RedisBroker).connectionNames.reader);
    const replies = await admin.multi().client("UNBLOCK", reader!).xadd(`${prefix}feed:tech`, "*", "data", "t2").xadd(`${prefix}feed:sport`, "*", "data", "s3").exec();
    const [t2, s3] = replies!.slice(1).map(([, id]) => id as string);
    const got = await first.waitForEvents(4);
    // Each channel in its own order, each event once; channels have no order between them.
    expect(inChannel(got, "t")).toEqual(["t1", "t2"]);
    expect(inChannel(got, "s")).toEqual(["s2", "s3"]);
    expect(got).toHaveLength(4);
    // Each event's id carries its own channel's id, and the last one the position in both.
    const own = (data: string) => new URLSearchParams(got.find((e) => e.data === data)!.id);
    expect([own("t1").get("feed:tech"), own("t2").get("feed:tech"), own("s2").get("feed:sport"), own("s3").get("feed:sport")]).toEqual([t1, t2, s2, s3]);
    const last = got.at(-1)!.id;
    expect(Object.fromEntries(new URLSearchParams(last))).toEqual({ "feed:sport": s3, "feed:tech": t2 });
    expect(s1).not.toBe(s2);
    first.close();
    await untilSize(app, "feed:tech", 0);
    await tech.publish("t3");
    await sport.publish("s4");
    await tech.publish("t4");
    const resumed = await client.sse("/feed", { lastEventId: last, maxEvents: 3 });
    expect([inChannel(resumed.events, "t"), inChannel(resumed.events, "s")]).toEqual([["t3", "t4"], ["s4"]]);
  });

  it("names every channel in the composite id, even one with no events yet, so nothing is lost on resume", async () => {
    const app = redisApp();
    const news = app.channel("news2");
    const alerts = app.channel("alerts2");
    app.get("/both", (req) => app.subscribe(req, ["news2", "alerts2"]));
    const client = await start(app);
    await news.publish("n1");
    await news.publish("n2");
    const first = await client.openSse("/both");
    await untilSize(app, "alerts2", 1);
    const n3 = await news.publish("n3");
    const [seen] = await first.waitForEvents(1);
    expect(Object.fromEntries(new URLSearchParams(seen!.id))).toEqual({ news2: n3, alerts2: "" });
    first.close();
    await untilSize(app, "alerts2", 0);
    await alerts.publish("a1"); // while the client is away, on the channel that had nothing before
    await news.publish("n4");
    const resumed = await client.sse("/both", { lastEventId: seen!.id, maxEvents: 2 });
    expect(resumed.events.map((e) => e.data).sort()).toEqual(["a1", "n4"]);
    for (const event of resumed.events) expect([...new URLSearchParams(event.id).keys()].sort()).toEqual(["alerts2", "news2"]);
  });

  it("drops the channels app.subscribe() made for request names when their last subscriber leaves, events kept in Redis", async () => {
    const app = redisApp();
    app.get("/rooms/{room}", (req) => app.subscribe(req, `room-${req.params.room}`));
    app.get("/all-rooms", (req) => app.subscribe(req, "room-*"));
    const client = await start(app);
    // Another instance (here: a second app on the same Redis) publishes to room-1.
    const other = redisApp();
    const published = await other.channel("room-1").publish("from elsewhere");
    for (let i = 0; i < 20; i++) {
      const handle = await client.openSse(`/rooms/${i}`);
      handle.close();
    }
    for (let i = 0; i < 500 && app.openStreams > 0; i++) await new Promise((r) => setTimeout(r, 10));
    // No room is held any more (a stream would answer 200).
    expect((await client.sse("/all-rooms", { timeoutMs: 500 })).status).toBe(404);
    // What was published to a dropped channel is still in Redis: a client resumes from before it.
    const resumed = await client.sse("/rooms/1", { lastEventId: "0-0", maxEvents: 1 });
    expect(resumed.events.map((e) => [e.id, e.data])).toEqual([[published, "from elsewhere"]]);
  });

  it("delete() deletes the channel's stream, for every instance, and a resume after it is told to reset", async () => {
    const app = redisApp();
    const room = app.channel("doomed");
    app.get("/doomed", (req) => app.subscribe(req, "doomed"));
    const client = await start(app);
    const subscriber = await client.openSse("/doomed");
    const first = await room.publish("one");
    await subscriber.waitForEvents(1);
    expect(await admin.exists(`${prefix}doomed`)).toBe(1);
    await room.delete();
    await subscriber.waitForEnd();
    expect(await admin.exists(`${prefix}doomed`)).toBe(0);
    const resumed = await client.sse("/doomed", { lastEventId: first, maxEvents: 1 });
    expect(resumed.events.map((e) => e.event)).toEqual(["reset"]);
  });

  it("answers a resuming client with the error event and ends the stream when Redis is unreachable", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const app = redisApp({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 200 });
    const feed = app.channel("feed");
    app.get("/feed", (req) => feed.subscribe(req));
    const client = await start(app);
    const res = await client.sse("/feed", { lastEventId: "1700000000000-0", timeoutMs: 5000 });
    expect(res.events).toEqual([{ event: "error", data: '{"error":"Service Unavailable","status":503}', id: "" }]);
    expect(res.endedBy).toBe("server-closed");
    // A publish Redis cannot take rejects its promise; a mistake in the call still throws at once.
    await expect(feed.publish("lost")).rejects.toMatchObject({ code: "CELLO_BROKER_UNAVAILABLE" });
    expect(() => void feed.publish("x", { event: "a\nb" })).toThrow(expect.objectContaining({ code: "CELLO_INVALID_SSE_FIELD" }));
  });
});
