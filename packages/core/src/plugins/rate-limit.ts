/**
 * Rate-limit plugin (`app.enableRateLimit()`), on the public hook API only:
 * an onRouted hook counts each routed request against its rule (the route's,
 * else the app's) and answers 429 past it; an onResponse hook adds the
 * rate-limit headers and, with stream caps, refuses an SSE response past a
 * cap (stream-limits.ts owns those counts). The counters are
 * rate-limiter-flexible's: in memory by default, in Redis with
 * `redisRateLimitStore()` from @cellojs/redis, shared by every instance.
 */
import { createHash } from "node:crypto";
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Plugin } from "../app.js";
import { addressKey } from "../client-ip.js";
import { describeValue } from "../describe.js";
import { CelloError, HttpError } from "../errors.js";
import type { Request } from "../request.js";
import type { Response } from "../response.js";
import type { RouteInfo } from "../routes.js";
import { StreamGovernor, checkStreamCaps, type StreamCaps, type StreamCounts } from "./stream-limits.js";

export type { StreamCaps, StreamCounts } from "./stream-limits.js";

/**
 * A request rate: `points` requests per `duration` seconds for each client.
 * - `"sliding-window"` (default): the count of the current window plus the previous
 *   window's, weighted by how much of it still overlaps the last `duration` seconds
 *   (the estimate Cloudflare and nginx-style limiters use). No burst of 2x at a window
 *   edge. Refused requests are not counted, so a client that waits for `Retry-After` gets in.
 * - `"fixed-window"`: rate-limiter-flexible's own counter, reset `duration` seconds after
 *   a key's first request. Cheapest (one store call per request); refused requests count.
 * - `"token-bucket"`: a bucket of `burst` tokens (default `points`), one token back every
 *   `duration / points` seconds: a client may spend `burst` at once, then `points` per
 *   `duration`. Built on rate-limiter-flexible's BurstyRateLimiter: a steady limiter of one
 *   request per refill interval, plus a pool of `burst - 1` extra requests that comes back
 *   whole one refill time (`burst x duration / points` s, rounded up to whole seconds) after
 *   it was first drawn on, or after the client's last refused request. Where it differs from
 *   a textbook bucket: the pool comes back at once rather than token by token, and a client
 *   that spends its steady tokens but never asks past the bucket's bottom gets the pool back
 *   anyway (at most `burst - 1` extra requests per refill time). See the rate-limits guide.
 */
export interface RateLimitRule {
  /** Requests allowed per window, a whole number >= 1. */
  points: number;
  /** The window, in seconds (> 0; whole seconds with the Redis store). */
  duration: number;
  /** Default `"sliding-window"`. */
  algorithm?: "sliding-window" | "fixed-window" | "token-bucket";
  /** `"token-bucket"` only: the bucket's size, the requests a client may send at once; a whole number >= 1. Default `points`. */
  burst?: number;
}

/** What a route may set as its `rateLimit` option: its own rate (instead of the app's) and its own stream caps (on top of the app's). */
export interface RouteRateLimit extends Partial<RateLimitRule> {
  /** Caps on this route's concurrent streams, counted apart from the app's. */
  streams?: StreamCaps;
}

/** Builds the counter behind one rule: `new RateLimiterMemory(options)` by default; `redisRateLimitStore()` from @cellojs/redis shares counters through Redis. */
export type RateLimitStore = (options: { points: number; duration: number; keyPrefix: string }) => RateLimiterAbstract;

/** Options of `app.enableRateLimit(options)`. */
export interface RateLimitOptions extends Partial<RateLimitRule> {
  /**
   * What a client is, as a string: e.g. `(req) => req.principal?.id` for the signed-in
   * user. Return undefined to fall back to the client IP (`request.ip`, which honours the
   * app's `trustProxy`). Keys longer than 200 characters are counted by their SHA-256,
   * so a hostile key costs the store no more than a short one. Must be synchronous.
   * Default: the client IP.
   */
  key?: (request: Request) => string | undefined;
  /**
   * Where counters live. Default: the app's broker's store when it has one (with
   * `redisBroker()`, Redis: counters shared by every instance), else this process's memory.
   * See {@link RateLimitStore}.
   */
  store?: RateLimitStore;
  /** Prefix of every counter's key in the store (share a Redis between apps with different ones). Default `"cello-rl"`. */
  keyPrefix?: string;
  /** App-wide caps on concurrent SSE streams. See {@link StreamCaps}. */
  streams?: StreamCaps;
  /**
   * Send `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) on every
   * rate-limited response. Default true. `Retry-After` is always sent with a 429.
   */
  headers?: boolean;
}

/** The rate-limit plugin as a value: a {@link Plugin} that can also say what it counts. */
export interface RateLimitPlugin extends Plugin {
  /** Streams counted now by its caps (all zero when none is open): for a health check, a metric or a test. */
  streamCounts(): StreamCounts;
}

/** One decision about one request. */
interface Verdict {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the count next falls (allowed) or a request would be let in (refused). */
  resetMs: number;
}

/** One rule with its counter. */
interface Limiter {
  check(key: string): Promise<Verdict>;
  /** The same decision without a promise, when the counter lives in this process (the memory store's sliding window). */
  readonly checkNow?: (key: string) => Verdict;
}

/**
 * The rate-limit plugin. `app.enableRateLimit(options)` is `app.use(rateLimit(options))`.
 * Only routed requests are counted: a 404, a 405, the automatic OPTIONS and a CORS
 * preflight (answered before routing) never are, and a route with `rateLimit: false` is
 * exempt. Add it after any plugin its `key` reads from (an auth hook setting `request.principal`).
 * A store that fails (Redis down with no insurance) lets requests through, with a warning
 * logged at most every 10 s: a broken counter never takes the app down.
 * Misconfigurations throw `CELLO_INVALID_OPTION` here, at setup.
 * @example
 * app.enableRateLimit({ points: 100, duration: 60, streams: { perIp: 5, total: 10_000 } });
 * app.post("/login", login, { rateLimit: { points: 5, duration: 60 } });
 * app.get("/health", () => "ok", { rateLimit: false });
 */
export function rateLimit(options: RateLimitOptions = {}): RateLimitPlugin {
  if (typeof options !== "object" || options === null) throw new CelloError("CELLO_INVALID_OPTION", `rateLimit options must be an object, got ${describeValue(options)}`);
  const { key: keyOption, store: storeOption, keyPrefix = "cello-rl", headers = true } = options;
  if (keyOption !== undefined && typeof keyOption !== "function") throw new CelloError("CELLO_INVALID_OPTION", `rateLimit key must be a function (request) => string | undefined, got ${describeValue(keyOption)}`);
  if (storeOption !== undefined && typeof storeOption !== "function") {
    throw new CelloError("CELLO_INVALID_OPTION", `rateLimit store must be a function such as redisRateLimitStore(), got ${describeValue(storeOption)}`);
  }
  if (typeof keyPrefix !== "string" || keyPrefix === "") throw new CelloError("CELLO_INVALID_OPTION", `rateLimit keyPrefix must be a non-empty string`);
  const appRule = checkRule(options, "rateLimit");
  if (options.streams !== undefined) checkStreamCaps(options.streams, "rateLimit");

  const key = (request: Request): string | undefined => {
    const chosen = keyOption?.(request);
    if (typeof chosen !== "string" || chosen === "") return undefined;
    return chosen.length > 200 ? `h:${createHash("sha256").update(chosen).digest("base64url")}` : `k:${chosen}`;
  };
  // The counter key of each client address seen lately: the same string (its hash computed once) for
  // every request of a connection, rather than a new one per request. Bounded: emptied when full.
  const ipKeys = new Map<string, string>();
  const ipKey = (ip: string): string => {
    let cached = ipKeys.get(ip);
    if (cached === undefined) {
      if (ipKeys.size >= IP_KEYS_MAX) ipKeys.clear();
      cached = `ip:${addressKey(ip)}`;
      ipKeys.set(ip, cached);
    }
    return cached;
  };
  const clientKey = (request: Request): string => key(request) ?? ipKey(request.ip);
  const governor = new StreamGovernor(options.streams, key);
  // Made when the plugin is applied: the store may come from the app's broker.
  let store: RateLimitStore = memoryStore;
  let appLimiter: Limiter | undefined;
  const routeLimiters = new Map<RouteInfo, Limiter | undefined>();
  const verdicts = new WeakMap<Request, Verdict>();
  // The verdict of the request counted last, held here rather than in the WeakMap (whose entries cost
  // far more than the rest of the count): with a synchronous handler its response is the next one
  // written. Only when another request is counted before it was answered does it move to the WeakMap.
  let lastRequest: Request | undefined;
  let lastVerdict: Verdict | undefined;
  let lastAnswered = false;
  const remember = (request: Request, verdict: Verdict): void => {
    if (lastRequest !== undefined && !lastAnswered) verdicts.set(lastRequest, lastVerdict!);
    lastRequest = request;
    lastVerdict = verdict;
    lastAnswered = false;
  };
  const recall = (request: Request): Verdict | undefined => {
    if (request !== lastRequest) return verdicts.get(request);
    // Kept, not cleared: the onResponse hooks run again on an answer that replaced a failed one.
    lastAnswered = true;
    return lastVerdict;
  };
  let warnedAt = -Infinity;

  const limiterOf = (route: RouteInfo): Limiter | undefined => {
    const limit = route.options.rateLimit;
    if (limit === false) return undefined;
    if (limit === undefined || (limit.points === undefined && limit.duration === undefined)) return appLimiter;
    if (routeLimiters.has(route)) return routeLimiters.get(route);
    // Checked at registration by the app; each route has its own counters.
    const limiter = makeLimiter(checkRule(limit, "")!, store, `${keyPrefix}:${route.method}:${route.path}`);
    routeLimiters.set(route, limiter);
    return limiter;
  };

  const plugin: Plugin = (app) => {
    store = storeOption ?? app.broker.rateLimitStore?.() ?? memoryStore;
    appLimiter = appRule === undefined ? undefined : makeLimiter(appRule, store, `${keyPrefix}:app`);
    /** Record an allowed request's verdict for its headers, or refuse it with 429. */
    const decide = (request: Request, verdict: Verdict): void => {
      if (verdict.allowed) {
        if (headers) remember(request, verdict);
        return;
      }
      const seconds = Math.max(1, Math.ceil(verdict.resetMs / 1000));
      const refusalHeaders: Record<string, string> = { "Retry-After": String(seconds) };
      if (headers) Object.assign(refusalHeaders, rateLimitHeaders(verdict));
      throw HttpError.fromCode("CELLO_RATE_LIMITED", undefined, { headers: refusalHeaders });
    };
    const storeFailed = (err: unknown): void => {
      if (performance.now() - warnedAt > 10_000) {
        warnedAt = performance.now();
        app.logger.warn(`rate limit store failed; requests pass uncounted until it answers again: ${(err as Error)?.message ?? String(err)}`);
      }
    };
    // Not an async function: with a counter in memory the request is decided synchronously,
    // and the pipeline goes on to the handler without a promise.
    app.addHook("onRouted", (request) => {
      const limiter = limiterOf(request.route!);
      if (limiter === undefined) return;
      // A key function that throws is this request's 500, not a store failure to let through.
      const client = clientKey(request);
      if (limiter.checkNow !== undefined) {
        decide(request, limiter.checkNow(client));
        return;
      }
      return limiter.check(client).then((verdict) => decide(request, verdict), storeFailed);
    });
    app.addHook("onResponse", (request, response) => {
      if (headers) {
        const verdict = recall(request);
        if (verdict !== undefined) setRateLimitHeaders(response, verdict);
      }
      governor.admit(request, response);
    });
    app.addHook("onStreamOpen", (request) => governor.opened(request));
    app.addHook("onStreamClose", (request) => governor.closed(request));
  };
  return Object.assign(plugin, { streamCounts: () => governor.counts() });
}

/**
 * Check a route's `rateLimit` option at registration (the app calls it).
 * @throws CelloError `CELLO_INVALID_OPTION` naming the route.
 */
export function checkRouteRateLimit(limit: RouteRateLimit | false | undefined, where: string): void {
  if (limit === undefined || limit === false) return;
  if (typeof limit !== "object" || limit === null) throw new CelloError("CELLO_INVALID_OPTION", `${where}: rateLimit must be an object or false, got ${describeValue(limit)}`);
  checkRule(limit, `${where} rateLimit`);
  if (limit.streams !== undefined) checkStreamCaps(limit.streams, `${where} rateLimit`);
}

type CheckedRule = Required<RateLimitRule>;

function checkRule(rule: Partial<RateLimitRule>, where: string): CheckedRule | undefined {
  const { points, duration, algorithm = "sliding-window", burst } = rule;
  if (points === undefined && duration === undefined) return undefined;
  if (!Number.isInteger(points) || points! < 1) throw new CelloError("CELLO_INVALID_OPTION", `${where}.points must be a whole number >= 1, got ${describeValue(points)}`);
  if (typeof duration !== "number" || !(duration > 0) || !Number.isFinite(duration)) {
    throw new CelloError("CELLO_INVALID_OPTION", `${where}.duration must be a number of seconds > 0, got ${describeValue(duration)}`);
  }
  if (algorithm !== "sliding-window" && algorithm !== "fixed-window" && algorithm !== "token-bucket") {
    throw new CelloError("CELLO_INVALID_OPTION", `${where}.algorithm must be "sliding-window", "fixed-window" or "token-bucket", got ${describeValue(algorithm)}`);
  }
  if (burst !== undefined) {
    if (algorithm !== "token-bucket") throw new CelloError("CELLO_INVALID_OPTION", `${where}.burst applies only to algorithm "token-bucket", got algorithm ${describeValue(algorithm)}`);
    if (!Number.isInteger(burst) || burst < 1) throw new CelloError("CELLO_INVALID_OPTION", `${where}.burst must be a whole number >= 1, got ${describeValue(burst)}`);
  }
  return { points: points!, duration, algorithm, burst: burst ?? points! };
}

const memoryStore: RateLimitStore = (options) => new RateLimiterMemory(options);

/** Most client addresses whose counter key is kept ready (see `ipKey`). */
const IP_KEYS_MAX = 10_000;

function makeLimiter(rule: CheckedRule, store: RateLimitStore, keyPrefix: string): Limiter {
  if (rule.algorithm === "token-bucket") return new TokenBucket(rule, store, keyPrefix);
  if (rule.algorithm === "fixed-window") return new FixedWindow(rule, store, keyPrefix);
  // The default store keeps counters in this process: count them here, without a promise per request.
  return store === memoryStore ? new MemorySlidingWindow(rule) : new SlidingWindow(rule, store, keyPrefix);
}

/** rate-limiter-flexible's limiter as it is: one consume per request. */
class FixedWindow implements Limiter {
  readonly #points: number;
  readonly #counter: RateLimiterAbstract;

  constructor(rule: Required<RateLimitRule>, store: RateLimitStore, keyPrefix: string) {
    this.#points = rule.points;
    this.#counter = store({ points: rule.points, duration: rule.duration, keyPrefix });
  }

  async check(key: string): Promise<Verdict> {
    try {
      const res = await this.#counter.consume(key);
      return { allowed: true, limit: this.#points, remaining: res.remainingPoints, resetMs: res.msBeforeNext };
    } catch (rejected) {
      // rate-limiter-flexible rejects with a RateLimiterRes when the key is over, with an Error when the store failed.
      if (!(rejected instanceof RateLimiterRes)) throw rejected;
      return { allowed: false, limit: this.#points, remaining: 0, resetMs: rejected.msBeforeNext };
    }
  }
}

// A counter that never refuses: the sliding window decides from two of its counts.
const UNLIMITED = Number.MAX_SAFE_INTEGER;

/**
 * The sliding-window estimate over two fixed windows of rate-limiter-flexible counters:
 * count = previous window's count x the part of it still inside the last `duration`
 * + the current window's count. Each counter lives two windows, so the previous one is
 * still there to read.
 */
class SlidingWindow implements Limiter {
  readonly #points: number;
  readonly #windowMs: number;
  readonly #counter: RateLimiterAbstract;

  constructor(rule: Required<RateLimitRule>, store: RateLimitStore, keyPrefix: string) {
    this.#points = rule.points;
    this.#windowMs = rule.duration * 1000;
    this.#counter = store({ points: UNLIMITED, duration: Math.ceil(rule.duration * 2), keyPrefix });
  }

  async check(key: string): Promise<Verdict> {
    const windowMs = this.#windowMs;
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    const elapsed = now - window * windowMs;
    const currentKey = `${key}:${window}`;
    const [current, previous] = await Promise.all([this.#counter.consume(currentKey), this.#counter.get(`${key}:${window - 1}`)]);
    const inCurrent = current.consumedPoints;
    const inPrevious = previous?.consumedPoints ?? 0;
    const weight = (windowMs - elapsed) / windowMs;
    const estimate = inPrevious * weight + inCurrent;
    const points = this.#points;
    if (estimate <= points) {
      return { allowed: true, limit: points, remaining: Math.max(0, Math.floor(points - estimate)), resetMs: windowMs - elapsed };
    }
    // Refused requests are not counted: give this one back.
    await this.#counter.reward(currentKey, 1);
    return { allowed: false, limit: points, remaining: 0, resetMs: slidingWaitMs(points, windowMs, inPrevious, inCurrent - 1, elapsed) };
  }
}

/**
 * The sliding window of {@link SlidingWindow} (the same estimate, the same refusals, the same
 * headers) for the memory store, counted synchronously: one map of counts per fixed window,
 * the current one and the one before it. When the window moves on, the current map becomes
 * the previous one and the older one is dropped whole, so a client that went quiet costs
 * nothing after two windows, with no timer per key.
 */
class MemorySlidingWindow implements Limiter {
  readonly #points: number;
  readonly #windowMs: number;
  /** The window `#current` counts, as `floor(now / windowMs)`. */
  #window = -Infinity;
  #current = new Map<string, number>();
  #previous = new Map<string, number>();
  readonly checkNow = (key: string): Verdict => this.#decide(key);

  constructor(rule: Required<RateLimitRule>) {
    this.#points = rule.points;
    this.#windowMs = rule.duration * 1000;
  }

  check(key: string): Promise<Verdict> {
    return Promise.resolve(this.#decide(key));
  }

  #decide(key: string): Verdict {
    const windowMs = this.#windowMs;
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    if (window !== this.#window) {
      this.#previous = window === this.#window + 1 ? this.#current : new Map();
      this.#current = new Map();
      this.#window = window;
    }
    const elapsed = now - window * windowMs;
    const inCurrent = (this.#current.get(key) ?? 0) + 1;
    const inPrevious = this.#previous.get(key) ?? 0;
    const estimate = inPrevious * ((windowMs - elapsed) / windowMs) + inCurrent;
    const points = this.#points;
    if (estimate <= points) {
      this.#current.set(key, inCurrent);
      return { allowed: true, limit: points, remaining: Math.max(0, Math.floor(points - estimate)), resetMs: windowMs - elapsed };
    }
    // Refused requests are not counted.
    return { allowed: false, limit: points, remaining: 0, resetMs: slidingWaitMs(points, windowMs, inPrevious, inCurrent - 1, elapsed) };
  }
}

/**
 * A token bucket from rate-limiter-flexible's BurstyRateLimiter, which admits a request if
 * its first limiter does, else if its second does:
 * - steady: one request per refill interval (`duration / points` seconds). The interval is
 *   part of the counter's key (one counter per interval, expiring on its own), because
 *   Redis keeps counters for whole seconds and the interval is often shorter;
 * - pool: `burst - 1` more requests per refill time (`burst` intervals, in whole seconds),
 *   from the first one drawn. Each refused request blocks the pool for a refill time from
 *   then: a client that keeps asking past the bucket's bottom never gets it back, so its
 *   rate converges to the steady one, as with a textbook bucket.
 * A full bucket therefore lets `burst` requests through at once; after that one per interval.
 */
class TokenBucket implements Limiter {
  readonly #burst: number;
  readonly #intervalMs: number;
  readonly #limiter: BurstyRateLimiter | undefined;
  readonly #steady: RateLimiterAbstract;
  readonly #pool: RateLimiterAbstract | undefined;
  /** The pool's window and block, in whole seconds (Redis keeps counters for whole seconds). */
  readonly #refillSeconds: number;

  constructor(rule: CheckedRule, store: RateLimitStore, keyPrefix: string) {
    this.#burst = rule.burst;
    this.#intervalMs = (rule.duration * 1000) / rule.points;
    const counter = store({ points: 1, duration: Math.max(1, Math.ceil((2 * this.#intervalMs) / 1000)), keyPrefix: `${keyPrefix}:tb` });
    // The steady limiter as BurstyRateLimiter calls it: the same key, counted in the current interval.
    this.#steady = {
      consume: (key: string, points?: number, options?: object) => counter.consume(this.#slotKey(key), points, options),
      get: (key: string) => counter.get(this.#slotKey(key)),
      points: 1,
    } as unknown as RateLimiterAbstract;
    this.#refillSeconds = Math.max(1, Math.ceil((rule.burst * this.#intervalMs) / 1000));
    if (rule.burst > 1) {
      this.#pool = store({ points: rule.burst - 1, duration: this.#refillSeconds, keyPrefix: `${keyPrefix}:tbpool` });
      this.#limiter = new BurstyRateLimiter(this.#steady, this.#pool);
    }
  }

  #slotKey(key: string): string {
    return `${key}:${Math.floor(Date.now() / this.#intervalMs)}`;
  }

  /** Milliseconds until the next refill interval begins. */
  #untilRefill(): number {
    return this.#intervalMs - (Date.now() % this.#intervalMs);
  }

  async check(key: string): Promise<Verdict> {
    const burst = this.#burst;
    try {
      await (this.#limiter ?? this.#steady).consume(key);
    } catch (rejected) {
      if (!(rejected instanceof RateLimiterRes)) throw rejected;
      // Asking past the bottom keeps the pool empty; Retry-After: the next interval's token.
      await this.#pool?.block(key, this.#refillSeconds);
      return { allowed: false, limit: burst, remaining: 0, resetMs: this.#untilRefill() };
    }
    // Remaining: the pool's tokens (this interval's token is spent). Reset: when the bucket is full again.
    const pool = this.#pool === undefined ? undefined : await this.#pool.get(key);
    const remaining = pool === undefined || pool === null ? burst - 1 : pool.remainingPoints;
    return { allowed: true, limit: burst, remaining, resetMs: remaining === burst - 1 ? this.#untilRefill() : Math.max(this.#untilRefill(), pool!.msBeforeNext) };
  }
}

/** The three rate-limit fields of the IETF httpapi draft (revision 6), as most clients and proxies read them today. */
function rateLimitHeaders(verdict: Verdict): Record<string, string> {
  return {
    "RateLimit-Limit": String(verdict.limit),
    "RateLimit-Remaining": String(verdict.remaining),
    "RateLimit-Reset": String(Math.max(0, Math.ceil(verdict.resetMs / 1000))),
  };
}

const RATE_LIMIT_HEADER_NAMES = new Set(["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]);

/**
 * {@link rateLimitHeaders} set on `response` (once per counted request). The values are digits, always
 * valid: when the response has none of the three names yet (in any case), they are written straight
 * into its headers, as `setHeader` would, without checking each again or looking each name up.
 */
function setRateLimitHeaders(response: Response, verdict: Verdict): void {
  const limit = String(verdict.limit);
  const remaining = String(verdict.remaining);
  const reset = String(Math.max(0, Math.ceil(verdict.resetMs / 1000)));
  const headers = response.headers;
  for (const name in headers) {
    if (RATE_LIMIT_HEADER_NAMES.has(name.toLowerCase())) {
      // A handler or hook set one already: replace it, whatever its case.
      response.setHeader("RateLimit-Limit", limit).setHeader("RateLimit-Remaining", remaining).setHeader("RateLimit-Reset", reset);
      return;
    }
  }
  headers["RateLimit-Limit"] = limit;
  headers["RateLimit-Remaining"] = remaining;
  headers["RateLimit-Reset"] = reset;
}

/**
 * How long, in ms, until one more request fits a sliding window, if no other comes: the
 * previous window's share must shrink enough, or the current window must end.
 */
function slidingWaitMs(points: number, windowMs: number, inPrevious: number, inCurrent: number, elapsed: number): number {
  const room = points - 1 - inCurrent;
  if (room >= 0 && inPrevious > 0) {
    // inPrevious x (windowMs - t) / windowMs <= room  <=>  t >= windowMs x (1 - room / inPrevious)
    const at = windowMs * (1 - room / inPrevious);
    return Math.max(1, Math.ceil(at - elapsed));
  }
  // The current window alone is full: in the next one it is the previous window, at weight (windowMs - t) / windowMs.
  const untilNext = windowMs - elapsed;
  const need = points - 1;
  const at = inCurrent > 0 ? windowMs * Math.max(0, 1 - need / inCurrent) : 0;
  return Math.max(1, Math.ceil(untilNext + at));
}
