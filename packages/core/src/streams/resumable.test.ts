// Resumable streams over real sockets, in one process (the memory broker): a
// client that drops mid-generation and resumes with Last-Event-ID gets the rest
// exactly once; the grace, a stop and the app's shutdown cancel the producer;
// another owner, a forged id or a foreign Last-Event-ID get a 4xx and no event.
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { memoryBroker, type ChannelBroker } from "../channels/broker.js";
import type { Guard } from "../guards/guard.js";
import { Response } from "../response.js";
import { SseEvent } from "../sse/event.js";
import { connect, createParser, recordingLogger, startWithCleanup, type ReceivedEvent } from "../testing.js";
import { ResumableStreams, type ResumableStreamsOptions } from "./resumable.js";

const start = startWithCleanup();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(ready: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A local fake model: `count` tokens, one every `delayMs`, that records how it ended. */
function fakeModel(count: number, delayMs: number) {
  const model = { produced: 0, cancelled: false, finished: false, tokens: Array.from({ length: count }, (_, i) => `tok${i} `) };
  async function* stream(signal: AbortSignal): AsyncGenerator<SseEvent> {
    try {
      for (const token of model.tokens) {
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => (clearTimeout(timer), reject(signal.reason));
          const timer = setTimeout(() => (signal.removeEventListener("abort", onAbort), resolve()), delayMs);
          signal.addEventListener("abort", onAbort, { once: true });
        });
        model.produced++;
        yield new SseEvent(token, { event: "token" });
      }
      model.finished = true;
    } finally {
      if (signal.aborted) model.cancelled = true;
    }
  }
  return { model, stream };
}

/** `x-user` is the principal's id (a stand-in for a real credential check). */
const user: Guard = (req) => {
  const id = req.getHeader("x-user");
  return id === undefined ? false : { principal: { id } };
};

function chatApp(model: ReturnType<typeof fakeModel>, options: ResumableStreamsOptions = {}) {
  const app = new App({ logger: recordingLogger(), sse: { heartbeatMs: 0 } });
  const chats = new ResumableStreams(app, options);
  app.post("/chat", (req) => chats.start(req, model.stream), { guards: [user] });
  app.get("/chat/streams/{id}", (req) => chats.resume(req, req.params.id!), { guards: [user] });
  app.delete("/chat/streams/{id}", async (req) => {
    await chats.stop(req, req.params.id!);
    return Response.noContent();
  }, { guards: [user] });
  return { app, chats };
}

const tokens = (events: ReceivedEvent[]) => events.filter((e) => e.event === "token").map((e) => e.data);
const endOf = (events: ReceivedEvent[]) => events.filter((e) => e.event === "end").map((e) => JSON.parse(e.data) as { reason: string });
const alice = { "x-user": "alice" };

describe("resumable streams in one process", () => {
  it("a client that drops mid-generation resumes with Last-Event-ID and gets the rest exactly once", async () => {
    const model = fakeModel(20, 15);
    const { app } = chatApp(model);
    const client = await start(app);
    const first = await client.openSse("/chat", { method: "POST", headers: alice });
    expect(first.status).toBe(200);
    const streamId = first.headers["cello-stream-id"]!;
    expect(streamId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await first.waitForEvents(5);
    first.close();
    const seen = [...first.events];
    const lastEventId = seen.at(-1)!.id;
    expect(lastEventId.startsWith(`${streamId}.`)).toBe(true);
    // The producer keeps going without a client.
    await sleep(60);
    const resumed = await client.sse(`/chat/streams/${streamId}`, { headers: alice, lastEventId, timeoutMs: 10_000 });
    expect(resumed.status).toBe(200);
    expect(resumed.endedBy).toBe("server-closed");
    const all = [...seen, ...resumed.events];
    expect(tokens(all).join("")).toBe(model.model.tokens.join(""));
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expect(endOf(resumed.events)).toEqual([{ reason: "done" }]);
    expect(model.model.cancelled).toBe(false);
  });

  it("a fetch client reconnecting to the same POST with Last-Event-ID resumes, without a second producer", async () => {
    let started = 0;
    const model = fakeModel(10, 10);
    const app = new App({ logger: recordingLogger(), sse: { heartbeatMs: 0 } });
    const chats = new ResumableStreams(app);
    app.post("/chat", (req) => chats.start(req, (signal) => (started++, model.stream(signal))));
    const client = await start(app);
    const first = await client.openSse("/chat", { method: "POST" });
    await first.waitForEvents(3);
    first.close();
    const rest = await client.sse("/chat", { method: "POST", lastEventId: first.events.at(-1)!.id, timeoutMs: 10_000 });
    expect(tokens([...first.events, ...rest.events]).join("")).toBe(model.model.tokens.join(""));
    expect(started).toBe(1);
    // A reload reads it all from the start: the whole answer, once.
    const reload = await client.sse(`/chat`, { method: "POST", lastEventId: `${first.headers["cello-stream-id"]}.0`, timeoutMs: 10_000 });
    expect(tokens(reload.events).join("")).toBe(model.model.tokens.join(""));
  });

  it("@cellojs/client's connect() POSTs, is cut off, reconnects to the same POST with Last-Event-ID and gets the rest once", async () => {
    let started = 0;
    const model = fakeModel(30, 10);
    const app = new App({ logger: recordingLogger(), sse: { heartbeatMs: 0 } });
    // Every response ends after ~60 ms (a proxy's timeout, a deploy): the client must come back.
    const chats = new ResumableStreams(app, { sse: { maxLifetimeMs: 60, lifetimeJitter: 0, retry: 5 } });
    app.post("/chat", async (req) => {
      const { prompt } = (await req.json()) as { prompt: string };
      expect(prompt).toBe("hi");
      return chats.start(req, (signal) => (started++, model.stream(signal)));
    });
    const client = await start(app);
    const received: ReceivedEvent[] = [];
    let connections = 0;
    for await (const event of connect(`${client.url}/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"prompt":"hi"}', onOpen: () => void connections++ })) {
      received.push(event);
      if (event.event === "end") break;
    }
    expect(connections).toBeGreaterThan(1);
    expect(started).toBe(1);
    expect(tokens(received).join("")).toBe(model.model.tokens.join(""));
    expect(new Set(received.map((e) => e.id)).size).toBe(received.length);
  });

  it("a reader that stalls while thousands of events arrive reads them all later, in order, once (history paged, live queue bounded)", async () => {
    const count = 4000;
    const chunk = "x".repeat(4000);
    const app = new App({ logger: recordingLogger(), sse: { heartbeatMs: 0 } });
    const chats = new ResumableStreams(app, { history: count });
    let release!: () => void;
    const go = new Promise<void>((resolve) => (release = resolve));
    app.post("/bulk", (req) =>
      chats.start(req, async function* () {
        await go;
        for (let i = 0; i < count; i++) yield `${i} ${chunk}`;
      }),
    );
    const client = await start(app);
    // Not read for now: the socket's buffers fill and the server's pump waits while the producer runs on.
    const res = await request(`${client.url}/bulk`, { method: "POST" });
    release();
    await until(() => chats.running === 0, "the producer to finish", 20_000);
    const seen: number[] = [];
    let end = "";
    const parser = createParser({ onEvent: (e) => (e.event === "end" ? (end = e.data) : seen.push(Number(e.data.slice(0, e.data.indexOf(" "))))) });
    for await (const part of res.body) parser.feed(part as Uint8Array);
    expect([seen.length, seen.at(-1), end]).toEqual([count, count - 1, '{"reason":"done"}']);
    expect(seen.every((n, i) => n === i)).toBe(true);
    expect(end).toBe('{"reason":"done"}');
  });

  it("live events that a slow replay also returns are sent once (a networked broker's round trip)", async () => {
    // The history is read 30 ms after the call, as a remote broker may: events published
    // meanwhile arrive live and are in the replay too (the ordering contract allows it).
    const inner = memoryBroker();
    const broker: ChannelBroker = { ...inner, replay: async (channel, afterId, options) => (await sleep(30), inner.replay(channel, afterId, options)) };
    const model = fakeModel(30, 5);
    const app = new App({ broker, logger: recordingLogger(), sse: { heartbeatMs: 0 } });
    const chats = new ResumableStreams(app);
    app.post("/chat", (req) => chats.start(req, model.stream));
    const client = await start(app);
    const res = await client.sse("/chat", { method: "POST", timeoutMs: 10_000 });
    expect(tokens(res.events).join("")).toBe(model.model.tokens.join(""));
    expect(new Set(res.events.map((e) => e.id)).size).toBe(res.events.length);
  });

  it("reading a stream from the start (a page reload) gives the whole answer once, then 204 after its end", async () => {
    const model = fakeModel(8, 5);
    const { app } = chatApp(model);
    const client = await start(app);
    const first = await client.sse("/chat", { method: "POST", headers: alice, timeoutMs: 10_000 });
    const streamId = first.headers["cello-stream-id"]!;
    const again = await client.sse(`/chat/streams/${streamId}`, { headers: alice, timeoutMs: 10_000 });
    expect(again.events).toEqual(first.events);
    expect(tokens(again.events).join("")).toBe(model.model.tokens.join(""));
    // EventSource reconnects after the end with the end's id: 204 makes it stop.
    const after = await client.get(`/chat/streams/${streamId}`, { headers: { ...alice, "last-event-id": first.events.at(-1)!.id } });
    expect(after.status).toBe(204);
  });

  it("reading from the start a stream longer than its history answers 410 at once, not an empty stream that never ends", async () => {
    const model = fakeModel(10, 1);
    const { app } = chatApp(model, { history: 3 });
    const client = await start(app);
    const first = await client.openSse("/chat", { method: "POST", headers: alice });
    const streamId = first.headers["cello-stream-id"]!;
    await first.waitForEvents(11);
    first.close();
    // The first events were trimmed: a reload cannot have the whole answer. Before the fix this
    // answered 200 with no event and waited for live ones that never come (the stream had ended).
    const reload = await request(`${client.url}/chat/streams/${streamId}`, { headers: alice });
    const status = reload.statusCode;
    const body = status === 410 ? await reload.body.text() : (reload.body.destroy(), "");
    expect(status).toBe(410);
    expect(JSON.parse(body).error).toBe("Stream events no longer held");
  });

  it("the grace running out with no reader cancels the producer; the stream ends with reason cancelled", async () => {
    const model = fakeModel(200, 10);
    const { app, chats } = chatApp(model, { graceMs: 100 });
    const client = await start(app);
    const first = await client.openSse("/chat", { method: "POST", headers: alice });
    await first.waitForEvents(2);
    first.close();
    await until(() => model.model.cancelled, "the producer to be cancelled");
    expect(model.model.finished).toBe(false);
    await until(() => chats.running === 0, "the producer to be gone");
    const rest = await client.sse(`/chat/streams/${first.headers["cello-stream-id"]}`, { headers: alice, timeoutMs: 10_000 });
    expect(endOf(rest.events)).toEqual([{ reason: "cancelled" }]);
    expect(tokens(rest.events).length).toBe(model.model.produced);
  });

  it("a reader within the grace keeps the producer running", async () => {
    const model = fakeModel(30, 10);
    const { app } = chatApp(model, { graceMs: 150 });
    const client = await start(app);
    const first = await client.openSse("/chat", { method: "POST", headers: alice });
    await first.waitForEvents(2);
    first.close();
    await sleep(50);
    const rest = await client.sse(`/chat/streams/${first.headers["cello-stream-id"]}`, { headers: alice, lastEventId: first.events.at(-1)!.id, timeoutMs: 10_000 });
    expect(endOf(rest.events)).toEqual([{ reason: "done" }]);
    expect(model.model.cancelled).toBe(false);
  });

  it("a stop (DELETE) cancels the producer and ends every reader's stream with reason stopped", async () => {
    const model = fakeModel(500, 10);
    const { app, chats } = chatApp(model);
    const client = await start(app);
    const reader = await client.openSse("/chat", { method: "POST", headers: alice });
    await reader.waitForEvents(2);
    const streamId = reader.headers["cello-stream-id"]!;
    expect((await client.delete(`/chat/streams/${streamId}`, { headers: alice })).status).toBe(204);
    await reader.waitForEnd(10_000);
    expect(model.model.cancelled).toBe(true);
    expect(endOf(reader.events)).toEqual([{ reason: "stopped" }]);
    expect(chats.running).toBe(0);
    // Stopping again: nothing to do, same answer.
    expect((await client.delete(`/chat/streams/${streamId}`, { headers: alice })).status).toBe(204);
  });

  it("another principal gets 404 on resume and stop, never an event, and the producer runs on", async () => {
    const model = fakeModel(40, 10);
    const { app } = chatApp(model);
    const client = await start(app);
    const reader = await client.openSse("/chat", { method: "POST", headers: alice });
    await reader.waitForEvents(1);
    const streamId = reader.headers["cello-stream-id"]!;
    const mallory = await client.sse(`/chat/streams/${streamId}`, { headers: { "x-user": "mallory" }, timeoutMs: 2000 });
    expect(mallory.status).toBe(404);
    expect(mallory.events).toEqual([]);
    expect(mallory.raw).not.toContain("tok");
    expect((await client.delete(`/chat/streams/${streamId}`, { headers: { "x-user": "mallory" } })).status).toBe(404);
    // Nor through the POST route with her Last-Event-ID.
    const viaPost = await client.sse("/chat", { method: "POST", headers: { "x-user": "mallory" }, lastEventId: reader.events[0]!.id, timeoutMs: 2000 });
    expect(viaPost.status).toBe(404);
    await reader.waitForEnd(10_000);
    expect(endOf(reader.events)).toEqual([{ reason: "done" }]);
  });

  it("hostile ids and Last-Event-IDs get a clear 4xx and nothing else", async () => {
    const model = fakeModel(3, 1);
    const { app } = chatApp(model);
    const client = await start(app);
    const a = await client.sse("/chat", { method: "POST", headers: alice, timeoutMs: 10_000 });
    const b = await client.sse("/chat", { method: "POST", headers: alice, timeoutMs: 10_000 });
    const idA = a.headers["cello-stream-id"]!;
    const status = async (path: string, lastEventId?: string) => {
      const res = await client.get(path, { headers: lastEventId === undefined ? alice : { ...alice, "last-event-id": lastEventId } });
      expect(res.text).not.toContain("tok");
      return [res.status, res.status >= 400 ? res.json.error : ""];
    };
    expect(await status("/chat/streams/nope")).toEqual([404, "Stream not found"]);
    expect(await status(`/chat/streams/${"A".repeat(22)}`)).toEqual([404, "Stream not found"]);
    // Longer than the router takes for a parameter: its own 404, before any lookup.
    expect((await status(`/chat/streams/${"x".repeat(5000)}`))[0]).toBe(404);
    expect(await status(`/chat/streams/${idA}`, b.events[0]!.id)).toEqual([400, "Invalid Last-Event-ID: it names another stream"]);
    expect(await status(`/chat/streams/${idA}`, `${idA}.abc`)).toEqual([400, "Invalid Last-Event-ID"]);
    expect(await status(`/chat/streams/${idA}`, `${idA}.99999`)).toEqual([410, "Stream events no longer held"]);
    expect(await status(`/chat/streams/${idA}`, "garbage")).toEqual([400, "Invalid Last-Event-ID: it names another stream"]);
    const viaPost = await client.post("/chat", { headers: { ...alice, "last-event-id": "no-dot-here" } });
    expect([viaPost.status, viaPost.json.error]).toEqual([400, "Invalid Last-Event-ID"]);
  });

  it("a finished stream expires after ttlMs: 404, and its channels are deleted", async () => {
    const model = fakeModel(3, 1);
    const { app } = chatApp(model, { ttlMs: 100 });
    const client = await start(app);
    const done = await client.sse("/chat", { method: "POST", headers: alice, timeoutMs: 10_000 });
    const streamId = done.headers["cello-stream-id"]!;
    expect((await client.get(`/chat/streams/${streamId}`, { headers: alice })).status).toBe(200);
    await sleep(300);
    expect((await client.get(`/chat/streams/${streamId}`, { headers: alice })).status).toBe(404);
    expect((await app.broker.replay(`\u001fcello.stream:${streamId}`, "")).events).toEqual([]);
  });

  it("a producer that throws ends the stream with reason error, logged, its message not sent", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, sse: { heartbeatMs: 0 } });
    const chats = new ResumableStreams(app);
    app.post("/chat", (req) =>
      chats.start(req, async function* () {
        yield "one";
        throw new Error("secret upstream detail");
      }),
    );
    const client = await start(app);
    const res = await client.sse("/chat", { method: "POST", timeoutMs: 10_000 });
    expect(res.events.map((e) => [e.event, e.data])).toEqual([
      ["message", "one"],
      ["end", '{"reason":"error"}'],
    ]);
    expect(res.raw).not.toContain("secret");
    expect(logger.errors.map(([message]) => message)).toEqual(["resumable stream: the producer failed"]);
  });

  it("app.close() cancels the producers it runs (reason shutdown)", async () => {
    const model = fakeModel(1000, 10);
    const { app, chats } = chatApp(model);
    const client = await start(app);
    const reader = await client.openSse("/chat", { method: "POST", headers: alice });
    await reader.waitForEvents(1);
    await app.close({ graceMs: 2000 });
    // close() waited for the end to be published, while the broker was still open.
    expect(model.model.cancelled).toBe(true);
    expect(chats.running).toBe(0);
    const history = await app.broker.replay(`\u001fcello.stream:${reader.headers["cello-stream-id"]}`, "");
    expect(history.events.at(-1)).toMatchObject({ event: "end", data: '{"reason":"shutdown"}' });
  });

  it("refuses bad options where they are set", () => {
    const app = new App();
    expect(() => new ResumableStreams(app, { graceMs: Number.NaN })).toThrow(/graceMs/);
    expect(() => new ResumableStreams(app, { ttlMs: -1 })).toThrow(/ttlMs/);
    expect(() => new ResumableStreams(app, { history: 0 })).toThrow(/history/);
    expect(() => new ResumableStreams(app, { owner: "x" as never })).toThrow(/owner/);
  });
});
