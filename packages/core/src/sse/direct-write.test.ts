// The node:http fast path (direct-write.ts) over real sockets: taken on the
// Node we run, and left for `res.write()`, with the same bytes on the wire,
// whenever the internals it reads look different.
import { createServer, type Server, type ServerResponse } from "node:http";
import { connect as http2Connect, createServer as createHttp2Server } from "node:http2";
import { connect, type AddressInfo, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { asHttpChunk, compactHead, directSocket } from "./direct-write.js";
import { SseEngine } from "./engine.js";
import { kStreamGone } from "./report.js";
import { SSE_DEFAULTS, resolveSseOptions } from "./options.js";
import { rawSse } from "./raw-client.test-support.js";
import { SseStream } from "./stream.js";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

interface Observed {
  /** Whether the connection writes to the socket directly (asked right after the head went out). */
  direct: boolean | undefined;
  /** Calls to the socket's write() since the last reset. */
  socketWrites: number;
  stream: SseStream | undefined;
}

/**
 * A bare node:http server whose every request streams an SseStream through the
 * engine. `tamper` may change the response before the engine sees it.
 */
async function streamServer(tamper: (res: ServerResponse) => void = () => {}): Promise<{ port: number; observed: Observed }> {
  const engine = new SseEngine();
  const observed: Observed = { direct: undefined, socketWrites: 0, stream: undefined };
  const options = resolveSseOptions(SSE_DEFAULTS, { heartbeatMs: 0 });
  const server = createServer((req, res) => {
    tamper(res);
    const socket: Socket = req.socket;
    const write = socket.write;
    socket.write = function (this: Socket, ...args: unknown[]) {
      observed.socketWrites++;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof socket.write;
    const stream = new SseStream();
    engine.create(res, options).open(200, { "content-type": "text/event-stream" }, stream, silentLogger, { [kStreamGone]() {} });
    observed.direct = directSocket(res) === socket;
    observed.stream = stream;
  });
  return { port: await listen(server), observed };
}

/** Open a stream, send 100 events in one turn, close; return the body bytes and the socket writes of that flush and the end. */
async function hundredEvents(port: number, observed: Observed): Promise<string> {
  const conn = await rawSse(port, "/");
  await conn.until((text) => text.includes(": ok"));
  observed.socketWrites = 0;
  for (let i = 0; i < 100; i++) observed.stream!.addData(`event ${i} é`);
  observed.stream!.close();
  await conn.until((text) => text.endsWith("0\r\n\r\n"));
  conn.socket.destroy();
  return conn.body();
}

const frames = Array.from({ length: 100 }, (_, i) => `data: event ${i} é\n\n`).join("");
// Node's res.write() frames a chunk exactly as asHttpChunk does: either path puts these bytes on the wire.
const expectedBody = `${asHttpChunk(": ok\n\n")}${asHttpChunk(frames)}0\r\n\r\n`;

/** A queue node:http can use (length, push, unshift, indexing) that is not an Array. */
function arrayLike(items: unknown[]): unknown {
  return Object.create(items);
}

describe("direct chunk writes", () => {
  it("are taken on this Node: one socket write per flush, the bytes a chunked body needs", async () => {
    const { port, observed } = await streamServer();
    const body = await hundredEvents(port, observed);
    expect(observed.direct).toBe(true);
    expect(body).toBe(expectedBody);
    // The 100 frames as one chunk in one write, then the terminating chunk (res.write() makes the first four).
    expect(observed.socketWrites).toBeLessThanOrEqual(2);
  });

  it("fall back to res.write() when chunkedEncoding is not the boolean they check, with the same bytes", async () => {
    const { port, observed } = await streamServer((res) => {
      // A Node that keeps the flag another way: truthy for node:http itself, never `true`.
      let chunked: unknown = false;
      Object.defineProperty(res, "chunkedEncoding", { get: () => (chunked ? 1 : 0), set: (value) => (chunked = value) });
    });
    const body = await hundredEvents(port, observed);
    expect(observed.direct).toBe(false);
    expect(body).toBe(expectedBody);
    expect(observed.socketWrites).toBeGreaterThan(2);
  });

  it("fall back to res.write() when outputData is not an array, with the same bytes", async () => {
    const { port, observed } = await streamServer((res) => {
      // A Node that queues early writes in something else than an Array.
      let queue = arrayLike([]);
      Object.defineProperty(res, "outputData", { get: () => queue, set: (value: unknown[]) => (queue = arrayLike(value)) });
    });
    const body = await hundredEvents(port, observed);
    expect(observed.direct).toBe(false);
    expect(body).toBe(expectedBody);
    expect(observed.socketWrites).toBeGreaterThan(2);
  });

  it("are not taken before the head is out, nor for an HTTP/1.0 client", async () => {
    const seen: Array<[string, boolean]> = [];
    const server = createServer((req, res) => {
      seen.push([`${req.httpVersion} before head`, directSocket(res) !== undefined]);
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": ok\n\n");
      seen.push([`${req.httpVersion} after head`, directSocket(res) !== undefined]);
      res.end();
    });
    const port = await listen(server);
    for (const version of ["1.1", "1.0"]) {
      const socket = connect({ host: "127.0.0.1", port });
      socket.write(`GET / HTTP/${version}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      socket.resume();
      await new Promise((resolve) => socket.on("close", resolve));
    }
    expect(seen.filter(([what]) => what.startsWith("1.0"))).toEqual([
      ["1.0 before head", false],
      ["1.0 after head", false],
    ]);
    expect(seen.filter(([what]) => what.startsWith("1.1"))).toContainEqual(["1.1 before head", false]);
    expect(seen.filter(([what]) => what.startsWith("1.1"))).toContainEqual(["1.1 after head", true]);
  });

  it("are not taken for a response queued behind a pipelined one, even with its head written, until node:http hands it the socket", async () => {
    const seen: Array<[string, boolean]> = [];
    let answerFirst!: () => void;
    const server = createServer((req, res) => {
      if (req.url === "/first") {
        answerFirst = () => res.end("first");
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": queued\n\n");
      seen.push(["queued", directSocket(res) !== undefined]);
      // node:http assigns the socket (and emits "socket") when the response ahead finishes.
      res.once("socket", () => {
        seen.push(["on its socket, before node:http flushed what it held", directSocket(res) !== undefined]);
        setImmediate(() => {
          seen.push(["on its socket, after the flush", directSocket(res) === req.socket]);
          res.end();
        });
      });
      answerFirst();
    });
    const port = await listen(server);
    const socket = connect({ host: "127.0.0.1", port });
    socket.write("GET /first HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /second HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString("latin1")));
    await new Promise((resolve) => socket.on("close", resolve));
    expect(seen).toEqual([
      ["queued", false],
      ["on its socket, before node:http flushed what it held", false],
      ["on its socket, after the flush", true],
    ]);
    // The second response follows the first whole, its body one chunk then the last.
    expect(text).toMatch(/\r\n\r\nfirstHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\na\r\n: queued\n\n\r\n0\r\n\r\n$/);
  });

  it("are not taken for HTTP/2", async () => {
    let direct: unknown = "not asked";
    const server = createHttp2Server((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": ok\n\n");
      direct = directSocket(res);
      res.end();
    });
    servers.push(server as unknown as Server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const session = http2Connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const body = await new Promise<string>((resolve, reject) => {
      const request = session.request({ ":path": "/" });
      let text = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (text += chunk));
      request.on("end", () => resolve(text));
      request.on("error", reject);
    });
    session.close();
    expect(body).toBe(": ok\n\n");
    expect(direct).toBeUndefined();
  });
});

describe("the head node:http keeps", () => {
  it("is, once the stream is open, the very text the client received (one flat copy), and still counts as sent", async () => {
    const engine = new SseEngine();
    const options = resolveSseOptions(SSE_DEFAULTS, { heartbeatMs: 0 });
    let response: ServerResponse | undefined;
    const server = createServer((_req, res) => {
      response = res;
      // A latin1 byte beyond ASCII: a round trip through UTF-8 would change it.
      engine.create(res, options).open(200, { "content-type": "text/event-stream", "x-name": "caf\u00e9" }, new SseStream(), silentLogger, { [kStreamGone]() {} });
    });
    const port = await listen(server);
    // Read as latin1, the bytes node:http wrote the head in.
    const socket = connect({ host: "127.0.0.1", port });
    socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let text = "";
    await new Promise<void>((resolve) =>
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
        if (text.includes(": ok")) resolve();
      }),
    );
    const received = text.slice(0, text.indexOf("\r\n\r\n") + 4);
    const kept = (response as unknown as { _header: string })._header;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received).toContain("x-name: caf\u00e9\r\n");
    expect(kept).toBe(received);
    expect(response!.headersSent).toBe(true);
    expect(() => response!.writeHead(500)).toThrow(expect.objectContaining({ code: "ERR_HTTP_HEADERS_SENT" }));
    socket.destroy();
  });

  it("is left alone before it is sent, and on HTTP/2", async () => {
    const server = createServer((_req, res) => {
      res.setHeader("x-a", "1");
      compactHead(res);
      expect((res as unknown as { _header: unknown })._header).toBeNull();
      res.end("done");
    });
    const port = await listen(server);
    const conn = await rawSse(port, "/");
    await conn.until((text) => text.includes("done"));
    conn.socket.destroy();
    const fake = { _header: "HTTP/1.1 200 OK\r\n\r\n", _headerSent: false } as unknown as ServerResponse;
    compactHead(fake);
    expect((fake as unknown as { _header: string })._header).toBe("HTTP/1.1 200 OK\r\n\r\n");
  });
});
