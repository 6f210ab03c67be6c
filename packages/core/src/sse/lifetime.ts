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
import type { StreamEndOptions } from "./deadline.js";
import type { ResolvedSseOptions } from "./options.js";

/** The `retry:` sent when a lifetime ends a stream on a route without a `retry` option: reconnect after 1 s. */
export const LIFETIME_RETRY_MS = 1000;

/** The default `lifetimeJitter`: each lifetime drawn from the last 10% of `maxLifetimeMs`. */
export const LIFETIME_JITTER_DEFAULT = 0.1;

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
