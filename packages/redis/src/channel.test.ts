/**
 * Channels on the Redis broker, in one process: what only a shared backend shows
 * (another instance's events, the stream in Redis, Redis unreachable). What every
 * broker must do is the conformance suite of @cellojs/testing, run on Redis in
 * broker-conformance.test.ts.
 */
import { createServer } from "node:net";
import { App, silentLogger } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisBroker, type RedisBroker, type RedisBrokerOptions } from "./index.js";
import { adminConnection, connectionIds, deleteKeys, skipWithoutRedis, uniquePrefix } from "./redis.test-support.js";

/** The data of the events of one channel (its data start with `letter`), in the order received. */
const inChannel = (events: Array<{ data: string }>, letter: string) => events.filter((e) => e.data.startsWith(letter)).map((e) => e.data);

/** Wait until `name` has `size` subscribers on this instance. */
async function untilSize(app: App, name: string, size: number): Promise<void> {
  for (let i = 0; i < 500 && app.channel(name).size !== size; i++) await new Promise((r) => setTimeout(r, 10));
  expect(app.channel(name).size).toBe(size);
}

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

  it("a composite subscription keeps each channel's order when one XREAD reply lists two channels' entries by channel, not by time", async () => {
    const app = redisApp({ connectionName: `composite-${process.pid}-${Date.now()}` });
    const sport = app.channel("feed:sport");
    const tech = app.channel("feed:tech");
    app.get("/feed", (req) => app.subscribe(req, { pattern: "feed:*" }));
    const client = await start(app);
    await sport.publish("s1");
    const first = await client.openSse("/feed");
    await untilSize(app, "feed:tech", 1);
    const t1 = await tech.publish("t1");
    const s2 = await sport.publish("s2");
    // Two instances publishing while the reader is between two XREADs (here: its XREAD
    // interrupted first, as when a channel joins it): the next XREAD returns both channels'
    // entries in one reply, listed by channel (sport first), not by time.
    const [reader] = await connectionIds(admin, (app.broker as RedisBroker).connectionNames.reader);
    const replies = await admin.multi().client("UNBLOCK", reader!).xadd(`${prefix}feed:tech`, "*", "data", "t2").xadd(`${prefix}feed:sport`, "*", "data", "s3").exec();
    const [t2, s3] = replies!.slice(1).map(([, id]) => id as string);
    const got = await first.waitForEvents(4);
    // Each channel in its own order, each event once; channels have no order between them.
    expect(inChannel(got, "t")).toEqual(["t1", "t2"]);
    expect(inChannel(got, "s")).toEqual(["s2", "s3"]);
    expect(got).toHaveLength(4);
    const own = (data: string) => new URLSearchParams(got.find((e) => e.data === data)!.id);
    expect([own("t1").get("feed:tech"), own("t2").get("feed:tech"), own("s2").get("feed:sport"), own("s3").get("feed:sport")]).toEqual([t1, t2, s2, s3]);
    const last = got.at(-1)!.id;
    expect(Object.fromEntries(new URLSearchParams(last))).toEqual({ "feed:sport": s3, "feed:tech": t2 });
    first.close();
    await untilSize(app, "feed:tech", 0);
    await tech.publish("t3");
    await sport.publish("s4");
    await tech.publish("t4");
    const resumed = await client.sse("/feed", { lastEventId: last, maxEvents: 3 });
    expect([inChannel(resumed.events, "t"), inChannel(resumed.events, "s")]).toEqual([["t3", "t4"], ["s4"]]);
  });

  it("drops the channels app.subscribe() made for request names when their last subscriber leaves, events kept in Redis", async () => {
    const app = redisApp();
    app.get("/rooms/{room}", (req) => app.subscribe(req, `room-${req.params.room}`));
    app.get("/all-rooms", (req) => app.subscribe(req, { pattern: "room-*" }));
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

  it("delete() deletes the channel's stream in Redis: a client of another instance resuming after it is told to reset", async () => {
    // (That delete() ends this instance's streams, and resets a resume here, is in the conformance suite.)
    const app = redisApp();
    const other = redisApp();
    other.get("/doomed", (req) => other.subscribe(req, "doomed"));
    const client = await start(other);
    const room = app.channel("doomed");
    const first = await room.publish("one");
    expect(await admin.exists(`${prefix}doomed`)).toBe(1);
    await room.delete();
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
