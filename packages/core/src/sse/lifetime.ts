/**
 * A stream's maximum lifetime: the `maxLifetimeMs` and `lifetimeJitter` SSE
 * options. It owns no timer: when a stream opens, its lifetime becomes a
 * deadline through `request.endStreamAt()` (deadline.ts), so the earliest of a
 * guard's expiry, the handler's own deadline and the lifetime ends the stream.
 *
 * Why jitter: streams opened together (a deploy, a load balancer failing over, a
 * network blip) would otherwise all end together one lifetime later and
 * reconnect in one burst, every lifetime, for ever. Drawing each stream's
 * lifetime from `[max * (1 - jitter), max]` spreads their ends (and so their
 * reconnects) over `max * jitter`.
 */
import { describeValue } from "../describe.js";
import { CelloError } from "../errors.js";
import type { StreamEndOptions } from "./deadline.js";
import type { ResolvedSseOptions, SseOptions } from "./options.js";

/** The `retry:` sent when a lifetime ends a stream on a route without a `retry` option: reconnect after 1 s. */
export const LIFETIME_RETRY_MS = 1000;

/** The default `lifetimeJitter`: each lifetime drawn from the last 10% of `maxLifetimeMs`. */
export const LIFETIME_JITTER_DEFAULT = 0.1;

/**
 * Throw `CELLO_INVALID_OPTION` naming the option if `options` sets a bad
 * `maxLifetimeMs` (not a number >= 0: negative, NaN, a string) or
 * `lifetimeJitter` (not a number in [0, 1]).
 */
export function checkLifetimeOptions(options: SseOptions): void {
  const { maxLifetimeMs, lifetimeJitter } = options;
  if (maxLifetimeMs !== undefined && (typeof maxLifetimeMs !== "number" || Number.isNaN(maxLifetimeMs) || maxLifetimeMs < 0)) {
    throw new CelloError("CELLO_INVALID_OPTION", `sse.maxLifetimeMs must be a number of ms >= 0 (0 turns it off), got ${describeValue(maxLifetimeMs)}`);
  }
  if (lifetimeJitter !== undefined && (typeof lifetimeJitter !== "number" || Number.isNaN(lifetimeJitter) || lifetimeJitter < 0 || lifetimeJitter > 1)) {
    throw new CelloError("CELLO_INVALID_OPTION", `sse.lifetimeJitter must be a fraction in [0, 1], got ${describeValue(lifetimeJitter)}`);
  }
}

/**
 * The deadline a stream opened now with `options` gets, or undefined without a
 * lifetime (`maxLifetimeMs` 0 or Infinity). Its lifetime is uniform in
 * `(max * (1 - jitter), max]`: never longer than `maxLifetimeMs`. Its last
 * frame is the route's `retry` (else {@link LIFETIME_RETRY_MS}) and a
 * `: lifetime` comment; the close reason is `"lifetime"`.
 * @param random - A draw in [0, 1) (Math.random).
 */
export function lifetimeDeadline(options: ResolvedSseOptions, random: () => number = Math.random): { at: number; end: StreamEndOptions } | undefined {
  const max = options.maxLifetimeMs;
  if (max === 0 || max === Infinity) return undefined;
  const lifetime = max - max * options.lifetimeJitter * random();
  return { at: Date.now() + lifetime, end: { retry: options.retry ?? LIFETIME_RETRY_MS, reason: "lifetime" } };
}
