// Ordinary responses over real sockets: what a client sees (headers, exact bytes after decoding).
import { request as httpRequest } from "node:http";
import { connect as http2Connect } from "node:http2";
import zlib from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "../../app.js";
import { silentLogger } from "../../logger.js";
import { Response } from "../../response.js";
import { celloErrorOf, recordingLogger } from "../../testing.js";
import { compression } from "./compression.js";
import { isCompressible } from "./compressible.js";

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close({ graceMs: 100 })));
});

// 20 KB of JSON-ish text with a multi-byte character, so a wrong length or a lost byte shows.
const BIG = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i} é`, tags: ["alpha", "beta"] })));
const BIG_BYTES = Buffer.from(BIG);

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on a fresh connection; the body as it came off the wire (not decoded). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

async function start(configure: (app: App) => void, logger = silentLogger): Promise<number> {
  const app = new App({ logger });
  app.get("/big", () => BIG);
  app.get("/json", () => JSON.parse(BIG) as unknown);
  app.get("/small", () => "tiny");
  app.get("/png", () => Response.binary(new Uint8Array(4096).fill(7), "image/png"));
  app.get("/no-transform", () => Response.text(BIG, { headers: { "Cache-Control": "public, no-transform" } }));
  app.get("/encoded", () => Response.binary(zlib.gzipSync(BIG_BYTES), "text/plain", { headers: { "Content-Encoding": "gzip" } }));
  app.get("/etag", () => Response.text(BIG, { headers: { ETag: '"v1"' } }));
  app.get("/empty", () => undefined);
  app.get("/not-modified", () => new Response({ kind: "empty" }, 304));
  app.get("/vary", () => Response.text(BIG, { headers: { Vary: "Origin" } }));
  configure(app);
  const { port } = await app.listen({ port: 0 });
  apps.push(app);
  return port;
}

function decode(raw: Raw): Buffer {
  switch (raw.headers["content-encoding"]) {
    case "gzip":
      return zlib.gunzipSync(raw.body);
    case "br":
      return zlib.brotliDecompressSync(raw.body);
    case "deflate":
      return zlib.inflateSync(raw.body);
    default:
      return raw.body;
  }
}

describe("app.enableCompression(): ordinary responses", () => {
  it("sends gzip and brotli bodies that decode to the exact bytes, with Vary and the encoded Content-Length", async () => {
    const port = await start((app) => app.enableCompression());
    for (const [accept, coding] of [["gzip", "gzip"], ["br", "br"], ["gzip, deflate, br", "br"]] as const) {
      const raw = await get(port, "/big", { "Accept-Encoding": accept });
      expect(raw.status).toBe(200);
      expect(raw.headers["content-encoding"]).toBe(coding);
      expect(raw.headers.vary).toBe("Accept-Encoding");
      expect(Number(raw.headers["content-length"])).toBe(raw.body.length);
      expect(raw.body.length).toBeLessThan(BIG_BYTES.length / 4);
      expect(decode(raw).equals(BIG_BYTES)).toBe(true);
    }
    const json = await get(port, "/json", { "Accept-Encoding": "gzip" });
    expect(json.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(decode(json).toString())).toEqual(JSON.parse(BIG));
  });

  it("honours q-values, server preference on ties, and offers deflate only when configured", async () => {
    const port = await start((app) => app.enableCompression({ encodings: ["gzip", "br", "deflate"] }));
    const cases: Array<[string, string | undefined]> = [
      ["br;q=1, gzip;q=0.5", "br"],
      ["br;q=0.2, gzip;q=0.9", "gzip"],
      ["br, gzip", "gzip"], // a tie: the configured order decides
      ["deflate", "deflate"],
      ["*", "gzip"],
      ["*;q=0.5, br;q=0.9", "br"],
      ["gzip;q=0, br;q=0", undefined],
      ["*;q=0", undefined],
      ["identity", undefined],
      ["gzip;q=0.5, identity", undefined], // identity rated higher
      ["identity;q=0, gzip;q=0.1", "gzip"],
      ["gzip;q=0.5", "gzip"], // identity, unnamed, ties at the lowest q: the coding wins
      ["GZIP", "gzip"],
      ["compress, zstd", undefined],
      ["", undefined],
    ];
    for (const [accept, coding] of cases) {
      const raw = await get(port, "/big", { "Accept-Encoding": accept });
      expect([accept, raw.status, raw.headers["content-encoding"]]).toEqual([accept, 200, coding]);
      expect(decode(raw).equals(BIG_BYTES)).toBe(true);
    }
    const defaults = await start((app) => app.enableCompression());
    const deflate = await get(defaults, "/big", { "Accept-Encoding": "deflate" });
    expect(deflate.headers["content-encoding"]).toBeUndefined();
    expect(deflate.body.equals(BIG_BYTES)).toBe(true);
  });

  it("answers hostile Accept-Encoding headers (huge, garbage, bad q) with a correct response", async () => {
    const logger = recordingLogger();
    const port = await start((app) => app.enableCompression(), logger);
    const hostile = [
      "gzip;q=abc, br;q=NaN",
      ";;;,,,;q=;=",
      "gzip;q=-1, br;q=1e309",
      "\u00ff\u00fe garbage \t",
      `${"x;q=0.1, ".repeat(1200)}gzip`, // about 12 KB, under node's 16 KB head limit
      `${",".repeat(14_000)}br`,
      "gzip;q=0.5;q=1;level=9, br;q=0.001",
    ];
    for (const accept of hostile) {
      const raw = await get(port, "/big", { "Accept-Encoding": accept });
      expect(raw.status).toBe(200);
      expect(raw.headers.vary).toBe("Accept-Encoding");
      expect(decode(raw).equals(BIG_BYTES)).toBe(true);
    }
    expect(logger.errors).toEqual([]);
  });

  it("leaves alone tiny bodies, incompressible types, no-transform, already encoded, empty, 304 and HEAD", async () => {
    const port = await start((app) => app.enableCompression());
    const gz = { "Accept-Encoding": "gzip, br" };
    const small = await get(port, "/small", gz);
    expect([small.headers["content-encoding"], small.headers.vary, small.body.toString()]).toEqual([undefined, undefined, "tiny"]);
    const png = await get(port, "/png", gz);
    expect([png.headers["content-encoding"], png.body.length]).toEqual([undefined, 4096]);
    const noTransform = await get(port, "/no-transform", gz);
    expect(noTransform.headers["content-encoding"]).toBeUndefined();
    expect(noTransform.body.equals(BIG_BYTES)).toBe(true);
    const encoded = await get(port, "/encoded", gz);
    expect(encoded.headers["content-encoding"]).toBe("gzip");
    expect(zlib.gunzipSync(encoded.body).equals(BIG_BYTES)).toBe(true); // not encoded twice
    const empty = await get(port, "/empty", gz);
    expect([empty.status, empty.headers["content-encoding"], empty.body.length]).toEqual([204, undefined, 0]);
    const notModified = await get(port, "/not-modified", gz);
    expect([notModified.status, notModified.headers["content-encoding"]]).toEqual([304, undefined]);
    const head = await get(port, "/big", gz, "HEAD");
    expect([head.status, head.headers["content-encoding"], head.headers.vary, head.body.length]).toEqual([200, undefined, "Accept-Encoding", 0]);
    expect(head.headers["content-length"]).toBe(String(BIG_BYTES.length));
  });

  it("weakens a strong ETag on an encoded body and keeps the Vary a handler set", async () => {
    const port = await start((app) => app.enableCompression());
    const etag = await get(port, "/etag", { "Accept-Encoding": "gzip" });
    expect(etag.headers.etag).toBe('W/"v1"');
    const identity = await get(port, "/etag");
    expect(identity.headers.etag).toBe('"v1"');
    const vary = await get(port, "/vary", { "Accept-Encoding": "gzip" });
    expect(vary.headers.vary).toBe("Origin, Accept-Encoding");
  });

  it("keeps CORS's Vary and its own on one response", async () => {
    const port = await start((app) => app.enableCors({ origins: ["http://a.test"] }).enableCompression());
    const raw = await get(port, "/big", { "Accept-Encoding": "br", Origin: "http://a.test" });
    expect(raw.headers.vary).toBe("Origin, Accept-Encoding");
    expect(decode(raw).equals(BIG_BYTES)).toBe(true);
  });

  it("serves keep-alive clients in order while bodies are encoded off the event loop", async () => {
    const port = await start((app) => {
      app.get("/n/{n}", (req) => `${req.params.n}:`.repeat(2000));
      app.enableCompression();
    });
    const response = await fetch(`http://127.0.0.1:${port}/big`, { headers: { "Accept-Encoding": "gzip" } });
    // undici's fetch decodes gzip itself: the text is the exact body.
    expect(response.headers.get("content-encoding")).toBe("gzip");
    expect(await response.text()).toBe(BIG);
    const bodies = await Promise.all(Array.from({ length: 20 }, (_, n) => fetch(`http://127.0.0.1:${port}/n/${n}`).then((r) => r.text())));
    expect(bodies).toEqual(Array.from({ length: 20 }, (_, n) => `${n}:`.repeat(2000)));
  });

  it("sends an unencoded body when the encoder fails, and logs it", async () => {
    const logger = recordingLogger();
    const port = await start((app) => {
      app.enableCompression();
      app.addHook("onResponse", (_req, res) => {
        if (res.encoder) res.encoder = { ...res.encoder, encode: () => Promise.reject(new Error("zlib broke")) };
      });
    }, logger);
    const raw = await get(port, "/big", { "Accept-Encoding": "gzip" });
    expect([raw.status, raw.headers["content-encoding"]]).toEqual([200, undefined]);
    expect(raw.body.equals(BIG_BYTES)).toBe(true);
    expect(logger.errors.map(([message]) => message)).toEqual([expect.stringContaining("Encoding the response (gzip) failed")]);
  });

  it("compresses over HTTP/2", async () => {
    const app = new App({ logger: silentLogger });
    app.get("/big", () => BIG);
    app.enableCompression();
    const { url } = await app.listen({ port: 0, http2: true });
    apps.push(app);
    const session = http2Connect(url);
    try {
      const raw = await new Promise<Raw>((resolve, reject) => {
        const stream = session.request({ ":path": "/big", "accept-encoding": "br" });
        const chunks: Buffer[] = [];
        let headers: Raw["headers"] = {};
        stream.on("response", (h) => (headers = h as Raw["headers"]));
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => resolve({ status: Number(headers[":status"]), headers, body: Buffer.concat(chunks) }));
        stream.on("error", reject);
        stream.end();
      });
      expect([raw.status, raw.headers["content-encoding"], raw.headers.vary]).toEqual([200, "br", "Accept-Encoding"]);
      expect(decode(raw).equals(BIG_BYTES)).toBe(true);
    } finally {
      session.close();
    }
  });

  it("throws CELLO_INVALID_OPTION for bad options at setup", () => {
    for (const bad of [
      { encodings: [] },
      { encodings: ["zstd"] },
      { encodings: "gzip" },
      { threshold: -1 },
      { threshold: 1.5 },
      { level: 0 },
      { level: 10 },
      { brotliQuality: 12 },
      { filter: "text/*" },
      { sse: "yes" },
    ]) {
      expect(celloErrorOf(() => compression(bad as never)).code).toBe("CELLO_INVALID_OPTION");
    }
  });
});

describe("isCompressible", () => {
  it("says yes to text, JSON, XML, JS and SVG, and no to what is compressed already", () => {
    for (const type of ["text/html; charset=utf-8", "text/plain", "application/json", "application/problem+json", "application/javascript", "image/svg+xml", "application/xml", "application/vnd.api+json; charset=utf-8", "application/wasm"]) {
      expect([type, isCompressible(type)]).toEqual([type, true]);
    }
    for (const type of ["image/png", "image/jpeg", "image/webp", "video/mp4", "application/zip", "application/gzip", "font/woff2", "application/octet-stream", "", "json"]) {
      expect([type, isCompressible(type)]).toEqual([type, false]);
    }
  });
});
