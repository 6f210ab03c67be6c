import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { connect, type ReconnectInfo, type TypedSseEvent } from "./connect.js";
import { SseClientError, SseClientErrorCode } from "./errors.js";
import type { ReceivedEvent, SseEvent } from "./parser.js";

/** What the server saw of one request. */
interface SeenRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
  /** Resolves when the TCP connection that carried this request closes. */
  socketClosed: Promise<void>;
}

type Handler = (request: IncomingMessage, response: ServerResponse, index: number) => void;

interface TestServer {
  url: string;
  requests: SeenRequest[];
}

const openServers: Array<() => Promise<void>> = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(openServers.splice(0).map((close) => close()));
});

/** A real node:http server on 127.0.0.1, port 0, that records every request. */
async function startServer(handler: Handler): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((request, response) => {
    const socketClosed = new Promise<void>((resolve) => request.socket.once("close", () => resolve()));
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({
        method: request.method ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        receivedAt: performance.now(),
        socketClosed,
      });
      handler(request, response, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  openServers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/events`, requests };
}

function openStream(response: ServerResponse): void {
  response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  response.flushHeaders();
}

async function take<T>(events: AsyncIterable<T>, count: number): Promise<T[]> {
  const items: T[] = [];
  if (count === 0) return items;
  for await (const item of events) {
    items.push(item);
    if (items.length === count) break;
  }
  return items;
}

async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of events) items.push(item);
  return items;
}

/** Fails fast instead of hanging until the test timeout. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const UTF8_HEADER = (value: string | string[] | undefined) =>
  // node:http reads header bytes as latin1; undo that to see the UTF-8 the client sent.
  typeof value === "string" ? Buffer.from(value, "latin1").toString("utf8") : value;

describe("connect: receiving", () => {
  it("yields events in order with their type, data and id", async () => {
    const server = await startServer((_request, response) => {
      openStream(response);
      response.write("event: greet\ndata: hello\n\n");
      response.write("id: 1\ndata: line 1\ndata: line 2\n\n: heartbeat\n\n");
      response.write("data: thi");
      setTimeout(() => response.write("rd\n\n"), 10);
    });

    const events = await take(connect(server.url), 3);

    expect(events).toEqual([
      { event: "greet", data: "hello", id: "" },
      { event: "message", data: "line 1\nline 2", id: "1" },
      { event: "message", data: "third", id: "1" },
    ]);
  });

  it("sends the method, custom headers and body, with Accept and Cache-Control", async () => {
    const server = await startServer((_request, response) => {
      openStream(response);
      response.write("data: ok\n\n");
    });

    await take(
      connect(server.url, {
        method: "POST",
        headers: { "x-token": "secret", "content-type": "application/json" },
        body: JSON.stringify({ topic: "prices" }),
      }),
      1,
    );

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe("POST");
    expect(request?.body).toBe('{"topic":"prices"}');
    expect(request?.headers).toMatchObject({
      "x-token": "secret",
      "content-type": "application/json",
      accept: "text/event-stream",
      "cache-control": "no-cache",
    });
    expect(request?.headers["last-event-id"]).toBeUndefined();
  });

  it("sends the lastEventId option on the first request and reports it on events", async () => {
    const server = await startServer((_request, response) => {
      openStream(response);
      response.write("data: resumed\n\n");
    });

    const events = await take(connect(server.url, { lastEventId: "41" }), 1);

    expect(server.requests[0]?.headers["last-event-id"]).toBe("41");
    expect(events).toEqual([{ event: "message", data: "resumed", id: "41" }]);
  });

  it("uses the injected fetch for every request", async () => {
    const server = await startServer((_request, response) => {
      openStream(response);
      response.write("data: via wrapper\n\n");
    });
    const calls: string[] = [];

    const events = await take(
      connect(server.url, {
        fetch: (url, init) => {
          calls.push(`${init.method} ${url}`);
          return fetch(url, init);
        },
      }),
      1,
    );

    expect(calls).toEqual([`GET ${server.url}`]);
    expect(events.map((event) => event.data)).toEqual(["via wrapper"]);
  });
});

describe("connect: reconnecting", () => {
  it("reconnects when the response ends, waiting reconnectDelayMs and then the server's retry:, with Last-Event-ID", async () => {
    let firstEndedAt = 0;
    let secondEndedAt = 0;
    const server = await startServer((_request, response, index) => {
      openStream(response);
      if (index === 0) {
        response.end("id: 1\ndata: a\n\n", () => (firstEndedAt = performance.now()));
      } else if (index === 1) {
        response.end("retry: 60\nid: 2\ndata: b\n\n", () => (secondEndedAt = performance.now()));
      } else {
        response.write("data: c\n\n");
      }
    });
    const reconnects: ReconnectInfo[] = [];

    const events = await take(connect(server.url, { reconnectDelayMs: 20, onReconnect: (info) => reconnects.push(info) }), 3);

    expect(events).toEqual([
      { event: "message", data: "a", id: "1" },
      { event: "message", data: "b", id: "2", retry: 60 },
      { event: "message", data: "c", id: "2" },
    ]);
    expect(server.requests.map((request) => request.headers["last-event-id"])).toEqual([undefined, "1", "2"]);
    expect(reconnects).toEqual([
      { failures: 0, delayMs: 20, error: undefined, lastEventId: "1" },
      { failures: 0, delayMs: 60, error: undefined, lastEventId: "2" },
    ]);
    // Lower bounds only: the client waited at least the delay after each end.
    expect(server.requests[1]!.receivedAt - firstEndedAt).toBeGreaterThanOrEqual(15);
    expect(server.requests[2]!.receivedAt - secondEndedAt).toBeGreaterThanOrEqual(55);
  });

  it("sends Last-Event-ID from an id-only block, as UTF-8, and drops it after an empty id", async () => {
    const server = await startServer((_request, response, index) => {
      if (index === 2) {
        response.writeHead(204).end();
        return;
      }
      openStream(response);
      if (index === 0) response.end("data: a\n\nid: é✓-7\n\n");
      else response.end("data: b\n\nid\n\n");
    });

    const events = await collect(connect(server.url, { reconnectDelayMs: 1 }));

    expect(events).toEqual([
      { event: "message", data: "a", id: "" },
      { event: "message", data: "b", id: "é✓-7" },
    ]);
    expect(server.requests.map((request) => UTF8_HEADER(request.headers["last-event-id"]))).toEqual([
      undefined,
      "é✓-7",
      undefined,
    ]);
  });

  it("reconnects after the connection drops mid-stream, counting it as a failure", async () => {
    const server = await startServer((request, response, index) => {
      openStream(response);
      if (index === 0) {
        response.write("id: 9\ndata: before\n\n", () => setTimeout(() => request.socket.destroy(), 10));
      } else {
        response.write("data: after\n\n");
      }
    });
    const reconnects: ReconnectInfo[] = [];

    const events = await take(connect(server.url, { reconnectDelayMs: 5, onReconnect: (info) => reconnects.push(info) }), 2);

    expect(events.map((event) => [event.data, event.id])).toEqual([
      ["before", "9"],
      ["after", "9"],
    ]);
    expect(server.requests[1]?.headers["last-event-id"]).toBe("9");
    expect(reconnects).toHaveLength(1);
    expect(reconnects[0]?.failures).toBe(1);
    expect(reconnects[0]?.error).toBeInstanceOf(Error);
  });

  it("backs off more after each consecutive failure and resets after a successful connection", async () => {
    const server = await startServer((request, response, index) => {
      if (index < 4) {
        request.socket.destroy(); // no response at all: a network error for fetch
      } else if (index === 4) {
        openStream(response);
        response.end("data: finally\n\n");
      } else {
        response.writeHead(204).end();
      }
    });
    const reconnects: ReconnectInfo[] = [];

    const events = await collect(
      connect(server.url, { reconnectDelayMs: 10, maxReconnectDelayMs: 1000, onReconnect: (info) => reconnects.push(info) }),
    );

    expect(events.map((event) => event.data)).toEqual(["finally"]);
    expect(reconnects.map((info) => info.failures)).toEqual([1, 2, 3, 4, 0]);
    expect(reconnects.slice(0, 4).every((info) => info.error instanceof Error)).toBe(true);
    expect(reconnects[4]?.error).toBeUndefined();
    const delays = reconnects.map((info) => info.delayMs);
    // Each failure's range, [10 + (10 * 2^n - 10) / 2, 10 * 2^n], lies above the previous one.
    for (let index = 1; index < 4; index += 1) expect(delays[index]).toBeGreaterThan(delays[index - 1]!);
    expect(delays[0]).toBeGreaterThanOrEqual(15);
    expect(delays[3]).toBeLessThanOrEqual(160);
    expect(delays[4]).toBe(10);
    expect(server.requests).toHaveLength(6);
  });

  it.each([
    ["reconnectDelayMs and maxReconnectDelayMs", { reconnectDelayMs: 10, maxReconnectDelayMs: 12 }],
    ["the deprecated retryMs and maxRetryMs", { retryMs: 10, maxRetryMs: 12 }],
  ])("%s set the delay and the backoff's cap", async (_names, delays) => {
    const server = await startServer((request, response, index) => {
      if (index < 3) request.socket.destroy();
      else response.writeHead(204).end();
    });
    const reconnects: ReconnectInfo[] = [];

    await collect(connect(server.url, { ...delays, onReconnect: (info) => reconnects.push(info) }));

    // Without the cap, the third failure alone would wait at least 45 ms (default cap 30 s).
    expect(reconnects.map((info) => info.failures)).toEqual([1, 2, 3]);
    for (const info of reconnects) {
      expect(info.delayMs).toBeGreaterThanOrEqual(10);
      expect(info.delayMs).toBeLessThanOrEqual(12);
    }
  });
});

describe("connect: failing and stopping", () => {
  it.each([
    { name: "status 500", status: 500, contentType: "text/event-stream", code: SseClientErrorCode.BAD_STATUS, message: /got 500/ },
    { name: "status 404", status: 404, contentType: "text/plain", code: SseClientErrorCode.BAD_STATUS, message: /got 404/ },
    {
      name: "a JSON content type",
      status: 200,
      contentType: "application/json",
      code: SseClientErrorCode.BAD_CONTENT_TYPE,
      message: /expected Content-Type text\/event-stream, got "application\/json"/,
    },
    {
      name: "no content type",
      status: 200,
      contentType: undefined,
      code: SseClientErrorCode.BAD_CONTENT_TYPE,
      message: /got none \(HTTP status 200\)/,
    },
  ])("$name rejects with a clear error and does not reconnect", async ({ status, contentType, code, message }) => {
    const server = await startServer((_request, response) => {
      response.writeHead(status, contentType === undefined ? {} : { "content-type": contentType });
      response.end("data: not for you\n\n");
    });
    const reconnects: ReconnectInfo[] = [];

    const error = await collect(connect(server.url, { reconnectDelayMs: 10, onReconnect: (info) => reconnects.push(info) })).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(SseClientError);
    expect(error).toMatchObject({ code, status, url: server.url });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(server.url);
    await delay(50); // five reconnection times: long enough to see a reconnect if there were one
    expect(server.requests).toHaveLength(1);
    expect(reconnects).toEqual([]);
  });

  it("ends the iteration on 204 No Content without reconnecting", async () => {
    const server = await startServer((_request, response) => {
      response.writeHead(204).end();
    });

    const events = await collect(connect(server.url, { reconnectDelayMs: 10 }));

    expect(events).toEqual([]);
    await delay(50);
    expect(server.requests).toHaveLength(1);
  });

  it("ends cleanly when the signal aborts inside the loop, and the server sees the socket close", async () => {
    const server = await startServer((_request, response) => {
      openStream(response);
      response.write("data: one\n\ndata: two\n\n");
    });
    const controller = new AbortController();
    const seen: string[] = [];

    for await (const event of connect(server.url, { signal: controller.signal })) {
      seen.push(event.data);
      controller.abort();
    }

    expect(seen).toEqual(["one"]); // "two" was already parsed, but an abort drops it
    await within(server.requests[0]!.socketClosed, 2000, "server-side socket close");
  });

  it("ends cleanly when the signal aborts while waiting for data", async () => {
    const server = await startServer((_request, response) => openStream(response));
    const controller = new AbortController();

    const events = await collect(
      connect(server.url, { signal: controller.signal, onOpen: () => setTimeout(() => controller.abort(), 20) }),
    );

    expect(events).toEqual([]);
    await within(server.requests[0]!.socketClosed, 2000, "server-side socket close");
  });

  it("ends at once, leaving no timer, when the signal aborts during the reconnect wait", async () => {
    const server = await startServer((_request, response) => {
      openStream(response);
      response.end("retry: 60000\ndata: bye\n\n");
    });
    const controller = new AbortController();
    // Spies only watch: the real timers still run.
    const setTimeoutSpy = vi.spyOn(globalThis, "setTimeout");
    const clearTimeoutSpy = vi.spyOn(globalThis, "clearTimeout");
    const started = performance.now();

    const events = await collect(
      connect(server.url, { signal: controller.signal, onReconnect: () => setTimeout(() => controller.abort(), 10) }),
    );

    expect(events.map((event) => event.data)).toEqual(["bye"]);
    expect(performance.now() - started).toBeLessThan(5000); // not the 60 s the server asked for
    const waitTimers = setTimeoutSpy.mock.calls
      .map((call, index) => ({ ms: call[1], timer: setTimeoutSpy.mock.results[index]?.value as unknown }))
      .filter((entry) => entry.ms === 60_000);
    expect(waitTimers).toHaveLength(1);
    expect(clearTimeoutSpy.mock.calls.map((call) => call[0])).toContain(waitTimers[0]!.timer);
    expect(server.requests).toHaveLength(1);
  });

  it("does not connect at all when the signal is already aborted", async () => {
    const server = await startServer((_request, response) => openStream(response));

    const events = await collect(connect(server.url, { signal: AbortSignal.abort() }));

    expect(events).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it("closes the connection on break, and does not reconnect", async () => {
    const server = await startServer((_request, response) => {
      openStream(response);
      response.write("data: first\n\n");
      setTimeout(() => response.write("data: second\n\n"), 10);
    });

    const seen: string[] = [];
    for await (const event of connect(server.url, { reconnectDelayMs: 10 })) {
      seen.push(event.data);
      break;
    }

    expect(seen).toEqual(["first"]);
    await within(server.requests[0]!.socketClosed, 2000, "server-side socket close");
    await delay(50);
    expect(server.requests).toHaveLength(1);
  });

  it("rejects bad arguments at the call site", () => {
    expect(() => connect("not a url")).toThrow(TypeError);
    expect(() => connect("http://127.0.0.1/", { reconnectDelayMs: -1 })).toThrow(RangeError);
    expect(() => connect("http://127.0.0.1/", { maxReconnectDelayMs: Number.NaN })).toThrow(/maxReconnectDelayMs/);
    // The deprecated names are checked the same way, and named in the message as given.
    expect(() => connect("http://127.0.0.1/", { retryMs: -1 })).toThrow(new RangeError("connect(): retryMs must be a finite number >= 0, got -1"));
    expect(() => connect("http://127.0.0.1/", { maxRetryMs: Number.NaN })).toThrow(/maxRetryMs/);
    expect(() => connect("http://127.0.0.1/", { retryMs: 10, reconnectDelayMs: 10 })).toThrow(
      new TypeError("connect(): retryMs is the deprecated name of reconnectDelayMs; pass reconnectDelayMs only"),
    );
    expect(() => connect("http://127.0.0.1/", { body: "x" })).toThrow(/GET request cannot have a body/);
    expect(() => connect("http://127.0.0.1/", { lastEventId: "a\nb" })).toThrow(TypeError);
    expect(() => connect("http://127.0.0.1/", { headers: { "bad header": "x" } })).toThrow(TypeError);
  });
});

describe("connect: JSON and types", () => {
  type Events = { count: { value: number }; complete: string };

  function countingServer(): Promise<TestServer> {
    return startServer((_request, response) => {
      openStream(response);
      response.write('event: count\ndata: {"value":1}\n\nevent: count\ndata: {"value":2}\n\n');
      response.write('event: complete\ndata: "done"\n\n');
    });
  }

  it("JSON-decodes every event with json: true, typed as a discriminated union", async () => {
    const server = await countingServer();
    const values: number[] = [];
    let completion = "";

    for await (const event of connect<Events>(server.url, { json: true })) {
      expectTypeOf(event.event).toEqualTypeOf<"count" | "complete">();
      if (event.event === "count") {
        expectTypeOf(event.data).toEqualTypeOf<{ value: number }>();
        values.push(event.data.value);
      } else {
        expectTypeOf(event.data).toEqualTypeOf<string>();
        completion = event.data;
        break;
      }
    }

    expect(values).toEqual([1, 2]);
    expect(completion).toBe("done");
  });

  it("JSON-decodes only the listed events", async () => {
    const server = await countingServer();

    const events = await take(connect<{ count: { value: number }; complete: string }>(server.url, { json: ["count"] }), 3);

    expect(events.map((event) => event.data)).toEqual([{ value: 1 }, { value: 2 }, '"done"']);
  });

  it("ends with an SseClientError naming the event when JSON is invalid", async () => {
    const server = await startServer((_request, response) => {
      openStream(response);
      response.write("event: count\ndata: {not json\n\n");
    });

    const error = await collect(connect(server.url, { json: true })).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SseClientError);
    expect(error).toMatchObject({ code: SseClientErrorCode.INVALID_JSON, event: "count" });
    expect((error as Error).message).toContain('data of event "count" is not valid JSON');
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it("types untyped streams as strings, and untyped JSON as unknown", () => {
    type Item<T> = T extends AsyncIterable<infer E> ? E : never;
    const url = "http://127.0.0.1:1/";

    const untyped = connect(url);
    expectTypeOf<Item<typeof untyped>>().toEqualTypeOf<ReceivedEvent>();
    // The deprecated name is the same type.
    expectTypeOf<SseEvent>().toEqualTypeOf<ReceivedEvent>();
    const typed = connect<Events>(url, { json: true });
    expectTypeOf<Item<typeof typed>>().toEqualTypeOf<TypedSseEvent<Events>>();
    expectTypeOf<TypedSseEvent>().toEqualTypeOf<{ event: string; data: string; id: string; retry?: number }>();
    expectTypeOf<TypedSseEvent>().toEqualTypeOf<ReceivedEvent>();
    expectTypeOf(connect(url)).toEqualTypeOf<AsyncGenerator<TypedSseEvent, void, undefined>>();
    expectTypeOf(connect(url, { json: true })).toEqualTypeOf<
      AsyncGenerator<TypedSseEvent<Record<string, unknown>>, void, undefined>
    >();
    expectTypeOf<TypedSseEvent<Record<string, unknown>>["data"]>().toEqualTypeOf<unknown>();
    expectTypeOf<TypedSseEvent<Events>>().toEqualTypeOf<
      | { event: "count"; data: { value: number }; id: string; retry?: number }
      | { event: "complete"; data: string; id: string; retry?: number }
    >();
    // @ts-expect-error: only declared event names may be listed for JSON decoding
    connect<Events>(url, { json: ["counter"] });
  });
});
