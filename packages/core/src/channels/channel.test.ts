// Channels on the in-memory broker: what does not depend on the broker. What every
// broker must do (replay, resets, resume with no gap or duplicate, composite ids...)
// is the conformance suite of @cellojs/testing, run in broker-conformance.test.ts.
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { CelloError } from "../errors.js";
import { rawSse, sleep } from "../sse/raw-client.test-support.js";
import { startWithCleanup } from "../testing.js";
import { memoryBroker, type ChannelBroker } from "./broker.js";
import { untilSize } from "./channel.test-support.js";

const start = startWithCleanup();

describe("channels (in-memory)", () => {
  it("numbers each channel's events \"1\", \"2\", ... (memoryBroker's ids, as documented)", async () => {
    const app = new App();
    const news = app.channel("news");
    expect(await news.publish({ headline: "hello" }, { event: "story" })).toBe("1");
    expect(await news.publish("plain text")).toBe("2");
    expect(await app.channel("other").publish("x")).toBe("1");
    expect(await app.broker.replay("news", "")).toEqual({
      events: [
        { id: "1", event: "story", data: '{"headline":"hello"}' },
        { id: "2", data: "plain text" },
      ],
      reset: false,
      earliestId: "1",
    });
  });

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

