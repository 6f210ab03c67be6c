import { connect as http2Connect } from "node:http2";
import { Agent, fetch as undiciFetch } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "./app.js";
import { SseStream } from "./sse/stream.js";
import { connect, createParser } from "./testing.js";
import { selfSignedCertificate } from "./tls.test-support.js";

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close({ graceMs: 500 })));
});

function counterApp(versions: string[]): App {
  const app = new App({ sse: { heartbeatMs: 0 } });
  app.get("/counter", (req) => {
    versions.push(req.raw.httpVersion);
    const stream = new SseStream();
    for (let i = 1; i <= 3; i++) stream.addEvent("count", JSON.stringify({ value: i }));
    stream.close();
    return stream;
  });
  app.get("/json", () => ({ ok: true }));
  apps.push(app);
  return app;
}

describe("HTTP/2", () => {
  it("serves SSE over h2c with no connection-specific headers", async () => {
    const versions: string[] = [];
    const app = counterApp(versions);
    const { url } = await app.listen({ port: 0, http2: true });
    const session = http2Connect(url);
    const events: Array<[string, string]> = [];
    const parser = createParser({ onEvent: (e) => events.push([e.event, e.data]) });
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const stream = session.request({ ":path": "/counter", accept: "text/event-stream" });
      let head: Record<string, unknown> = {};
      stream.on("response", (h) => (head = h));
      stream.on("data", (chunk: Buffer) => parser.feed(chunk));
      stream.on("end", () => resolve(head));
      stream.on("error", reject);
    });
    session.close();
    expect(headers[":status"]).toBe(200);
    expect(headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(headers["cache-control"]).toBe("no-cache, no-transform");
    expect(headers.connection).toBeUndefined();
    expect(events).toEqual([
      ["count", '{"value":1}'],
      ["count", '{"value":2}'],
      ["count", '{"value":3}'],
    ]);
    expect(versions).toEqual(["2.0"]);
  });

  it("streams to the client library over HTTP/2 with TLS, and falls back to HTTP/1.1", async () => {
    const versions: string[] = [];
    const app = counterApp(versions);
    const { port } = await app.listen({ port: 0, http2: true, tls: selfSignedCertificate() });
    const url = `https://localhost:${port}`;
    const h2 = new Agent({ allowH2: true, connect: { rejectUnauthorized: false } });
    const h1 = new Agent({ connect: { rejectUnauthorized: false } });
    const fetchWith = (dispatcher: Agent) => ((input: string, init: RequestInit) =>
      undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;

    const received: number[] = [];
    for await (const event of connect<{ count: { value: number } }>(`${url}/counter`, { json: true, fetch: fetchWith(h2), reconnectDelayMs: 10 })) {
      if (event.event === "count") received.push(event.data.value);
      if (received.length === 3) break;
    }
    expect(received).toEqual([1, 2, 3]);

    const plain = await undiciFetch(`${url}/json`, { dispatcher: h1 });
    expect(await plain.json()).toEqual({ ok: true });
    const viaH1: number[] = [];
    for await (const event of connect<{ count: { value: number } }>(`${url}/counter`, { json: true, fetch: fetchWith(h1), reconnectDelayMs: 10 })) {
      if (event.event === "count") viaH1.push(event.data.value);
      if (viaH1.length === 3) break;
    }
    expect(viaH1).toEqual([1, 2, 3]);
    expect(versions).toEqual(["2.0", "1.1"]);
    await h2.close();
    await h1.close();
  });
});
