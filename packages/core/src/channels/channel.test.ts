import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { CelloError } from "../errors.js";
import { rawSse, sleep } from "../sse/raw-client.test-support.js";
import { startWithCleanup } from "../testing.js";
import { memoryBroker, type ChannelBroker } from "./broker.js";
import { expectOwnEventsWhileResuming, receiveWhileHopping, untilSize } from "./channel.test-support.js";

const start = startWithCleanup();

describe("channels (in-memory)", () => {
  it("broadcasts to every subscriber with monotonic string ids, serialising each event once", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const news = app.channel("news");
    app.get("/news", (req) => news.subscribe(req));
    const client = await start(app);
    const a = await client.openSse("/news");
    const b = await client.openSse("/news");
    await untilSize(app, "news", 2);
    let serialised = 0;
    const payload = { toJSON: () => (serialised++, { headline: "hello" }) };
    expect(await news.publish(payload, { event: "story" })).toBe("1");
    expect(await news.publish("plain text")).toBe("2");
    expect(serialised).toBe(1);
    for (const handle of [a, b]) {
      expect(await handle.waitForEvents(2)).toEqual([
        { event: "story", data: '{"headline":"hello"}', id: "1" },
        { event: "message", data: "plain text", id: "2" },
      ]);
      handle.close();
    }
    await untilSize(app, "news", 0);
  });

  it("replays what a client missed from Last-Event-ID or ?lastEventId=, then goes live", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const feed = app.channel("feed");
    app.get("/feed", (req) => feed.subscribe(req));
    const client = await start(app);
    for (let i = 1; i <= 5; i++) await feed.publish(`e${i}`);
    const fromHeader = await client.openSse("/feed", { lastEventId: "2" });
    const fromQuery = await client.openSse("/feed?lastEventId=4");
    await untilSize(app, "feed", 2);
    await feed.publish("e6");
    expect((await fromHeader.waitForEvents(4)).map((e) => [e.id, e.data])).toEqual([
      ["3", "e3"],
      ["4", "e4"],
      ["5", "e5"],
      ["6", "e6"],
    ]);
    expect((await fromQuery.waitForEvents(2)).map((e) => e.id)).toEqual(["5", "6"]);
    fromHeader.close();
    fromQuery.close();
  });

  it("sends a documented reset frame for an id older than the history or unknown, then live", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const ticks = app.channel("ticks", { history: 3 });
    app.get("/ticks", (req) => ticks.subscribe(req));
    const client = await start(app);
    for (let i = 1; i <= 10; i++) await ticks.publish(`t${i}`);
    const old = await client.openSse("/ticks", { lastEventId: "2" });
    const unknown = await client.openSse("/ticks", { lastEventId: "not-an-id" });
    const future = await client.openSse("/ticks", { lastEventId: "99" });
    await untilSize(app, "ticks", 3);
    await ticks.publish("t11");
    const expectReset = async (handle: typeof old, lastEventId: string) => {
      const [reset, live] = await handle.waitForEvents(2);
      expect(reset!.event).toBe("reset");
      expect(JSON.parse(reset!.data)).toEqual({ channel: "ticks", lastEventId, earliestId: "8" });
      expect([live!.id, live!.data]).toEqual(["11", "t11"]);
    };
    await expectReset(old, "2");
    await expectReset(unknown, "not-an-id");
    await expectReset(future, "99");
    // Still inside the history: a normal replay.
    const inside = await client.sse("/ticks", { lastEventId: "8", maxEvents: 3 });
    expect(inside.events.map((e) => e.id)).toEqual(["9", "10", "11"]);
    for (const h of [old, unknown, future]) h.close();
  });

  it("respects the history bound and the ttl", async () => {
    const app = new App();
    const bounded = app.channel("bounded", { history: 2 });
    for (let i = 0; i < 5; i++) await bounded.publish(String(i));
    expect(await app.broker.replay("bounded", "3")).toEqual({
      events: [
        { id: "4", data: "3" },
        { id: "5", data: "4" },
      ],
      reset: false,
      earliestId: "4",
    });
    expect((await app.broker.replay("bounded", "2")).reset).toBe(true);
    const fleeting = app.channel("fleeting", { ttlMs: 50 });
    await fleeting.publish("soon gone");
    expect((await app.broker.replay("fleeting", "0")).events.length).toBe(1);
    await sleep(80);
    const after = await app.broker.replay("fleeting", "0");
    expect([after.events.length, after.reset]).toEqual([0, true]);
  });

  it("delivers 1000 events exactly once, in order, to a subscriber that keeps reconnecting with Last-Event-ID", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const stream = app.channel("stream", { history: 2000 });
    app.get("/stream", (req) => stream.subscribe(req));
    const client = await start(app);
    const { received, reconnects } = await receiveWhileHopping(app, client, { channel: "stream", path: "/stream", count: 1000 });
    expect(reconnects).toBeGreaterThan(10);
    expect(received.map((e) => e.data)).toEqual(Array.from({ length: 1000 }, (_, i) => `n${i + 1}`));
    expect(received.every((e, i) => i === 0 || app.broker.compareIds(received[i - 1]!.id, e.id) < 0)).toBe(true);
  }, 60_000);

  it("resumes a filtered subscriber with exactly its own events while the other's arrive live during its catch-up", async () => {
    const app = new App({ sse: { heartbeatMs: 0 }, broker: slowReplay(memoryBroker()) });
    const inbox = app.channel("inbox", { history: 2000 });
    app.get("/inbox", (req) => inbox.subscribe(req, { filter: (m) => (JSON.parse(m.data) as { to: string }).to === req.query.user }));
    const client = await start(app);
    await expectOwnEventsWhileResuming(app, client, { channel: "inbox", path: (user) => `/inbox?user=${user}`, count: 900 });
  }, 60_000);

  it("filters per subscriber, counts size and reports joins and leaves", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const alerts = app.channel("alerts");
    const presence: string[] = [];
    alerts.onJoin((req) => presence.push(`join ${req.query.user}`)).onLeave((req) => presence.push(`leave ${req.query.user}`));
    app.get("/alerts", (req) => alerts.subscribe(req, { filter: (m) => JSON.parse(m.data).user === req.query.user }));
    const client = await start(app);
    const ann = await client.openSse("/alerts?user=ann");
    const bob = await client.openSse("/alerts?user=bob");
    await untilSize(app, "alerts", 2);
    for (const user of ["ann", "bob", "ann"]) await alerts.publish({ user });
    expect((await ann.waitForEvents(2)).map((e) => e.id)).toEqual(["1", "3"]);
    expect((await bob.waitForEvents(1)).map((e) => e.id)).toEqual(["2"]);
    ann.close();
    await untilSize(app, "alerts", 1);
    bob.close();
    await untilSize(app, "alerts", 0);
    expect(presence).toEqual(["join ann", "join bob", "leave ann", "leave bob"]);
  });

  it("subscribes to several channels or a pattern, with a composite id that resumes each channel", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const sport = app.channel("feed:sport");
    const tech = app.channel("feed:tech");
    app.channel("other");
    app.get("/feed", (req) => app.subscribe(req, "feed:*"));
    app.get("/none", (req) => app.subscribe(req, "nothing:*"));
    const client = await start(app);
    await sport.publish("s1");
    const first = await client.openSse("/feed");
    await untilSize(app, "feed:tech", 1);
    await tech.publish("t1");
    await sport.publish("s2");
    const got = await first.waitForEvents(2);
    // Each event once; events of different channels have no order between them (on
    // Redis, one reply of the reader lists them by channel), so none is asserted.
    expect(got.map((e) => e.data).sort()).toEqual(["s2", "t1"]);
    expect(new URLSearchParams(got[1]!.id).get("feed:sport")).toBe("2");
    expect(new URLSearchParams(got[1]!.id).get("feed:tech")).toBe("1");
    first.close();
    await untilSize(app, "feed:tech", 0);
    await tech.publish("t2");
    await sport.publish("s3");
    await app.channel("other").publish("never");
    const resumed = await client.sse("/feed", { lastEventId: got[1]!.id, maxEvents: 2 });
    expect(resumed.events.map((e) => e.data).sort()).toEqual(["s3", "t2"]);
    expect((await client.get("/nothing-here")).status).toBe(404);
    // A pattern that matches no channel is a 404 of its own, before any stream starts.
    const none = await client.get("/none");
    expect([none.status, none.json]).toEqual([404, { error: "Not Found: no channel matches nothing:*", status: 404 }]);
  });

  it("names every channel in the composite id, even one with no events yet, so nothing is lost on resume", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const news = app.channel("news");
    const alerts = app.channel("alerts");
    app.get("/both", (req) => app.subscribe(req, ["news", "alerts"]));
    const client = await start(app);
    await news.publish("n1");
    await news.publish("n2");
    const first = await client.openSse("/both");
    await untilSize(app, "alerts", 1);
    await news.publish("n3");
    const [seen] = await first.waitForEvents(1);
    expect(Object.fromEntries(new URLSearchParams(seen!.id))).toEqual({ news: "3", alerts: "" });
    first.close();
    await untilSize(app, "alerts", 0);
    await alerts.publish("a1"); // while the client is away, on the channel that had nothing before
    await news.publish("n4");
    const resumed = await client.sse("/both", { lastEventId: seen!.id, maxEvents: 2 });
    expect(resumed.events.map((e) => e.data).sort()).toEqual(["a1", "n4"]);
    // Every id of the replay names both channels.
    for (const event of resumed.events) expect([...new URLSearchParams(event.id).keys()].sort()).toEqual(["alerts", "news"]);
  });

  it("throws at once for what cannot be sent, so a fire-and-forget publish leaves no unhandled rejection", async () => {
    const app = new App();
    const x = app.channel("x");
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      const cases: Array<[unknown, { event?: string }, RegExp]> = [
        ["data", { event: "bad\nname" }, /event must not contain CR or LF/],
        ["data", { event: "bad\rname" }, /event must not contain CR or LF/],
        [cycle, {}, /data has no JSON form/],
        [10n, {}, /data has no JSON form/],
        [undefined, {}, /data must be a string or have a JSON form, got undefined/],
        [() => 1, {}, /got function/],
      ];
      for (const [data, options, message] of cases) {
        expect(() => void x.publish(data, options)).toThrow(expect.objectContaining({ code: "CELLO_INVALID_SSE_FIELD", message: expect.stringMatching(message) }));
      }
      await sleep(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    // Nothing reached the broker.
    expect(await app.broker.lastId("x")).toBeUndefined();
    expect(await x.publish(null)).toBe("1");
  });

  it("still rejects the promise when the broker fails, whether it rejects or throws", async () => {
    const failure = new CelloError("CELLO_BROKER_UNAVAILABLE", "the broker is down");
    const rejecting: ChannelBroker = { ...memoryBroker(), publish: () => Promise.reject(failure) };
    const throwing: ChannelBroker = {
      ...memoryBroker(),
      publish: () => {
        throw failure;
      },
    };
    for (const broker of [rejecting, throwing]) {
      const pending = new App({ broker }).channel("x").publish("data");
      await expect(pending).rejects.toBe(failure);
    }
  });

  it("does not let a stalled subscriber delay the others", async () => {
    const app = new App({ sse: { heartbeatMs: 0, bufferLimit: 128 * 1024 } });
    const firehose = app.channel("firehose");
    app.get("/firehose", (req) => firehose.subscribe(req));
    const reasons: string[] = [];
    app.addHook("onStreamClose", (_req, info) => reasons.push(info.reason));
    const client = await start(app);
    const stalled = await rawSse(Number(new URL(client.url).port), "/firehose", { read: false });
    const reader = await client.openSse("/firehose");
    await untilSize(app, "firehose", 2);
    const payload = "y".repeat(1000);
    for (let i = 0; i < 10_000; i++) {
      void firehose.publish(payload);
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    const events = await reader.waitForEvents(10_000, 30_000);
    expect(events.every((e, i) => e.id === String(i + 1))).toBe(true);
    expect(reasons).toEqual(["overflow"]);
    expect(firehose.size).toBe(1);
    stalled.socket.destroy();
    reader.close();
  }, 60_000);
});

/**
 * The memory broker with a replay that takes a few milliseconds, as a networked
 * broker's does, so that live events arrive while a subscriber catches up: half
 * the time before the history is read (they are in the replay and buffered
 * live), half the time after (they are only buffered).
 */
function slowReplay(broker: ChannelBroker): ChannelBroker {
  let calls = 0;
  return {
    ...broker,
    async replay(channel, afterId) {
      const readFirst = calls++ % 2 === 0;
      if (!readFirst) await sleep(2);
      const result = await broker.replay(channel, afterId);
      if (readFirst) await sleep(2);
      return result;
    },
  };
}
