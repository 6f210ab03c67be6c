import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { Response } from "../response.js";
import { celloErrorOf, recordingLogger } from "../testing.js";
import { SSE_DEFAULTS, resolveSseOptions, type SseOptions } from "./options.js";
import { SseStream } from "./stream.js";

describe("resolveSseOptions", () => {
  it("layers defaults <- app <- route <- response key by key", () => {
    const app = resolveSseOptions(SSE_DEFAULTS, { heartbeatMs: 5000, retry: 3000 });
    const route = resolveSseOptions(app, { overflow: "drop-oldest", retry: undefined });
    const response = resolveSseOptions(route, { bufferLimit: 4096 });
    expect(app).toEqual({ heartbeatMs: 5000, retry: 3000, bufferLimit: 1024 * 1024, overflow: "close", writeTimeoutMs: 30_000, compress: undefined, maxLifetimeMs: 0, lifetimeJitter: 0.1 });
    // An undefined key keeps the level above (the route's retry stays the app's).
    expect(route).toEqual({ heartbeatMs: 5000, retry: 3000, bufferLimit: 1024 * 1024, overflow: "drop-oldest", writeTimeoutMs: 30_000, compress: undefined, maxLifetimeMs: 0, lifetimeJitter: 0.1 });
    expect(response).toEqual({ heartbeatMs: 5000, retry: 3000, bufferLimit: 4096, overflow: "drop-oldest", writeTimeoutMs: 30_000, compress: undefined, maxLifetimeMs: 0, lifetimeJitter: 0.1 });
    // Every level below stays as it was.
    expect(SSE_DEFAULTS).toEqual({ heartbeatMs: 15_000, retry: undefined, bufferLimit: 1024 * 1024, overflow: "close", writeTimeoutMs: 30_000, compress: undefined, maxLifetimeMs: 0, lifetimeJitter: 0.1 });
    expect(app.overflow).toBe("close");
  });

  it("returns the level above itself when nothing is set, so a route's connections share one object", () => {
    const route = resolveSseOptions(SSE_DEFAULTS, { heartbeatMs: 0 });
    for (const nothing of [undefined, {}, { heartbeatMs: undefined, retry: undefined }, null as unknown as SseOptions]) {
      expect(resolveSseOptions(route, nothing)).toBe(route);
    }
  });

  it("never hands out the frozen defaults, and gives every resolved object the same keys in the same order", () => {
    const copy = resolveSseOptions(SSE_DEFAULTS, undefined);
    expect(copy).not.toBe(SSE_DEFAULTS);
    expect(copy).toEqual(SSE_DEFAULTS);
    expect(Object.isFrozen(SSE_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(copy)).toBe(false);
    // Only the known keys, always in one order (one hidden class for every connection's options).
    const odd = resolveSseOptions(copy, { writeTimeoutMs: 1, heartbeatMs: 2, unknown: true } as SseOptions);
    expect(Object.keys(odd)).toEqual(Object.keys(copy));
    expect(Object.keys(copy)).toEqual(["heartbeatMs", "retry", "bufferLimit", "overflow", "writeTimeoutMs", "compress", "maxLifetimeMs", "lifetimeJitter"]);
  });
});

describe("bad options are refused where they are set (one check for every option)", () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    // NaN and Infinity became a 1 ms heartbeat timer: a busy loop for as long as a stream was open.
    ["heartbeatMs", { heartbeatMs: Number.NaN }],
    ["heartbeatMs", { heartbeatMs: Infinity }],
    ["heartbeatMs", { heartbeatMs: -5 }],
    ["heartbeatMs", { heartbeatMs: "15000" }],
    ["retry", { retry: 1.5 }],
    ["retry", { retry: -1 }],
    ["bufferLimit", { bufferLimit: Number.NaN }],
    ["bufferLimit", { bufferLimit: 0 }],
    ["overflow", { overflow: "drop-newest" }],
    ["writeTimeoutMs", { writeTimeoutMs: -1 }],
    ["writeTimeoutMs", { writeTimeoutMs: Infinity }],
    ["compress", { compress: "yes" }],
  ];

  it("throws CELLO_INVALID_OPTION naming the option, app-wide and at route registration", () => {
    for (const [name, sse] of bad) {
      const appWide = celloErrorOf(() => new App({ sse: sse as SseOptions }));
      expect(appWide.code, name).toBe("CELLO_INVALID_OPTION");
      expect(appWide.message).toContain(`sse.${name}`);
      const app = new App();
      const route = celloErrorOf(() => app.get("/s", () => new SseStream(), { sse: sse as SseOptions }));
      expect(route.code, name).toBe("CELLO_INVALID_OPTION");
      expect(route.message).toContain(`sse.${name}`);
    }
    // The edges that mean something are fine: 0 turns a timer off, Infinity lifts the buffer limit.
    for (const sse of [{ heartbeatMs: 0 }, { writeTimeoutMs: 0 }, { retry: 0 }, { bufferLimit: Infinity }, { overflow: "drop-oldest" as const }, { compress: false }]) {
      expect(() => new App({ sse }).get("/s", () => new SseStream(), { sse })).not.toThrow();
    }
  });

  it("set on one response: a logged 500 before any SSE byte, and the server answers the next request", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/s", () => Response.sse(new SseStream(), { heartbeatMs: Number.NaN }));
    app.get("/ok", () => ({ ok: true }));
    const { url } = await app.listen({ port: 0 });
    try {
      const response = await fetch(`${url}/s`);
      expect(response.status).toBe(500);
      expect(response.headers.get("content-type")).not.toContain("text/event-stream");
      expect(logger.errors.map(([, err]) => String(err)).join("\n")).toContain("sse.heartbeatMs");
      expect(await (await fetch(`${url}/ok`)).json()).toEqual({ ok: true });
    } finally {
      await app.close();
    }
  });
});
