// Compressed SSE over real sockets: each event must arrive at once (timestamps), heartbeats too,
// replay after Last-Event-ID, HTTP/2, backpressure, shutdown, and no zlib context left behind.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect as http2Connect } from "node:http2";
import type { Duplex } from "node:stream";
import zlib from "node:zlib";
import { fetch } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "../../app.js";
import { silentLogger } from "../../logger.js";
import type { Request } from "../../request.js";
import { Response } from "../../response.js";
import { rawSse, sleep } from "../../sse/raw-client.test-support.js";
import { SseStream } from "../../sse/stream.js";
import type { SseStreamInfo } from "../../sse/report.js";

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close({ graceMs: 200 })));
});

// The gap between two events: every event must reach the client well inside it.
const GAP_MS = 400;
const EVENTS = 5;

/** An app whose `/live` sends EVENTS events GAP_MS apart, each carrying the time it was sent (and padding that compresses). */
async function start(configure: (app: App) => void = (app) => app.enableCompression(), routeOptions: { compress?: boolean } = { compress: true }): Promise<{ app: App; port: number; url: string; closes: SseStreamInfo[] }> {
  const app = new App({ logger: silentLogger });
  const closes: SseStreamInfo[] = [];
  app.addHook("onStreamClose", (_req, info) => closes.push(info));
  app.get(
    "/live",
    (req: Request) => {
      const stream = new SseStream();
      let n = 0;
      const timer = setInterval(() => {
        n++;
        stream.addEvent("tick", JSON.stringify({ n, sentAt: Date.now(), pad: "metrics ".repeat(40) }));
        if (n === EVENTS) {
          clearInterval(timer);
          setTimeout(() => stream.close(), 50);
        }
      }, GAP_MS);
      req.signal.addEventListener("abort", () => clearInterval(timer));
      return stream;
    },
    { sse: routeOptions },
  );
  configure(app);
  const { port, url } = await app.listen({ port: 0 });
  apps.push(app);
  return { app, port, url, closes };
}

interface Tick {
  n: number;
  sentAt: number;
  receivedAt: number;
}

/** Parse the `tick` events out of decoded SSE text, stamping those not seen before with `now`. */
function collect(text: string, ticks: Tick[], now: number): void {
  for (const match of text.matchAll(/data: (\{"n":(\d+),"sentAt":(\d+)[^\n]*)\n/g)) {
    const n = Number(match[2]);
    if (!ticks.some((t) => t.n === n)) ticks.push({ n, sentAt: Number(match[3]), receivedAt: now });
  }
}

/** Every event reached the client before the next one was sent: the stream is live. */
function expectLive(ticks: Tick[]): void {
  expect(ticks.map((t) => t.n)).toEqual([1, 2, 3, 4, 5]);
  for (let i = 0; i < ticks.length - 1; i++) {
    // Same clock (one process). A buffered stream would deliver them all at the end.
    expect(ticks[i]!.receivedAt).toBeLessThan(ticks[i + 1]!.sentAt);
    expect(ticks[i]!.receivedAt - ticks[i]!.sentAt).toBeLessThan(GAP_MS * 0.75);
  }
}

/** GET with node:http; decode the body as it arrives (flushing decoder), recording what came when. */
function getDecoded(port: number, path: string, headers: Record<string, string>): Promise<{ res: IncomingMessage; ticks: Tick[]; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      const coding = res.headers["content-encoding"];
      const decoder =
        coding === "gzip"
          ? zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH })
          : coding === "br"
            ? zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH })
            : undefined;
      const ticks: Tick[] = [];
      let text = "";
      const source = decoder ? res.pipe(decoder) : res;
      source.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        collect(text, ticks, Date.now());
      });
      // A compressed body must end with its coding's trailer: a truncated one fails to decode here.
      const ended = new Promise<void>((done, fail) => {
        source.on("end", done);
        source.on("error", fail);
      });
      resolve({ res, ticks, text: () => text, ended });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("compressed SSE", () => {
  for (const coding of ["gzip", "br"] as const) {
    it(`${coding}: each event arrives at once, and the stream ends with a whole ${coding} body`, async () => {
      const { port } = await start();
      const client = await getDecoded(port, "/live", { "Accept-Encoding": coding });
      expect(client.res.headers["content-encoding"]).toBe(coding);
      expect(client.res.headers.vary).toBe("Accept-Encoding");
      expect(client.res.headers["content-length"]).toBeUndefined();
      await client.ended;
      expectLive(client.ticks);
      expect(client.text().startsWith(": ok\n\n")).toBe(true);
    });
  }

  it("through undici's fetch: events arrive live and decoded", async () => {
    const { url } = await start();
    const response = await fetch(`${url}/live`, { headers: { "Accept-Encoding": "gzip, br" } });
    expect(response.headers.get("content-encoding")).toBe("gzip");
    const ticks: Tick[] = [];
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) {
      text += decoder.decode(chunk, { stream: true });
      collect(text, ticks, Date.now());
    }
    expectLive(ticks);
  });

  it("through curl --compressed -N: events arrive live", async () => {
    const { url } = await start();
    // (`-D /dev/stderr` would tell the head, but curl 7.88 crashes writing it to a pipe: -w reads the header.)
    const curl = spawn("curl", ["-sS", "-N", "--compressed", "-w", "\n[coding %header{content-encoding}]", `${url}/live`], { stdio: ["ignore", "pipe", "pipe"] });
    const ticks: Tick[] = [];
    let text = "";
    curl.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      collect(text, ticks, Date.now());
    });
    const code = await new Promise<number | null>((resolve) => curl.on("close", resolve));
    expect(code).toBe(0); // curl checks the coding's trailer: 0 means a whole, valid body
    expect(text).toMatch(/\n\[coding gzip\]$/);
    expectLive(ticks);
  });

  it("flushes heartbeats through the encoder", async () => {
    const app = new App({ logger: silentLogger });
    app.get("/quiet", () => new SseStream(), { sse: { compress: true, heartbeatMs: 100 } });
    app.enableCompression();
    const { port } = await app.listen({ port: 0 });
    apps.push(app);
    const client = await getDecoded(port, "/quiet", { "Accept-Encoding": "gzip" });
    const started = Date.now();
    while (!client.text().includes(":\n\n") && Date.now() - started < 3000) await sleep(10);
    expect(client.text()).toMatch(/^: ok\n\n(:\n\n)+$/);
    client.res.destroy();
  });

  it("is opt-in: a route without compress streams unencoded; sse: true turns it on app-wide; compress: false wins", async () => {
    const off = await start((app) => app.enableCompression(), {});
    const plain = await getDecoded(off.port, "/live", { "Accept-Encoding": "gzip" });
    expect(plain.res.headers["content-encoding"]).toBeUndefined();
    plain.res.destroy();
    const appWide = await start((app) => app.enableCompression({ sse: true }), {});
    const encoded = await getDecoded(appWide.port, "/live", { "Accept-Encoding": "gzip" });
    expect(encoded.res.headers["content-encoding"]).toBe("gzip");
    encoded.res.destroy();
    const routeOff = await start((app) => app.enableCompression({ sse: true }), { compress: false });
    const kept = await getDecoded(routeOff.port, "/live", { "Accept-Encoding": "gzip" });
    expect(kept.res.headers["content-encoding"]).toBeUndefined();
    kept.res.destroy();
    // Without the plugin, compress: true changes nothing.
    const noPlugin = await start(() => {});
    const none = await getDecoded(noPlugin.port, "/live", { "Accept-Encoding": "gzip" });
    expect(none.res.headers["content-encoding"]).toBeUndefined();
    none.res.destroy();
  });

  it("serves a compressed and an uncompressed subscriber of one channel from one flush pass, each byte for byte", async () => {
    const app = new App({ logger: silentLogger });
    const feed = app.channel("feed", { history: 10 });
    app.get("/feed", (req) => feed.subscribe(req), { sse: { compress: true, heartbeatMs: 0 } });
    // A response-level opt-in works too.
    app.get("/one", () => Response.sse(["a".repeat(3000)], { compress: true }));
    app.enableCompression();
    const { port } = await app.listen({ port: 0 });
    apps.push(app);
    const clients = await Promise.all(["gzip", "identity", "br", "identity"].map((coding) => getDecoded(port, "/feed", { "Accept-Encoding": coding })));
    expect(clients.map((c) => c.res.headers["content-encoding"])).toEqual(["gzip", undefined, "br", undefined]);
    await sleep(50);
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      // Several events in one turn: one coalesced write per client.
      for (let j = 0; j < 3; j++) sent.push(await feed.publish({ i, j, text: "é ".repeat(50) }));
      await sleep(5);
    }
    const started = Date.now();
    while (clients.some((c) => !c.text().includes(`id: ${sent.at(-1)}\n`)) && Date.now() - started < 5000) await sleep(10);
    const texts = clients.map((c) => c.text());
    expect(texts[0]).toBe(texts[1]);
    expect(texts[2]).toBe(texts[1]);
    expect(texts[3]).toBe(texts[1]);
    expect([...texts[0]!.matchAll(/^id: (.+)$/gm)].map((m) => m[1])).toEqual(sent);
    for (const client of clients) client.res.destroy();
    const one = await getDecoded(port, "/one", { "Accept-Encoding": "gzip" });
    await one.ended;
    expect(one.res.headers["content-encoding"]).toBe("gzip");
    expect(one.text()).toBe(`: ok\n\ndata: ${"a".repeat(3000)}\n\n`);
  });

  it("streams unencoded to a client that accepts no offered coding", async () => {
    const { port } = await start();
    for (const accept of ["identity", "gzip;q=0, br;q=0", "x".repeat(8000)]) {
      const client = await getDecoded(port, "/live", { "Accept-Encoding": accept });
      expect(client.res.headers["content-encoding"]).toBeUndefined();
      client.res.destroy();
    }
  });

  it("replays after Last-Event-ID, compressed, then goes on live", async () => {
    const app = new App({ logger: silentLogger });
    const news = app.channel("news", { history: 100 });
    app.get("/news", (req) => news.subscribe(req), { sse: { compress: true } });
    app.enableCompression();
    const { port } = await app.listen({ port: 0 });
    apps.push(app);
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) ids.push(await news.publish({ i, body: "headline ".repeat(30) }));
    const client = await getDecoded(port, "/news", { "Accept-Encoding": "gzip", "Last-Event-ID": ids[2]! });
    expect(client.res.headers["content-encoding"]).toBe("gzip");
    const started = Date.now();
    while (!client.text().includes('"i":6') && Date.now() - started < 3000) await sleep(10);
    await news.publish({ i: 7, body: "late" });
    while (!client.text().includes('"i":7') && Date.now() - started < 3000) await sleep(10);
    const got = [...client.text().matchAll(/"i":(\d+)/g)].map((m) => Number(m[1]));
    expect(got).toEqual([4, 5, 6, 7]);
    client.res.destroy();
  });

  it("compresses a stream over HTTP/2, live", async () => {
    const app = new App({ logger: silentLogger });
    app.get("/h2", () => {
      const stream = new SseStream();
      let n = 0;
      const timer = setInterval(() => {
        n++;
        stream.addEvent("tick", JSON.stringify({ n, sentAt: Date.now() }));
        if (n === 3) {
          clearInterval(timer);
          stream.close();
        }
      }, GAP_MS);
      return stream;
    }, { sse: { compress: true } });
    app.enableCompression();
    const { url } = await app.listen({ port: 0, http2: true });
    apps.push(app);
    const session = http2Connect(url);
    try {
      const ticks: Tick[] = [];
      let headers: Record<string, unknown> = {};
      await new Promise<void>((resolve, reject) => {
        const stream = session.request({ ":path": "/h2", "accept-encoding": "gzip" });
        const gunzip = zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH });
        let text = "";
        stream.on("response", (h) => (headers = h));
        stream.pipe(gunzip).on("data", (chunk: Buffer) => {
          text += chunk.toString();
          for (const match of text.matchAll(/\{"n":(\d+),"sentAt":(\d+)\}/g)) {
            if (!ticks.some((t) => t.n === Number(match[1]))) ticks.push({ n: Number(match[1]), sentAt: Number(match[2]), receivedAt: Date.now() });
          }
        });
        gunzip.on("end", resolve);
        gunzip.on("error", reject);
        stream.end();
      });
      expect(headers["content-encoding"]).toBe("gzip");
      expect(ticks.map((t) => t.n)).toEqual([1, 2, 3]);
      for (let i = 0; i < 2; i++) expect(ticks[i]!.receivedAt).toBeLessThan(ticks[i + 1]!.sentAt);
    } finally {
      session.close();
    }
  });

  it("ends every compressed stream with a whole body on graceful shutdown", async () => {
    const app = new App({ logger: silentLogger });
    app.get("/forever", () => new SseStream(), { sse: { compress: true } });
    app.enableCompression();
    const { port } = await app.listen({ port: 0 });
    const clients = await Promise.all(["gzip", "br"].map((coding) => getDecoded(port, "/forever", { "Accept-Encoding": coding })));
    await sleep(50);
    await app.close({ graceMs: 2000, retry: 3000 });
    for (const client of clients) {
      await client.ended; // rejects if the trailer never came
      expect(client.text()).toBe(": ok\n\nretry: 3000\n\n: shutdown\n\n");
    }
  });

  it("counts what a compressed client has not read against bufferLimit, and closes it past the limit", async () => {
    const app = new App({ logger: silentLogger });
    const closes: SseStreamInfo[] = [];
    app.addHook("onStreamClose", (_req, info) => closes.push(info));
    let stream!: SseStream;
    app.get("/firehose", () => (stream = new SseStream()), { sse: { compress: true, bufferLimit: 64 * 1024, heartbeatMs: 0 } });
    app.enableCompression();
    const { port } = await app.listen({ port: 0 });
    apps.push(app);
    const client = await rawSse(port, "/firehose", { read: false, headers: { "Accept-Encoding": "gzip" } });
    await sleep(100);
    // Random data hardly compresses: the client's socket, the encoder and the queue fill up.
    for (let i = 0; i < 400 && closes.length === 0; i++) {
      stream.addData(randomBytes(6000).toString("base64"));
      if (i % 20 === 0) await sleep(5);
    }
    const started = Date.now();
    while (closes.length === 0 && Date.now() - started < 5000) await sleep(20);
    expect(closes.map((c) => c.reason)).toEqual(["overflow"]);
    expect(app.openStreams).toBe(0);
    client.socket.destroy();
  });

  it("frees each client's zlib context when it leaves: many open/close cycles leave none behind", async () => {
    const app = new App({ logger: silentLogger });
    app.get("/s", () => {
      const stream = new SseStream();
      stream.addData("hello ".repeat(100));
      return stream;
    }, { sse: { compress: true } });
    app.enableCompression();
    // Keep every encoder the responder creates (response.encoder is public: a later hook may wrap it).
    const encoders: Duplex[] = [];
    app.addHook("onResponse", (_req, response) => {
      const encoder = response.encoder;
      if (encoder) response.encoder = { ...encoder, createStream: () => encoders[encoders.push(encoder.createStream()) - 1]! };
    });
    const { port } = await app.listen({ port: 0 });
    apps.push(app);
    const cycle = async (coding: string) => {
      const client = await rawSse(port, "/s", { headers: { "Accept-Encoding": coding } });
      await client.until((text) => text.includes("\r\n\r\n") && text.length > 200);
      client.socket.destroy();
      await client.closed;
    };
    const rssBefore = process.memoryUsage().rss;
    for (let round = 0; round < 30; round++) await Promise.all(Array.from({ length: 10 }, (_, i) => cycle(i % 2 ? "gzip" : "br")));
    const started = Date.now();
    while ((app.openStreams > 0 || encoders.some((e) => !e.destroyed)) && Date.now() - started < 5000) await sleep(20);
    expect(app.openStreams).toBe(0);
    expect(encoders.length).toBe(300);
    // Destroyed: the zlib/brotli context (200-550 KB each) is freed now, not whenever GC gets to it.
    expect(encoders.filter((e) => !e.destroyed).length).toBe(0);
    // Measured: about 30 MB for 300 cycles, about 130 MB when the contexts are left to GC.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(90 * 1024 * 1024);
  });
});
