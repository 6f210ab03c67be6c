// HTTP/1.1 pipelining: a client may send its next request on a keep-alive
// connection before the previous response came. node:http answers them in
// order, and gives a response its socket only once the one ahead has finished
// (RFC 9112, section 9.3.2: responses go out in the order the requests came).
// An SSE response queued that way must wait for its turn, then stream as any other.
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { TestClient, startWithCleanup } from "../testing.js";
import { pipelined, responses } from "./raw-client.test-support.js";
import type { SseCloseReason } from "./report.js";
import { SseStream } from "./stream.js";

const start = startWithCleanup();
const portOf = (client: TestClient) => Number(new URL(client.url).port);

/** A handler that answers only when `release()` is called. */
function gate(): { wait: Promise<void>; release: () => void } {
  let release!: () => void;
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { wait, release };
}

/** Resolves the first time `hook` runs for `path`. */
function streamOpened(app: App, path: string): Promise<void> {
  return new Promise((resolve) => app.addHook("onStreamOpen", (req) => void (req.path === path && resolve())));
}

describe("an SSE request pipelined behind another response", () => {
  it("is answered once the response ahead finished: its head, the events queued meanwhile, then live ones, each once", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const slow = gate();
    let stream!: SseStream;
    app.get("/slow", async () => {
      await slow.wait;
      return { slow: true };
    });
    app.get("/events", () => {
      stream = new SseStream();
      stream.addData("added before its turn");
      return stream;
    });
    const opened = streamOpened(app, "/events");
    const client = await start(app);
    const conn = await pipelined(portOf(client), ["/slow", "/events"]);
    await opened;
    // Nothing may overtake the response ahead.
    expect(conn.text()).toBe("");
    slow.release();
    await conn.until((text) => text.includes("added before its turn"));
    stream.addData("live");
    stream.close();
    await conn.until((text) => responses(text)[1]?.complete === true);
    const [json, sse, ...more] = responses(conn.text());
    expect(more).toEqual([]);
    expect(json!.head).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(json!.body)).toEqual({ slow: true });
    expect(sse!.head).toMatch(/^HTTP\/1\.1 200 /);
    expect(sse!.head).toMatch(/\r\ncontent-type: text\/event-stream/i);
    expect(sse!.body).toBe(": ok\n\ndata: added before its turn\n\ndata: live\n\n");
    conn.socket.destroy();
  });

  it("runs a pull producer only once its turn came, and the connection serves the next request after it", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const slow = gate();
    const steps: string[] = [];
    app.get("/slow", async () => {
      await slow.wait;
      steps.push("slow answered");
      return { slow: true };
    });
    app.get("/count", async function* () {
      steps.push("producer started");
      yield "one";
      yield "two";
    });
    app.get("/after", () => ({ after: true }));
    const opened = streamOpened(app, "/count");
    const client = await start(app);
    const conn = await pipelined(portOf(client), ["/slow", "/count", "/after"]);
    await opened;
    expect(steps).toEqual([]);
    slow.release();
    await conn.until((text) => responses(text)[2]?.complete === true);
    const [json, sse, after] = responses(conn.text());
    expect(JSON.parse(json!.body)).toEqual({ slow: true });
    expect(sse!.body).toBe(": ok\n\ndata: one\n\ndata: two\n\n");
    expect(JSON.parse(after!.body)).toEqual({ after: true });
    expect(steps).toEqual(["slow answered", "producer started"]);
    conn.socket.destroy();
  });

  it("stays open while it waits, and closes with reason client when the client leaves before its turn", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const slow = gate();
    const closes: SseCloseReason[] = [];
    let signal!: AbortSignal;
    app.addHook("onStreamClose", (_req, info) => void closes.push(info.reason));
    app.get("/slow", async () => {
      await slow.wait;
      return { slow: true };
    });
    app.get("/events", (req) => {
      signal = req.signal;
      return new SseStream();
    });
    const opened = streamOpened(app, "/events");
    const client = await start(app);
    const conn = await pipelined(portOf(client), ["/slow", "/events"]);
    await opened;
    await new Promise((resolve) => setImmediate(resolve));
    expect([closes, signal.aborted]).toEqual([[], false]);
    conn.socket.destroy();
    await conn.closed;
    for (let i = 0; i < 200 && closes.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect([closes, signal.aborted]).toEqual([["client"], true]);
    expect(app.openStreams).toBe(0);
    slow.release();
  });

  it("gets the shutdown frame after the response ahead when the app closes while it waits", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const slow = gate();
    const closes: SseCloseReason[] = [];
    app.addHook("onStreamClose", (_req, info) => void closes.push(info.reason));
    app.get("/slow", async () => {
      await slow.wait;
      return { slow: true };
    });
    app.get("/events", () => new SseStream());
    const opened = streamOpened(app, "/events");
    const client = await start(app);
    const conn = await pipelined(portOf(client), ["/slow", "/events"]);
    await opened;
    const closing = app.close({ graceMs: 10_000, retry: 2500 });
    slow.release();
    await conn.until((text) => responses(text)[1]?.complete === true);
    const [json, sse] = responses(conn.text());
    expect(JSON.parse(json!.body)).toEqual({ slow: true });
    expect(sse!.head).toMatch(/^HTTP\/1\.1 200 /);
    expect(sse!.body).toBe("retry: 2500\n\n: shutdown\n\n");
    await closing;
    await conn.closed;
    expect(closes).toEqual(["shutdown"]);
  });
});
