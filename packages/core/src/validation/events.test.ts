// The development check of an SSE route's events against `schema.events`, over a
// real socket, for each producer style: SseStream, generators, channel subscriptions.
import * as v from "valibot";
import { afterEach, describe, expect, test, vi } from "vitest";
import { z } from "zod";
import { App, engineOf } from "../app.js";
import { Authenticated } from "../guards/authenticated.js";
import { untilSize } from "../channels/channel.test-support.js";
import { CheckedSseConnection } from "../sse/checked-connection.js";
import { SseConnection } from "../sse/connection.js";
import { SseEvent } from "../sse/event.js";
import { SseStream } from "../sse/stream.js";
import { recordingLogger, startWithCleanup } from "../testing.js";
import { eventsOf } from "./events.js";

const start = startWithCleanup();
afterEach(() => vi.unstubAllEnvs());

const events = {
  tick: z.object({ n: z.number().int() }),
  note: z.string().max(10),
  message: z.object({ text: z.string() }),
};

describe("eventsOf", () => {
  test("reads frames back as a client dispatches them", () => {
    expect(eventsOf("id: 1\nevent: tick\nretry: 5\ndata: {\"n\":1}\n\n")).toEqual([{ name: "tick", data: '{"n":1}' }]);
    expect(eventsOf("data: a\ndata: b\n\n")).toEqual([{ name: "message", data: "a\nb" }]);
    expect(eventsOf(": comment\n\n")).toEqual([]);
    expect(eventsOf("retry: 100\n\n")).toEqual([]);
    expect(eventsOf("event: a\ndata: 1\n\nevent: b\ndata\n\n")).toEqual([{ name: "a", data: "1" }, { name: "b", data: "" }]);
  });
});

describe("event schemas (development)", () => {
  test("SseStream: valid events go out; an invalid one is not sent, is logged naming route and event, and ends the stream with an error event", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    app.get("/feed", () => {
      const stream = new SseStream();
      stream.addEvent("tick", JSON.stringify({ n: 1 }));
      stream.addEvent("note", "plain text");
      // Text that also parses as JSON (a number): a string schema still takes it as text.
      stream.addEvent("note", "42");
      stream.addData(JSON.stringify({ text: "hi" }));
      stream.addEvent("tick", JSON.stringify({ n: 1.5 }));
      stream.addEvent("tick", JSON.stringify({ n: 3 }));
      return stream;
    }, { schema: { events } });
    const client = await start(app);
    const res = await client.sse("/feed");
    expect(res.endedBy).toBe("server-closed");
    expect(res.events.map((e) => [e.event, e.data])).toEqual([
      ["tick", '{"n":1}'],
      ["note", "plain text"],
      ["note", "42"],
      ["message", '{"text":"hi"}'],
      ["error", '{"error":"Internal Server Error","status":500}'],
    ]);
    expect(logger.errors).toHaveLength(1);
    const [message, err] = logger.errors[0]!;
    expect(message).toBe("Invalid SSE event in GET /feed; the stream ends with an error event");
    expect((err as Error & { code: string }).code).toBe("CELLO_INVALID_SSE_EVENT");
    expect((err as Error).message).toMatch(/^SSE event does not match its schema: GET \/feed: event "tick" does not match its schema: \/n: /);
  });

  test("a guard's expiry ends a checked stream with its own reauthenticate event, not with an error", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    const expiring = Authenticated({ verify: (token) => (token === "t" ? { principal: { id: "u" }, expiresAt: Date.now() + 300 } : undefined) });
    app.get("/feed", () => {
      const stream = new SseStream();
      stream.addEvent("tick", '{"n":1}');
      return stream;
    }, { schema: { events }, guards: [expiring] });
    const client = await start(app);
    const res = await client.sse("/feed", { headers: { authorization: "Bearer t" } });
    expect(res.events.map((e) => [e.event, e.data])).toEqual([
      ["tick", '{"n":1}'],
      ["reauthenticate", '{"reason":"expired"}'],
    ]);
    expect(logger.errors).toEqual([]);
  });

  test("an event the schema does not declare ends the stream, naming it and the declared ones", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    app.get("/feed", () => {
      const stream = new SseStream();
      stream.addEvent("tick", '{"n":1}');
      setTimeout(() => stream.addEvent("tock", '{"n":2}'), 20);
      return stream;
    }, { schema: { events } });
    const client = await start(app);
    const res = await client.sse("/feed");
    expect(res.events.map((e) => e.event)).toEqual(["tick", "error"]);
    expect((logger.errors[0]![1] as Error).message).toBe(
      'SSE event does not match its schema: GET /feed: event "tock" is not declared in schema.events (declared: "tick", "note", "message")',
    );
  });

  test("generators: yielded objects are checked as the `message` event, SseEvents by their name; the producer's finally runs", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    let finished = false;
    app.get("/gen", async function* () {
      try {
        yield { text: "one" };
        yield new SseEvent(JSON.stringify({ n: 2 }), { event: "tick" });
        yield { text: 3 };
        yield { text: "never sent" };
      } finally {
        finished = true;
      }
    }, { schema: { events } });
    const client = await start(app);
    const res = await client.sse("/gen");
    expect(res.events.map((e) => [e.event, e.data])).toEqual([
      ["message", '{"text":"one"}'],
      ["tick", '{"n":2}'],
      ["error", '{"error":"Internal Server Error","status":500}'],
    ]);
    await vi.waitFor(() => expect(finished).toBe(true));
    expect((logger.errors[0]![1] as Error).message).toMatch(/GET \/gen: event "message" does not match its schema: \/text: /);
  });

  test("the framework's own error event passes: a producer that throws still ends with it, logged once as a producer failure", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    app.get("/fails", async function* () {
      yield { text: "ok" };
      throw new Error("producer broke");
    }, { schema: { events } });
    const client = await start(app);
    const res = await client.sse("/fails");
    expect(res.events.map((e) => e.event)).toEqual(["message", "error"]);
    expect(logger.errors.map(([message]) => message)).toEqual(["SSE producer failed"]);
  });

  test("channel publishes are checked per route: the route with a schema ends, another route on the same channel keeps streaming", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    const prices = app.channel("prices");
    app.get("/checked", (req) => prices.subscribe(req), { schema: { events: { price: v.object({ symbol: v.string(), price: v.number() }) } } });
    app.get("/unchecked", (req) => prices.subscribe(req));
    const client = await start(app);
    const checked = await client.openSse("/checked");
    const unchecked = await client.openSse("/unchecked");
    await untilSize(app, "prices", 2);
    await prices.publish({ symbol: "ACME", price: 12.5 }, { event: "price" });
    await prices.publish({ symbol: "ACME", price: "12.6" }, { event: "price" });
    await prices.publish({ symbol: "ACME", price: 12.7 }, { event: "price" });
    await checked.waitForEnd();
    expect(checked.events.map((e) => [e.event, e.data])).toEqual([
      ["price", '{"symbol":"ACME","price":12.5}'],
      ["error", '{"error":"Internal Server Error","status":500}'],
    ]);
    expect((await unchecked.waitForEvents(3)).map((e) => JSON.parse(e.data).price)).toEqual([12.5, "12.6", 12.7]);
    expect((logger.errors[0]![1] as Error).message).toMatch(/GET \/checked: event "price" does not match its schema: \/price: /);
    unchecked.close();
    await untilSize(app, "prices", 0);
  });

  test("fan-out: one bad publish to many checked subscribers is validated and logged once, and ends every one of their streams", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    const feed = app.channel("feed");
    const schema = z.object({ n: z.number() });
    const validate = vi.spyOn(schema["~standard"], "validate");
    app.get("/feed", (req) => feed.subscribe(req), { schema: { events: { tick: schema } } });
    const client = await start(app);
    const readers = await Promise.all(Array.from({ length: 5 }, () => client.openSse("/feed")));
    await untilSize(app, "feed", 5);
    await feed.publish({ n: 1 }, { event: "tick" });
    await feed.publish({ n: "two" }, { event: "tick" });
    for (const reader of readers) {
      await reader.waitForEnd();
      expect(reader.events.map((e) => [e.event, e.data])).toEqual([
        ["tick", '{"n":1}'],
        ["error", '{"error":"Internal Server Error","status":500}'],
      ]);
    }
    expect(logger.errors).toHaveLength(1);
    // {"n":1} passes as JSON at once; {"n":"two"} fails as JSON, then as text: 1 + 2 calls, whatever the subscriber count.
    expect(validate).toHaveBeenCalledTimes(3);
  });

  test("an async event schema is refused with a clear error (events are checked as they are sent)", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    const asyncSchema = z.object({ n: z.number() }).refine(async () => true);
    app.get("/async", () => {
      const stream = new SseStream();
      stream.addEvent("tick", '{"n":1}');
      return stream;
    }, { schema: { events: { tick: asyncSchema } } });
    const client = await start(app);
    const res = await client.sse("/async");
    expect(res.events.map((e) => e.event)).toEqual(["error"]);
    expect((logger.errors[0]![1] as Error).message).toMatch(/validates asynchronously; event schemas must be synchronous/);
  });

  test("off in production: plain connections, events unchecked; validation.events forces it on", async () => {
    vi.stubEnv("NODE_ENV", "production");
    const make = (force?: boolean) => {
      const app = new App({ logger: recordingLogger(), sse: { heartbeatMs: 0 }, validation: force ? { events: true } : undefined });
      app.get("/feed", () => {
        const stream = new SseStream();
        stream.addEvent("tock", "anything");
        stream.close();
        return stream;
      }, { schema: { events } });
      return app;
    };
    const offApp = make();
    const off = await start(offApp);
    const handle = await off.openSse("/feed");
    expect([...engineOf(offApp).connections].every((c) => c.constructor === SseConnection)).toBe(true);
    await handle.waitForEnd();
    expect(handle.events.map((e) => [e.event, e.data])).toEqual([["tock", "anything"]]);
    const onApp = make(true);
    const on = await start(onApp);
    expect((await on.sse("/feed")).events.map((e) => e.event)).toEqual(["error"]);
  });

  test("in development, only routes with schema.events get a checked connection", async () => {
    const app = new App({ logger: recordingLogger(), sse: { heartbeatMs: 0 } });
    app.get("/checked", () => new SseStream(), { schema: { events } });
    app.get("/plain", () => new SseStream());
    const client = await start(app);
    const a = await client.openSse("/checked");
    const b = await client.openSse("/plain");
    const kinds = [...engineOf(app).connections].map((c) => c.constructor.name).sort();
    expect(kinds).toEqual([CheckedSseConnection.name, SseConnection.name].sort());
    a.close();
    b.close();
  });
});
