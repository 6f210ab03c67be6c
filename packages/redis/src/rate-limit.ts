/**
 * A Redis store for `app.enableRateLimit()`: rate-limiter-flexible's
 * RateLimiterRedis on an ioredis connection, so every instance of an app
 * counts against the same limits. Kept here so @cellojs/core never loads ioredis.
 */
import type { RateLimitStore } from "@cellojs/core";
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";

/** Options of {@link redisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /** Where Redis is. Default: `REDIS_URL`, else `redis://127.0.0.1:6379`. Ignored when `client` is given. */
  url?: string;
  /** An ioredis connection to use instead of opening one (you close it). */
  client?: Redis;
  /**
   * While Redis does not answer, count in this process's memory instead (rate-limiter-flexible's
   * insurance limiter): limits then hold per instance rather than not at all. Default true.
   * With false, a request whose count Redis cannot take passes uncounted (and a warning is logged).
   */
  insurance?: boolean;
}

/** A {@link RateLimitStore} on Redis, with `ready()` and `close()` for its connection. */
export interface RedisRateLimitStore extends RateLimitStore {
  /**
   * Resolve once the connection is up, reject after `timeoutMs` (default 5000) with
   * the reason. Until then counts go to the insurance limiter (commands fail fast
   * instead of queueing): call it at startup, `app.onEvent("startup", () => store.ready())`.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** Close the connection the store opened (none when a `client` was given). */
  close(): Promise<void>;
}

/**
 * Counters for `app.enableRateLimit({ store })` in Redis, shared by every instance of the app.
 * Commands fail fast while Redis is down (no offline queue): the insurance limiter takes over.
 * Keys are `<keyPrefix>:...` (`cello-rl` unless the plugin sets another) and expire on their own.
 * @example
 * import { redisRateLimitStore } from "@cellojs/redis";
 * const store = redisRateLimitStore({ url: process.env.REDIS_URL });
 * app.enableRateLimit({ points: 100, duration: 60, store });
 * app.onEvent("startup", () => store.ready());
 * app.onEvent("shutdown", () => store.close());
 */
export function redisRateLimitStore(options: RedisRateLimitStoreOptions = {}): RedisRateLimitStore {
  const owned = options.client === undefined;
  const client =
    options.client ??
    new Redis(options.url ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
      connectionName: `cello-ratelimit-${process.pid}`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
    });
  // Errors surface through the commands (and the insurance limiter); an unhandled 'error' event would end the process.
  if (owned) client.on("error", () => {});
  const insurance = options.insurance ?? true;
  const store: RateLimitStore = (limiter) =>
    new RateLimiterRedis({
      ...limiter,
      storeClient: client,
      rejectIfRedisNotReady: true,
      insuranceLimiter: insurance ? new RateLimiterMemory({ ...limiter, keyPrefix: `${limiter.keyPrefix}:insurance` }) : undefined,
    });
  return Object.assign(store, {
    ready(timeoutMs = 5000): Promise<void> {
      if (client.status === "ready") return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let lastError: unknown;
        const onError = (err: unknown) => (lastError = err);
        const done = () => {
          clearTimeout(timer);
          client.off("ready", onReady);
          client.off("error", onError);
        };
        const onReady = () => {
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`Redis did not answer within ${timeoutMs} ms${lastError instanceof Error ? `: ${lastError.message}` : ""}`));
        }, timeoutMs);
        client.on("ready", onReady);
        client.on("error", onError);
      });
    },
    async close() {
      if (owned && client.status !== "end") await client.quit().catch(() => client.disconnect());
    },
  });
}
