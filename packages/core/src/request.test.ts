// What a request body may carry: limits at their exact boundary, by
// Content-Length and by chunked transfer, and bytes that are not UTF-8.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { pipelined } from "./sse/raw-client.test-support.js";
import { recordingLogger, startWithCleanup, type TestClient } from "./testing.js";

const start = startWithCleanup();

/** Send raw bytes on a fresh socket and resolve with everything received until the server closes it. */
function rawExchange(client: TestClient, ...parts: Array<string | Buffer>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(client.url).port), "127.0.0.1", () => {
      for (const part of parts) socket.write(part);
    });
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString("utf8")));
    socket.on("error", () => {});
    socket.on("close", () => resolve(received));
    setTimeout(() => reject(new Error(`no close; received ${JSON.stringify(received)}`)), 5000).unref();
  });
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1]);
const bodyOf = (response: string) => response.slice(response.indexOf("\r\n\r\n") + 4);
/** One chunk of a chunked body. */
const chunk = (data: string) => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;

describe("body limit boundaries", () => {
  const LIMIT = 1024;
  const appWithLimit = () => {
    const app = new App({ bodyLimit: LIMIT });
    app.post("/upload", async (req) => ({ bytes: (await req.body()).length }));
    return app;
  };

  it("accepts a body of exactly the limit and refuses one byte more, by Content-Length", async () => {
    const client = await start(appWithLimit());
    const exact = await client.post("/upload", { body: "a".repeat(LIMIT) });
    expect([exact.status, exact.json]).toEqual([200, { bytes: LIMIT }]);
    const over = await client.post("/upload", { body: "a".repeat(LIMIT + 1) });
    expect([over.status, over.headers.connection, over.json]).toEqual([413, "close", { error: `Payload Too Large: the body exceeds ${LIMIT} bytes`, status: 413 }]);
  });

  it("accepts a chunked body of exactly the limit and refuses one byte more", async () => {
    const client = await start(appWithLimit());
    const head = "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    const exact = await rawExchange(client, head, chunk("a".repeat(1000)), chunk("b".repeat(LIMIT - 1000)), "0\r\n\r\n");
    expect([statusOf(exact), bodyOf(exact)]).toEqual([200, `{"bytes":${LIMIT}}`]);
    const over = await rawExchange(client, head, chunk("a".repeat(1000)), chunk("b".repeat(LIMIT - 1000)), chunk("c"), "0\r\n\r\n");
    expect([statusOf(over), bodyOf(over)]).toEqual([413, `{"error":"Payload Too Large: the body exceeds ${LIMIT} bytes","status":413}`]);
    expect(over).toContain("\r\nConnection: close\r\n");
  });

  it("refuses an announced oversize body at once, before any of it is sent", async () => {
    const client = await start(appWithLimit());
    // Only the head: an answer can come only from the Content-Length check, not from counting bytes.
    const response = await rawExchange(client, `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`);
    expect(statusOf(response)).toBe(413);
    expect(response).toContain("\r\nConnection: close\r\n");
  });
});

describe("bytes that are not UTF-8", () => {
  // A lone continuation byte, an overlong "/", an encoded surrogate, a truncated sequence, 0xFF.
  const INVALID = [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xff]];

  it("answers request.json() 400 CELLO_INVALID_JSON instead of parsing U+FFFD, and logs nothing", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.post("/json", async (req) => ({ got: await req.json() }));
    const client = await start(app);
    for (const bytes of INVALID) {
      const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from(bytes), Buffer.from('"}')]);
      const res = await client.post("/json", { body, headers: { "content-type": "application/json" } });
      expect([bytes, res.status, res.json]).toEqual([bytes, 400, { error: "Invalid JSON body: the body is not valid UTF-8", status: 400 }]);
    }
    // Valid UTF-8, astral characters and a leading byte order mark included, parses as sent.
    const name = "Zoë \u20ac \u{1F600}";
    const ok = await client.post("/json", { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ name }))]) });
    expect([ok.status, ok.json]).toEqual([200, { got: { name } }]);
    expect(logger.errors).toEqual([]);
  });

  it("answers request.text() 400 CELLO_BAD_REQUEST, and decodes valid UTF-8 as sent", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.post("/text", async (req) => Array.from(await req.text(), (c) => c.codePointAt(0)));
    app.post("/bytes", async (req) => (await req.body()).length);
    const client = await start(app);
    for (const bytes of INVALID) {
      const res = await client.post("/text", { body: Buffer.from([0x61, ...bytes]) });
      expect([bytes, res.status, res.json]).toEqual([bytes, 400, { error: "Bad Request: the body is not valid UTF-8", status: 400 }]);
      // body() still hands over the bytes as they came.
      expect((await client.post("/bytes", { body: Buffer.from(bytes) })).json).toBe(bytes.length);
    }
    const ok = await client.post("/text", { body: "a\u00e9\u20ac\u{1F600}" });
    expect(ok.json).toEqual([0x61, 0xe9, 0x20ac, 0x1f600]);
    expect(logger.errors).toEqual([]);
  });
});

describe("what a handler may change", () => {
  it("cannot mark the request gone: only the engine aborts request.signal", async () => {
    const app = new App();
    app.get("/", (req) => ({ markGone: "markGone" in req, aborted: req.signal.aborted }));
    const client = await start(app);
    expect((await client.get("/")).json).toEqual({ markGone: false, aborted: false });
  });

  it("reads params and bodyLimit but cannot change them", async () => {
    const app = new App({ bodyLimit: 1024 });
    app.post("/items/{id}", async (req) => {
      const refused: string[] = [];
      try {
        // @ts-expect-error params is read-only
        req.params = { id: "other" };
      } catch {
        refused.push("params");
      }
      try {
        // @ts-expect-error bodyLimit is read-only
        req.bodyLimit = 10 * 1024 * 1024;
      } catch {
        refused.push("bodyLimit");
      }
      return { refused, id: req.params.id, bodyLimit: req.bodyLimit, bytes: (await req.body()).length };
    }, { bodyLimit: 16 });
    const client = await start(app);
    expect((await client.post("/items/7", { body: "x".repeat(16) })).json).toEqual({ refused: ["params", "bodyLimit"], id: "7", bodyLimit: 16, bytes: 16 });
    expect((await client.post("/items/7", { body: "x".repeat(17) })).status).toBe(413);
  });
});

describe("request.signal of a request pipelined behind a slow response", () => {
  it("stays unaborted while the request waits for its turn, and aborts when the client leaves", async () => {
    const app = new App();
    let answerSlow!: () => void;
    const slowAnswered = new Promise<void>((resolve) => (answerSlow = resolve));
    let signal: AbortSignal | undefined;
    let waiting!: () => void;
    const handlerWaits = new Promise<void>((resolve) => (waiting = resolve));
    app.get("/slow", async () => {
      await slowAnswered;
      return { slow: true };
    });
    // Work that stops with the client, as a handler passing request.signal to fetch() does.
    app.get("/work", async (req) => {
      signal = req.signal;
      waiting();
      await new Promise((resolve) => signal!.addEventListener("abort", resolve, { once: true }));
      return { aborted: true };
    });
    const client = await start(app);
    const conn = await pipelined(Number(new URL(client.url).port), ["/slow", "/work"]);
    await handlerWaits;
    await new Promise((resolve) => setImmediate(resolve));
    expect(signal!.aborted).toBe(false);
    conn.socket.destroy();
    await conn.closed;
    for (let i = 0; i < 200 && !signal!.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect([signal!.aborted, (signal!.reason as Error).name]).toEqual([true, "AbortError"]);
    answerSlow();
  });
});
