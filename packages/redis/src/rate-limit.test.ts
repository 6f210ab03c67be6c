/**
 * app.enableRateLimit() with its counters in Redis: two app instances count
 * against the same limits; with Redis unreachable, each falls back to memory.
 */
import { App, silentLogger, type Logger, type RateLimitOptions } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisBroker, redisRateLimitStore, type RedisRateLimitStore, type RedisRateLimitStoreOptions } from "./index.js";
import { adminConnection, deleteKeys, skipWithoutRedis, sleep, uniquePrefix } from "./redis.test-support.js";

describe.skipIf(skipWithoutRedis)("rate limits shared through Redis", () => {
  const prefix = uniquePrefix("ratelimit");
  let admin: Redis;
  const clients: TestClient[] = [];
  const stores: RedisRateLimitStore[] = [];

  beforeAll(() => {
    admin = adminConnection();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await deleteKeys(admin, prefix);
    admin.disconnect();
  });

  /** One app instance with its own Redis connection, counting under the test's prefix. */
  async function instance(options: RateLimitOptions, label: string, storeOptions: RedisRateLimitStoreOptions = {}, logger: Logger = silentLogger): Promise<TestClient> {
    const store = redisRateLimitStore(storeOptions);
    stores.push(store);
    if (storeOptions.url === undefined) await store.ready();
    const app = new App({ logger });
    app.get("/hello", () => "hi");
    app.enableRateLimit({ ...options, store, keyPrefix: `${prefix}${label}` });
    const client = await TestClient.start(app);
    clients.push(client);
    return client;
  }

  it.each(["fixed-window", "sliding-window"] as const)("%s: two instances share one count, and the 429 carries the shared figures", async (algorithm) => {
    const a = await instance({ points: 3, duration: 60, algorithm }, algorithm);
    const b = await instance({ points: 3, duration: 60, algorithm }, algorithm);
    const remaining = [];
    for (const client of [a, b, a]) {
      const res = await client.get("/hello");
      expect(res.status).toBe(200);
      remaining.push(res.headers["ratelimit-remaining"]);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    for (const client of [b, a]) {
      const refused = await client.get("/hello");
      expect(refused.status).toBe(429);
      expect(refused.json).toEqual({ error: "Too Many Requests", status: 429 });
      expect(refused.headers["ratelimit-limit"]).toBe("3");
      expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(algorithm === "fixed-window" ? 60 : 120);
    }
    // The counters are in Redis, under the prefix, and expire on their own.
    const keys = await admin.keys(`${prefix}${algorithm}*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(await admin.pttl(key)).toBeGreaterThan(0);
  });

  it("with the Redis broker configured and no store given, the counters are in Redis too", async () => {
    const instances = [];
    for (let i = 0; i < 2; i++) {
      // A name of its own: brokers of the other test files in this process are named cello-*-<pid>.
      const broker = redisBroker({ prefix: `${prefix}ch:`, logger: silentLogger, connectionName: `ratelimit-${i}-${process.pid}-${Date.now()}` });
      await broker.ready();
      const app = new App({ broker, logger: silentLogger });
      app.get("/hello", () => "hi");
      app.enableRateLimit({ points: 2, duration: 60, keyPrefix: `${prefix}broker` });
      const client = await TestClient.start(app);
      clients.push(client);
      instances.push(client);
    }
    const [a, b] = instances as [TestClient, TestClient];
    expect([(await a.get("/hello")).status, (await b.get("/hello")).status, (await a.get("/hello")).status, (await b.get("/hello")).status]).toEqual([200, 200, 429, 429]);
    expect((await admin.keys(`${prefix}broker*`)).length).toBeGreaterThan(0);
  });

  it("sliding window: both instances let the client in again once the window has slid", async () => {
    const a = await instance({ points: 2, duration: 1 }, "recover");
    const b = await instance({ points: 2, duration: 1 }, "recover");
    expect((await a.get("/hello")).status).toBe(200);
    expect((await b.get("/hello")).status).toBe(200);
    const refused = await a.get("/hello");
    expect(refused.status).toBe(429);
    expect((await b.get("/hello")).status).toBe(429);
    await sleep(Number(refused.headers["retry-after"]) * 1000 + 100);
    expect((await b.get("/hello")).status).toBe(200);
  });

  it("token bucket: two instances draw from one bucket; it refills one token per interval for both", async () => {
    // 2 per 2 s (a token every second), a bucket of 3, shared through Redis.
    const a = await instance({ points: 2, duration: 2, algorithm: "token-bucket", burst: 3 }, "bucket");
    const b = await instance({ points: 2, duration: 2, algorithm: "token-bucket", burst: 3 }, "bucket");
    await sleep(1000 - (Date.now() % 1000) + 5);
    const drawn = [];
    for (const client of [a, b, a]) {
      const res = await client.get("/hello");
      drawn.push([res.status, res.headers["ratelimit-limit"], res.headers["ratelimit-remaining"]]);
    }
    expect(drawn).toEqual([
      [200, "3", "2"],
      [200, "3", "1"],
      [200, "3", "0"],
    ]);
    const refused = await b.get("/hello");
    expect(refused.status).toBe(429);
    expect(refused.headers["retry-after"]).toBe("1");
    expect((await a.get("/hello")).status).toBe(429);
    // The next interval: one token, taken by either instance, and none left for the other.
    await sleep(1000 - (Date.now() % 1000) + 5);
    expect((await b.get("/hello")).status).toBe(200);
    expect((await a.get("/hello")).status).toBe(429);
    // The counters (steady and pool) are in Redis under the prefix and expire on their own.
    const keys = await admin.keys(`${prefix}bucket*`);
    expect(keys.some((key) => key.includes(":tbpool"))).toBe(true);
    expect(keys.some((key) => key.includes(":tb:"))).toBe(true);
    for (const key of keys) expect(await admin.pttl(key)).toBeGreaterThan(0);
  });

  it("with Redis unreachable, each instance counts in memory (insurance), or lets requests pass with a warning without it", async () => {
    const down = "redis://127.0.0.1:1";
    const probe = redisRateLimitStore({ url: down });
    stores.push(probe);
    await expect(probe.ready(300)).rejects.toThrow(/^Redis did not answer within 300 ms: connect ECONNREFUSED 127\.0\.0\.1:1$/);
    const insured = await instance({ points: 2, duration: 60 }, "down", { url: down });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await insured.get("/hello")).status);
    expect(statuses).toEqual([200, 200, 429]);

    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => void warnings.push(message) };
    const open = await instance({ points: 2, duration: 60 }, "down-open", { url: down, insurance: false }, logger);
    const passed = [];
    for (let i = 0; i < 4; i++) passed.push((await open.get("/hello")).status);
    expect(passed).toEqual([200, 200, 200, 200]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^rate limit store failed; requests pass uncounted until it answers again: /);
  });
});
