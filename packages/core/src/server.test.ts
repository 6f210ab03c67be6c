// Slow clients are timed out: a request's head and body must arrive within the
// configured bounds, while SSE streams stay open as long as they stream.
import type { Server as HttpServer } from "node:http";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { CelloError } from "./errors.js";
import { silentLogger } from "./logger.js";
import { sleep } from "./sse/raw-client.test-support.js";
import { startWithCleanup } from "./testing.js";
import { selfSignedCertificate } from "./tls.test-support.js";

const start = startWithCleanup();

interface SlowClient {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves with the ms from connect to the server closing the connection. */
  closed: Promise<number>;
}

/**
 * Connect, send `head`, then `body` one byte every `intervalMs` (a slowloris or a
 * slow upload). Stops writing when the server closes the connection.
 */
function slowClient(port: number, head: string, body: string, intervalMs: number, options: { tls?: boolean } = {}): SlowClient {
  // Over TLS, HTTP/1.1 by ALPN: the fallback of an HTTP/2 server.
  const socket = options.tls ? tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }) : connect(port, "127.0.0.1");
  const opened = Date.now();
  let received = "";
  socket.on("data", (chunk) => (received += chunk.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - opened)));
  socket.once(options.tls ? "secureConnect" : "connect", () => {
    socket.write(head);
    let sent = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || sent >= body.length) return clearInterval(timer);
      socket.write(body[sent++]!);
    }, intervalMs);
    socket.once("close", () => clearInterval(timer));
  });
  return { socket, received: () => received, closed };
}

/** An app with an upload route, a plain route and an SSE route that ticks every 50 ms. */
function slowClientApp(): App {
  const app = new App({ logger: silentLogger, sse: { heartbeatMs: 0 } });
  app.post("/upload", async (req) => ({ bytes: (await req.body()).length }));
  app.get("/ok", () => "ok");
  app.get("/ticks", async function* () {
    for (let i = 1; ; i++) {
      yield String(i);
      await sleep(50);
    }
  });
  return app;
}

const portOf = (url: string) => Number(new URL(url).port);

describe("slow clients are timed out", () => {
  it("answers a body sent byte by byte 408 past requestTimeoutMs, while others are served and a stream stays open", async () => {
    const client = await start(slowClientApp(), { headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const stream = await client.openSse("/ticks");
    const slow = slowClient(portOf(client.url), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", "x".repeat(100), 100);
    // While the slow upload holds its socket, a good client is served at once.
    expect((await client.get("/ok")).text).toBe("ok");
    const closedAfter = await slow.closed;
    expect(slow.received()).toBe("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    // 100 bytes at one per 100 ms would take 10 s: it was cut near 600 ms (generous bound for a loaded machine).
    expect(closedAfter).toBeLessThan(5000);
    // The stream opened before the upload is still streaming well past the request timeout.
    await sleep(1200 - Math.min(closedAfter, 1200));
    const seen = stream.events.length;
    await stream.waitForEvents(seen + 3);
    expect(stream.ended).toBe(false);
    stream.close();
    expect((await client.post("/upload", { body: "fast" })).json).toEqual({ bytes: 4 });
  });

  it("answers a head sent byte by byte 408 past headersTimeoutMs", async () => {
    const client = await start(slowClientApp(), { headersTimeoutMs: 300, requestTimeoutMs: 5000 });
    const head = "GET /ok HTTP/1.1\r\nHost: x\r\nX-Padding: " + "p".repeat(200) + "\r\n\r\n";
    const slow = slowClient(portOf(client.url), "", head, 50);
    const closedAfter = await slow.closed;
    expect(slow.received()).toBe("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    expect(closedAfter).toBeLessThan(4000); // the head alone would take 12 s
    expect((await client.get("/ok")).text).toBe("ok");
  });

  it("closes an idle keep-alive connection after keepAliveTimeoutMs", async () => {
    const client = await start(slowClientApp(), { keepAliveTimeoutMs: 200 });
    const idle = slowClient(portOf(client.url), "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", "", 1000);
    const closedAfter = await idle.closed;
    expect(idle.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
    expect(closedAfter).toBeLessThan(3000); // Node's default would keep it 5 s
  });

  it("times out 200 slow uploads together and serves a good client throughout", async () => {
    const client = await start(slowClientApp(), { headersTimeoutMs: 500, requestTimeoutMs: 1000 });
    const port = portOf(client.url);
    const slow = Array.from({ length: 200 }, () => slowClient(port, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "x".repeat(1000), 200));
    await sleep(200);
    for (let i = 0; i < 5; i++) expect((await client.get("/ok")).text).toBe("ok");
    const closedAfter = await Promise.all(slow.map((s) => s.closed));
    // Every one was answered 408 and closed by the server, none finished its 200 s upload.
    expect(slow.filter((s) => s.received() === "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n").length).toBe(200);
    expect(Math.max(...closedAfter)).toBeLessThan(10_000);
    expect((await client.get("/ok")).text).toBe("ok");
  });

  it("times out a slow upload on the HTTP/1.1 fallback of an HTTP/2 TLS server too", async () => {
    const app = slowClientApp();
    const { port } = await app.listen({ port: 0, http2: true, tls: selfSignedCertificate(), headersTimeoutMs: 300, requestTimeoutMs: 600 });
    try {
      const slow = slowClient(port, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", "x".repeat(100), 100, { tls: true });
      expect(await slow.closed).toBeLessThan(5000);
      expect(slow.received()).toBe("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    } finally {
      await app.close({ graceMs: 500 });
    }
  });

  it("uses Node's defaults, and refuses timeouts that cannot work", async () => {
    const app = slowClientApp();
    await app.listen({ port: 0 });
    const server = app.server as HttpServer;
    expect([server.headersTimeout, server.requestTimeout, server.keepAliveTimeout]).toEqual([60_000, 300_000, 5_000]);
    await app.close();
    for (const options of [{ headersTimeoutMs: 2000, requestTimeoutMs: 1000 }, { requestTimeoutMs: -1 }, { keepAliveTimeoutMs: 1.5 }]) {
      const err = await new App({ logger: silentLogger }).listen({ port: 0, ...options }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CelloError);
      expect((err as CelloError).code).toBe("CELLO_INVALID_OPTION");
    }
  });
});
