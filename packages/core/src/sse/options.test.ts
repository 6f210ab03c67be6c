import { describe, expect, it } from "vitest";
import { SSE_DEFAULTS, resolveSseOptions, type SseOptions } from "./options.js";

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
