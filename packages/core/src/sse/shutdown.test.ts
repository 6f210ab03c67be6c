import { setTimeout as delay } from "node:timers/promises";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { App, engineOf } from "../app.js";
import type { Request } from "../request.js";
import { SseEvent } from "./event.js";
import { rawSse, sleep } from "./raw-client.test-support.js";
import { SseStream } from "./stream.js";

describe("graceful shutdown", () => {
  it("closes 1000 open streams within the grace period; every client sees the final frame and producers finish", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    let finallyCount = 0;
    let onCloseCount = 0;
    app.get("/gen", (req: Request) =>
      (async function* () {
        try {
          yield "hello";
          await delay(60_000, undefined, { signal: req.signal });
        } finally {
          finallyCount++;
        }
      })(),
    );
    app.get("/push", () => {
      const stream = new SseStream();
      stream.addData("hello");
      stream.onClose(() => onCloseCount++);
      return stream;
    });
    const { port } = await app.listen({ port: 0 });
    const connections = [];
    for (let batch = 0; batch < 10; batch++) {
      connections.push(...(await Promise.all(Array.from({ length: 100 }, (_, i) => rawSse(port, i % 2 ? "/gen" : "/push")))));
    }
    await Promise.all(connections.map((c) => c.until((t) => t.includes("data: hello"))));
    expect(app.openStreams).toBe(1000);

    const graceMs = 3000;
    const started = performance.now();
    await app.close({ graceMs, finalEvent: new SseEvent("server restarting", { event: "shutdown" }), retry: 2000 });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(graceMs);
    await Promise.all(connections.map((c) => c.closed));
    const finalFrame = "retry: 2000\n\nevent: shutdown\ndata: server restarting\n\n";
    expect(connections.filter((c) => c.text().includes(finalFrame)).length).toBe(1000);
    expect(finallyCount).toBe(500);
    expect(onCloseCount).toBe(500);
    expect(app.openStreams).toBe(0);
  }, 60_000);

  it("destroys what is left when producers outlive the grace period", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    app.get("/stubborn", async function* () {
      yield "x";
      await delay(5000); // ignores the signal
    });
    const { port } = await app.listen({ port: 0 });
    const conn = await rawSse(port, "/stubborn");
    await conn.until((t) => t.includes("data: x"));
    const started = performance.now();
    await app.close({ graceMs: 300 });
    expect(performance.now() - started).toBeLessThan(1500);
    await conn.closed;
    expect(conn.text()).toContain(": shutdown\n\n");
    await sleep(10);
  });

  it("sends retry: 1000 and a shutdown comment by default", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    app.get("/s", () => new SseStream());
    const { port } = await app.listen({ port: 0 });
    const conn = await rawSse(port, "/s");
    await conn.until((t) => t.includes(": ok"));
    await app.close();
    await conn.closed;
    const finalFrame = "retry: 1000\n\n: shutdown\n\n";
    expect(conn.body()).toBe(`6\r\n: ok\n\n\r\n${finalFrame.length.toString(16)}\r\n${finalFrame}\r\n0\r\n\r\n`);
  });

  it("destroys the socket of a client that stopped reading once the grace is over", async () => {
    const app = new App({ sse: { heartbeatMs: 0, writeTimeoutMs: 0, bufferLimit: 64 * 1024 * 1024 } });
    const reasons: string[] = [];
    app.addHook("onStreamClose", (_req, info) => reasons.push(info.reason));
    let stream!: SseStream;
    let serverSocket!: import("node:net").Socket;
    app.get("/s", (req: Request) => {
      serverSocket = (req.raw as import("node:http").IncomingMessage).socket;
      return (stream = new SseStream());
    });
    const { port } = await app.listen({ port: 0 });
    const stalled = await rawSse(port, "/s", { read: false });
    for (let i = 0; i < 100 && stream === undefined; i++) await sleep(5);
    // Fill the socket until it refuses more: the final frame can never be read.
    const [connection] = engineOf(app).connections;
    const chunk = "z".repeat(64 * 1024);
    for (let i = 0; i < 2000 && !connection!.waitingDrain; i++) {
      stream.addData(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(connection!.waitingDrain).toBe(true);
    const graceMs = 300;
    const started = performance.now();
    await engineOf(app).shutdown({ graceMs });
    const elapsed = performance.now() - started;
    // The client had the grace to read the rest, then its socket was destroyed.
    expect(elapsed).toBeGreaterThanOrEqual(graceMs - 50);
    expect(elapsed).toBeLessThan(graceMs + 1500);
    expect(serverSocket.destroyed).toBe(true);
    expect(reasons).toEqual(["shutdown"]);
    const closing = performance.now();
    await app.close({ graceMs: 5000 });
    expect(performance.now() - closing).toBeLessThan(2000);
    stalled.socket.destroy();
  });

  it("does not wait past the grace for a producer stuck on a promise that never settles", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const reasons: string[] = [];
    app.addHook("onStreamClose", (_req, info) => reasons.push(info.reason));
    app.get("/stuck", async function* () {
      yield "x";
      await new Promise(() => {}); // ignores request.signal, never settles
    });
    const { port } = await app.listen({ port: 0 });
    const conn = await rawSse(port, "/stuck");
    await conn.until((t) => t.includes("data: x"));
    const started = performance.now();
    await app.close({ graceMs: 300 });
    expect(performance.now() - started).toBeLessThan(2000);
    await conn.closed;
    expect(conn.text()).toContain(": shutdown\n\n");
    // Reported as closed, although its producer never finished.
    expect(reasons).toEqual(["shutdown"]);
  });

  it("closes a keep-alive connection that finishes a request during shutdown, so nobody reuses it", async () => {
    const app = new App();
    app.get("/slow", async () => {
      await delay(200);
      return "done";
    });
    const { port } = await app.listen({ port: 0 });
    const socket = connect({ host: "127.0.0.1", port });
    let received = "";
    socket.on("data", (chunk) => (received += chunk));
    const socketClosed = new Promise<number>((resolve) => socket.on("close", () => resolve(performance.now())));
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    await sleep(50); // the request is in flight, so closeIdleConnections() at close() spares it
    const closeCalledAt = performance.now();
    const closing = app.close({ graceMs: 3000 });
    const closedAt = await socketClosed;
    expect(received).toContain("done");
    await closing;
    // Closed as soon as it went idle (~150 ms), not left open until the 3 s grace runs out.
    expect(closedAt - closeCalledAt).toBeLessThan(1000);
  });

  it("does not wait on a connection that was opened but never used (a browser's or a pool's spare)", async () => {
    const app = new App();
    app.get("/x", () => "x");
    const { port, url } = await app.listen({ port: 0 });
    // A keep-alive connection that served a request, and a spare one that never sent a byte.
    const served = await fetch(url + "/x");
    expect(await served.text()).toBe("x");
    const spare = connect({ host: "127.0.0.1", port });
    const spareClosed = new Promise<void>((resolve) => spare.on("close", () => resolve()));
    spare.on("error", () => {});
    await new Promise((resolve) => spare.once("connect", resolve));
    await sleep(20); // accepted by the server
    const started = performance.now();
    await app.close({ graceMs: 5000 });
    // Closed at once, not after the grace period: the server itself ended the spare connection.
    expect(performance.now() - started).toBeLessThan(1000);
    await spareClosed;
  });

  it("stops accepting new connections while closing", async () => {
    const app = new App();
    app.get("/s", () => new SseStream());
    const { port, url } = await app.listen({ port: 0 });
    const conn = await rawSse(port, "/s");
    await conn.until((t) => t.includes(": ok"));
    const closing = app.close({ graceMs: 500 });
    await expect(fetch(url + "/s")).rejects.toThrow();
    await closing;
  });
});
