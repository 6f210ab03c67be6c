// respond.ts: what each return value becomes on the wire, byte for byte, and
// which errors are logged.
import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { HttpError } from "./errors.js";
import { Response } from "./response.js";
import { recordingLogger, startWithCleanup } from "./testing.js";

const start = startWithCleanup();

describe("return values on the wire", () => {
  it("sends ArrayBuffers and views as exactly their bytes", async () => {
    const app = new App();
    app.get("/array-buffer", () => new Uint8Array([1, 2, 250]).buffer);
    app.get("/empty-array-buffer", () => new ArrayBuffer(0));
    // A view into a larger buffer (Buffer's pool): only the viewed bytes go out.
    app.get("/view", () => Buffer.from("hello world").subarray(6));
    app.get("/typed-view", () => new Uint8Array(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2));
    const client = await start(app);
    const whole = await fetch(`${client.url}/array-buffer`);
    expect([whole.status, whole.headers.get("content-type"), whole.headers.get("content-length")]).toEqual([200, "application/octet-stream", "3"]);
    expect([...new Uint8Array(await whole.arrayBuffer())]).toEqual([1, 2, 250]);
    const empty = await client.get("/empty-array-buffer");
    expect([empty.status, empty.headers["content-length"], empty.text]).toEqual([200, "0", ""]);
    const view = await client.get("/view");
    expect([view.headers["content-length"], view.text]).toEqual(["5", "world"]);
    const typed = await fetch(`${client.url}/typed-view`);
    expect([...new Uint8Array(await typed.arrayBuffer())]).toEqual([8, 7]);
  });

  it("counts Content-Length in bytes and sends none on 204 and 304", async () => {
    const app = new App();
    app.get("/multibyte", () => "\u20ac\u{1F600}");
    app.get("/true", () => true);
    app.get("/no-content", () => undefined);
    app.get("/not-modified", () => new Response({ kind: "empty" }, { status: 304 }));
    app.get("/empty-200", () => new Response({ kind: "empty" }));
    const client = await start(app);
    const multibyte = await client.get("/multibyte");
    expect([multibyte.headers["content-length"], multibyte.text]).toEqual(["7", "\u20ac\u{1F600}"]);
    const bool = await client.get("/true");
    expect([bool.headers["content-type"], bool.text]).toEqual(["application/json", "true"]);
    for (const path of ["/no-content", "/not-modified"]) {
      const res = await client.get(path);
      expect([path, res.headers["content-length"], res.text]).toEqual([path, undefined, ""]);
    }
    const empty = await client.get("/empty-200");
    expect([empty.status, empty.headers["content-length"]]).toEqual([200, "0"]);
  });

  it("streams sync generators and async iterables as SSE, keeping the SSE headers a handler set", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    app.get("/generator", function* () {
      yield "a";
      yield "b";
    });
    const iterable = {
      async *[Symbol.asyncIterator]() {
        yield "c";
      },
    };
    app.get("/iterable", () => iterable);
    app.get("/custom", () =>
      Response.sse(iterable, {
        headers: { "Content-Type": "text/event-stream; charset=utf-8; profile=v2", "Cache-Control": "no-store", "X-Accel-Buffering": "yes" },
      }),
    );
    const client = await start(app);
    const generator = await client.sse("/generator");
    expect([generator.headers["content-type"], generator.events.map((e) => e.data)]).toEqual(["text/event-stream; charset=utf-8", ["a", "b"]]);
    expect([generator.headers["cache-control"], generator.headers["x-accel-buffering"]]).toEqual(["no-cache, no-transform", "no"]);
    expect((await client.sse("/iterable")).events.map((e) => e.data)).toEqual(["c"]);
    const custom = await client.sse("/custom");
    expect([custom.headers["content-type"], custom.headers["cache-control"], custom.headers["x-accel-buffering"]]).toEqual([
      "text/event-stream; charset=utf-8; profile=v2",
      "no-store",
      "yes",
    ]);
    expect(custom.events.map((e) => e.data)).toEqual(["c"]);
  });
});

describe("which errors are logged", () => {
  it("logs an HttpError from 500 up with its route, and none below 500", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/items/{id}", (req) => {
      if (req.params.id === "down") throw new HttpError(503, "db pool exhausted");
      if (req.params.id === "gateway") throw new HttpError(502, "upstream said no", { expose: true });
      throw new HttpError(404, `No item ${req.params.id}`);
    });
    const client = await start(app);
    const missing = await client.get("/items/7");
    expect([missing.status, missing.json]).toEqual([404, { error: "No item 7", status: 404 }]);
    expect(logger.errors).toEqual([]);
    const down = await client.get("/items/down");
    expect([down.status, down.json]).toEqual([503, { error: "Service Unavailable", status: 503 }]);
    const gateway = await client.get("/items/gateway");
    expect([gateway.status, gateway.json]).toEqual([502, { error: "upstream said no", status: 502 }]);
    expect(logger.errors.map(([message, err]) => [message, (err as Error).message])).toEqual([
      ["HttpError 503 in GET /items/{id}", "db pool exhausted"],
      ["HttpError 502 in GET /items/{id}", "upstream said no"],
    ]);
  });
});
