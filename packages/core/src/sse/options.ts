/**
 * SSE options: what a stream runs with, their defaults, and the one rule that
 * combines the app's, a route's and a response's settings. Kept apart from the
 * engine so that response.ts, routes.ts and app options name them without
 * depending on the code that writes to sockets.
 */
import { describeValue } from "../describe.js";
import { CelloError } from "../errors.js";
import type { SseEvent } from "./event.js";
import { LIFETIME_JITTER_DEFAULT } from "./lifetime.js";

/** What to do when a client cannot keep up and its buffer reaches `bufferLimit`. */
export type OverflowPolicy = "close" | "drop-oldest";

/**
 * Per-app, per-route or per-response streaming options. Each level overrides
 * the one above it, key by key (see {@link resolveSseOptions}).
 *
 * @example
 * new App({ sse: { heartbeatMs: 30_000 } });
 * app.get("/feed", handler, { sse: { overflow: "drop-oldest" } });
 * app.get("/ticks", () => Response.sse(ticks(), { retry: 2000 }));
 */
export interface SseOptions {
  /** Send a `:` comment after this many ms without a frame. Default 15000; 0 turns it off. */
  heartbeatMs?: number;
  /** Send `retry: N` when the stream opens: the client's reconnection delay. Default: none. */
  retry?: number;
  /**
   * Most bytes queued for one client behind a socket that has stopped taking
   * more (the client is not reading as fast as events come). What one turn of
   * the event loop queues for a socket that takes it is written whole, however
   * large. Default 1 MiB.
   */
  bufferLimit?: number;
  /** What to do past `bufferLimit`: `"close"` the connection (default) or `"drop-oldest"` queued events. */
  overflow?: OverflowPolicy;
  /** Close a client whose socket has not drained for this many ms. Default 30000. */
  writeTimeoutMs?: number;
  /**
   * Compress this stream when the compression plugin is on (`app.enableCompression()`) and the
   * client accepts an encoding: every flush (each turn's frames, each heartbeat) is compressed and
   * flushed with `Z_SYNC_FLUSH`, so each event still arrives at once. Default: the plugin's `sse`
   * option (off unless set). `false` keeps a route uncompressed whatever the app says.
   */
  compress?: boolean;
  /**
   * End each stream after at most this many ms, gracefully: what is queued goes out, then a
   * `retry:` line (this route's `retry`, else 1000) and a `: lifetime` comment, and the response
   * ends (`onStreamClose` reason `"lifetime"`). EventSource reconnects by itself after `retry`
   * and resumes with `Last-Event-ID`. Bounds how long a connection stays pinned to one
   * instance behind a load balancer. Built on `request.endStreamAt()`: an earlier deadline (a
   * guard's credential expiry) still wins. Default 0: off (Infinity is off too). Anything but a
   * number >= 0 throws `CELLO_INVALID_OPTION` where it is set (`new App()`, route registration).
   */
  maxLifetimeMs?: number;
  /**
   * Spread of `maxLifetimeMs`: each stream's lifetime is drawn uniformly from
   * `(maxLifetimeMs * (1 - lifetimeJitter), maxLifetimeMs]`, so streams opened together (after a
   * deploy or a failover) do not all end, and reconnect, together. A lifetime is never longer
   * than `maxLifetimeMs`. Default 0.1; 0 ends every stream exactly at `maxLifetimeMs`. Anything
   * but a number in [0, 1] throws `CELLO_INVALID_OPTION` where it is set.
   */
  lifetimeJitter?: number;
}

/**
 * Options of a graceful shutdown (`app.close(options)`).
 *
 * @example
 * await app.close({ graceMs: 2000, retry: 5000 });
 */
export interface SseShutdownOptions {
  /** The last frame every open stream gets. Default: a `: shutdown` comment; `retry` is sent too. */
  finalEvent?: SseEvent;
  /** `retry:` sent with the final frame so clients come back after a restart. Default 1000. */
  retry?: number;
  /** How long producers get to finish, and clients to read the final frame, before sockets are destroyed. Default 5000. */
  graceMs?: number;
}

/**
 * The options a connection runs with: every key set (`retry` may be undefined: none sent;
 * `compress` undefined: as the compression plugin says).
 */
export type ResolvedSseOptions = Readonly<Required<Omit<SseOptions, "retry" | "compress">> & { retry: number | undefined; compress: boolean | undefined }>;

/** The built-in defaults, under the app's own. */
export const SSE_DEFAULTS: ResolvedSseOptions = Object.freeze({
  heartbeatMs: 15_000,
  retry: undefined,
  bufferLimit: 1024 * 1024,
  overflow: "close",
  writeTimeoutMs: 30_000,
  compress: undefined,
  maxLifetimeMs: 0,
  lifetimeJitter: LIFETIME_JITTER_DEFAULT,
});

/**
 * Layer `overrides` on `base`, key by key: a key `overrides` leaves
 * undefined keeps the base's value. The one rule for every level: built-in
 * defaults <- app (`new App({ sse })`) <- route (`{ sse }`) <- response
 * (`Response.sse(source, options)`).
 *
 * Returns `base` itself when `overrides` sets nothing, so every connection of a
 * route shares one options object and a request that overrides nothing
 * allocates none. The frozen {@link SSE_DEFAULTS} is always copied: a frozen
 * object has a hidden class of its own, and the connections read their options
 * on every write, so all of them should see one shape.
 *
 * A bad value (see {@link checkSseOptions}) throws `CELLO_INVALID_OPTION` naming the option: at
 * `new App()` and route registration for those levels, and as a logged 500 for a response's.
 *
 * @param base - Options already resolved (the level above).
 * @param overrides - This level's options; undefined or `{}` changes nothing.
 * @example
 * const app = resolveSseOptions(SSE_DEFAULTS, { heartbeatMs: 5000 });
 * const route = resolveSseOptions(app, { overflow: "drop-oldest" });
 * route.heartbeatMs; // 5000
 */
export function resolveSseOptions(base: ResolvedSseOptions, overrides: SseOptions | undefined): ResolvedSseOptions {
  if (base !== SSE_DEFAULTS && !setsAny(overrides)) return base;
  const o = overrides ?? {};
  checkSseOptions(o);
  // One literal, keys always in this order: one hidden class for every resolved options object.
  return {
    heartbeatMs: o.heartbeatMs !== undefined ? o.heartbeatMs : base.heartbeatMs,
    retry: o.retry !== undefined ? o.retry : base.retry,
    bufferLimit: o.bufferLimit !== undefined ? o.bufferLimit : base.bufferLimit,
    overflow: o.overflow !== undefined ? o.overflow : base.overflow,
    writeTimeoutMs: o.writeTimeoutMs !== undefined ? o.writeTimeoutMs : base.writeTimeoutMs,
    compress: o.compress !== undefined ? o.compress : base.compress,
    maxLifetimeMs: o.maxLifetimeMs !== undefined ? o.maxLifetimeMs : base.maxLifetimeMs,
    lifetimeJitter: o.lifetimeJitter !== undefined ? o.lifetimeJitter : base.lifetimeJitter,
  };
}

/** Timers take at most 2^31 - 1 ms; Node turns a longer delay (or NaN) into 1 ms, a busy loop. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function badOption(name: keyof SseOptions, rule: string, value: unknown): CelloError {
  return new CelloError("CELLO_INVALID_OPTION", `sse.${name} must be ${rule}, got ${describeValue(value)}`);
}

function isNumberIn(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && !Number.isNaN(value) && value >= min && value <= max;
}

/**
 * The one check of SSE options, at every level (app, route, response): each set key must be
 * a value the engine can run with, else `CELLO_INVALID_OPTION` naming it. Without it a NaN or
 * an Infinity `heartbeatMs` became a 1 ms timer (a busy loop), a NaN `bufferLimit` never cut
 * a stalled client, and a misspelt `overflow` was silently `"close"`.
 */
export function checkSseOptions(o: SseOptions): void {
  const { heartbeatMs, retry, bufferLimit, overflow, writeTimeoutMs, compress, maxLifetimeMs, lifetimeJitter } = o;
  if (heartbeatMs !== undefined && !isNumberIn(heartbeatMs, 0, MAX_TIMER_MS)) throw badOption("heartbeatMs", `a number of ms from 0 (off) to ${MAX_TIMER_MS}`, heartbeatMs);
  if (retry !== undefined && !(Number.isSafeInteger(retry) && retry >= 0)) throw badOption("retry", "a whole number of ms >= 0", retry);
  if (bufferLimit !== undefined && !isNumberIn(bufferLimit, 1, Infinity)) throw badOption("bufferLimit", "a number of bytes >= 1 (Infinity: no limit)", bufferLimit);
  if (overflow !== undefined && overflow !== "close" && overflow !== "drop-oldest") throw badOption("overflow", '"close" or "drop-oldest"', overflow);
  if (writeTimeoutMs !== undefined && !isNumberIn(writeTimeoutMs, 0, MAX_TIMER_MS)) throw badOption("writeTimeoutMs", `a number of ms from 0 (off) to ${MAX_TIMER_MS}`, writeTimeoutMs);
  if (compress !== undefined && typeof compress !== "boolean") throw badOption("compress", "true or false", compress);
  if (maxLifetimeMs !== undefined && !isNumberIn(maxLifetimeMs, 0, Infinity)) throw badOption("maxLifetimeMs", "a number of ms >= 0 (0 turns it off)", maxLifetimeMs);
  if (lifetimeJitter !== undefined && !isNumberIn(lifetimeJitter, 0, 1)) throw badOption("lifetimeJitter", "a fraction in [0, 1]", lifetimeJitter);
}

function setsAny(o: SseOptions | undefined): boolean {
  // `null` from JavaScript callers counts as "nothing set", as undefined does.
  return (
    o != null &&
    (o.heartbeatMs !== undefined ||
      o.retry !== undefined ||
      o.bufferLimit !== undefined ||
      o.overflow !== undefined ||
      o.writeTimeoutMs !== undefined ||
      o.compress !== undefined ||
      o.maxLifetimeMs !== undefined ||
      o.lifetimeJitter !== undefined)
  );
}
