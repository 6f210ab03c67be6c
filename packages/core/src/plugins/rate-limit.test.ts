import { RateLimiterMemory } from "rate-limiter-flexible";
import { describe, expect, it, vi } from "vitest";
import { App, type AppOptions } from "../app.js";
import { HttpError } from "../errors.js";
import { Response } from "../response.js";
import { SseStream } from "../sse/stream.js";
import { celloErrorOf, recordingLogger, startWithCleanup, type TestClient } from "../testing.js";
import { rateLimit, type RateLimitOptions } from "./rate-limit.js";

const start = startWithCleanup();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function limited(options: RateLimitOptions, configure?: (app: App) => void, appOptions: AppOptions = {}): Promise<TestClient> {
  const app = new App(appOptions);
  configure?.(app);
  app.get("/hello", () => ({ hello: "world" }));
  app.get("/items/{id}", (req) => ({ id: req.params.id }));
  app.get("/health", () => "ok", { rateLimit: false });
  app.post("/login", () => "welcome", { rateLimit: { points: 1, duration: 60 } });
  app.get("/events", () => {
    const stream = new SseStream();
    stream.addData("hi");
    stream.close();
    return stream;
  });
  app.enableRateLimit(options);
  return start(app);
}

const RATE_HEADERS = ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"] as const;
const rateHeaders = (headers: Record<string, string>) => RATE_HEADERS.map((name) => headers[name]);

describe("app.enableRateLimit(): request rate", () => {
  it("answers 429 CELLO_RATE_LIMITED with Retry-After and RateLimit-* at the cap (fixed window)", async () => {
    const client = await limited({ points: 3, duration: 60, algorithm: "fixed-window" });
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const res = await client.get("/hello");
      expect(res.status).toBe(200);
      seen.push(rateHeaders(res.headers));
    }
    expect(seen).toEqual([
      ["3", "2", "60", undefined],
      ["3", "1", expect.stringMatching(/^(59|60)$/), undefined],
      ["3", "0", expect.stringMatching(/^(59|60)$/), undefined],
    ]);
    const refused = await client.get("/hello");
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ error: "Too Many Requests", status: 429 });
    expect(refused.headers["content-type"]).toBe("application/json");
    expect(rateHeaders(refused.headers)).toEqual(["3", "0", expect.stringMatching(/^(59|60)$/), expect.stringMatching(/^(59|60)$/)]);
    // Another route shares the app-wide count.
    expect((await client.get("/items/1")).status).toBe(429);
  });

  it("sliding window: refuses past the cap, tells when to come back, and lets the client in then", async () => {
    const client = await limited({ points: 2, duration: 1 });
    expect((await client.get("/hello")).status).toBe(200);
    const second = await client.get("/hello");
    expect([second.status, second.headers["ratelimit-remaining"]]).toEqual([200, "0"]);
    const refused = await client.get("/hello");
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    // Refused requests are not counted: a client hammering all along still gets in by the time
    // Retry-After named (if refusals counted, its count would never fall back under the cap).
    // Timed from the refusal, not per request, so a slow request on a loaded machine that
    // crosses the window edge cannot fail it.
    const refusedAt = Date.now();
    const statuses: number[] = [];
    while (Date.now() - refusedAt < retryAfter * 1000 + 1500) {
      const status = (await client.get("/hello")).status;
      statuses.push(status);
      if (status === 200) break;
      await sleep(25);
    }
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.slice(0, -1).every((s) => s === 429)).toBe(true);
  });

  it("sliding window: no double burst at a window edge", async () => {
    const client = await limited({ points: 4, duration: 1 });
    // Wait for the start of a fresh window's second half, then use the whole allowance.
    const edge = () => Date.now() % 1000;
    while (edge() < 600 || edge() > 700) await sleep(5);
    for (let i = 0; i < 4; i++) expect((await client.get("/hello")).status).toBe(200);
    // Just past the edge, a fixed window would allow 4 more; the sliding estimate still counts most of the last 4.
    while (edge() > 100) await sleep(5);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await client.get("/hello")).status);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(2);
  });

  it("sliding window: refused requests are not counted, so hammering does not keep a client out", async () => {
    const client = await limited({ points: 2, duration: 2 });
    const phase = () => Date.now() % 2000;
    while (phase() > 100) await sleep(5);
    expect((await client.get("/hello")).status).toBe(200);
    expect((await client.get("/hello")).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await client.get("/hello")).status).toBe(429);
    // 1.2 s into the next window, 40% of the last one still counts: 2 x 0.4 + 1 fits in 2; 22 x 0.4 + 1 would not.
    const next = Math.floor(Date.now() / 2000) + 1;
    while (Math.floor(Date.now() / 2000) !== next || phase() < 1200 || phase() > 1500) await sleep(5);
    expect((await client.get("/hello")).status).toBe(200);
  });

  it("fixed window: recovers when the window ends", async () => {
    const client = await limited({ points: 1, duration: 1, algorithm: "fixed-window" });
    expect((await client.get("/hello")).status).toBe(200);
    const refused = await client.get("/hello");
    expect([refused.status, refused.headers["retry-after"]]).toEqual([429, "1"]);
    await sleep(1100);
    expect((await client.get("/hello")).status).toBe(200);
  });

  it("a route's own rule replaces the app's; rateLimit: false exempts; 404s and CORS preflights are not counted", async () => {
    const client = await limited({ points: 2, duration: 60 }, (app) => app.enableCors());
    expect((await client.post("/login")).status).toBe(200);
    const login = await client.post("/login");
    expect([login.status, login.headers["ratelimit-limit"]]).toEqual([429, "1"]);
    for (let i = 0; i < 5; i++) {
      expect((await client.get("/health")).status).toBe(200);
      expect((await client.get("/nowhere")).status).toBe(404);
      const preflight = await client.options("/hello", { headers: { Origin: "http://a.test", "Access-Control-Request-Method": "GET" } });
      expect(preflight.status).toBe(204);
    }
    const health = await client.get("/health");
    expect(health.headers["ratelimit-limit"]).toBeUndefined();
    // The app-wide allowance is untouched by all of the above.
    const hello = await client.get("/hello");
    expect([hello.status, hello.headers["ratelimit-remaining"]]).toEqual([200, "1"]);
    // SSE responses carry the headers too, and the 429 carries CORS headers.
    const events = await client.sse("/events", { headers: { Origin: "http://a.test" } });
    expect([events.status, events.headers["ratelimit-remaining"], events.events.map((e) => e.data)]).toEqual([200, "0", ["hi"]]);
    const refused = await client.get("/hello", { headers: { Origin: "http://a.test" } });
    expect([refused.status, refused.headers["access-control-allow-origin"]]).toEqual([429, "*"]);
  });

  it("keys by the key function, falling back to the client IP", async () => {
    const client = await limited({ points: 1, duration: 60, key: (req) => req.getHeader("x-user") });
    expect((await client.get("/hello", { headers: { "x-user": "ann" } })).status).toBe(200);
    expect((await client.get("/hello", { headers: { "x-user": "ann" } })).status).toBe(429);
    expect((await client.get("/hello", { headers: { "x-user": "bob" } })).status).toBe(200);
    // No key: the IP's own count, apart from the keys (a key equal to the IP does not share it).
    expect((await client.get("/hello", { headers: { "x-user": "127.0.0.1" } })).status).toBe(200);
    expect((await client.get("/hello")).status).toBe(200);
    expect((await client.get("/hello")).status).toBe(429);
  });

  it("hostile keys: long keys are counted by hash (distinct ones apart, equal ones together), odd bytes are just keys", async () => {
    const client = await limited({ points: 1, duration: 60, key: (req) => req.getHeader("x-user") });
    const long = "k".repeat(12_000);
    expect((await client.get("/hello", { headers: { "x-user": long + "a" } })).status).toBe(200);
    expect((await client.get("/hello", { headers: { "x-user": long + "b" } })).status).toBe(200);
    expect((await client.get("/hello", { headers: { "x-user": long + "a" } })).status).toBe(429);
    for (const odd of ["a:1", "a", "ip:127.0.0.1", "\u00e9\u00ff", "*", "__proto__", "constructor"]) {
      expect((await client.get("/hello", { headers: { "x-user": odd } })).status).toBe(200);
    }
    expect((await client.get("/hello", { headers: { "x-user": "__proto__" } })).status).toBe(429);
  });

  it("does not let a client rotate X-Forwarded-For past its limit unless the peer is a trusted proxy", async () => {
    const spoofed = await limited({ points: 1, duration: 60 });
    expect((await spoofed.get("/hello", { headers: { "X-Forwarded-For": "1.1.1.1" } })).status).toBe(200);
    expect((await spoofed.get("/hello", { headers: { "X-Forwarded-For": "2.2.2.2" } })).status).toBe(429);
    const proxied = await limited({ points: 1, duration: 60 }, undefined, { trustProxy: ["127.0.0.1"] });
    expect((await proxied.get("/hello", { headers: { "X-Forwarded-For": "1.1.1.1" } })).status).toBe(200);
    expect((await proxied.get("/hello", { headers: { "X-Forwarded-For": "2.2.2.2" } })).status).toBe(200);
    expect((await proxied.get("/hello", { headers: { "X-Forwarded-For": "1.1.1.1" } })).status).toBe(429);
  });

  it("counts IPv6 clients by their /64 network", async () => {
    const client = await limited({ points: 1, duration: 60 }, undefined, { trustProxy: ["127.0.0.1"] });
    expect((await client.get("/hello", { headers: { "X-Forwarded-For": "2001:db8:0:1::1" } })).status).toBe(200);
    expect((await client.get("/hello", { headers: { "X-Forwarded-For": "2001:db8:0:1:ffff::2" } })).status).toBe(429);
    expect((await client.get("/hello", { headers: { "X-Forwarded-For": "2001:db8:0:2::1" } })).status).toBe(200);
  });

  it("a key function that throws is that request's logged 500; a failing store lets requests pass with one warning", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/hello", () => "hi");
    app.enableRateLimit({ points: 1, duration: 60, key: (req) => { if (req.getHeader("x-bad")) throw new Error("key failed"); return undefined; } });
    const client = await start(app);
    expect((await client.get("/hello", { headers: { "x-bad": "1" } })).status).toBe(500);
    expect(logger.errors.map(([, err]) => (err as Error).message)).toEqual(["key failed"]);
    expect((await client.get("/hello")).status).toBe(200);

    const broken = new App({ logger });
    broken.get("/hello", () => "hi");
    const failing = () => ({ consume: () => Promise.reject(new Error("store down")), get: () => Promise.reject(new Error("store down")), reward: () => Promise.reject(new Error("store down")) }) as never;
    broken.enableRateLimit({ points: 1, duration: 60, store: failing });
    const brokenClient = await start(broken);
    for (let i = 0; i < 3; i++) expect((await brokenClient.get("/hello")).status).toBe(200);
    expect(logger.warnings).toEqual(["rate limit store failed; requests pass uncounted until it answers again: store down"]);
  });

  it("refuses bad options at setup, naming them", () => {
    const bad: Array<[RateLimitOptions, RegExp]> = [
      [{ points: 0, duration: 1 }, /rateLimit\.points must be a whole number >= 1, got 0/],
      [{ points: 1.5, duration: 1 }, /points must be a whole number/],
      [{ points: 1 }, /rateLimit\.duration must be a number of seconds > 0, got undefined/],
      [{ points: 1, duration: -1 }, /duration must be/],
      [{ points: 1, duration: 1, algorithm: "leaky" as never }, /algorithm must be "sliding-window", "fixed-window" or "token-bucket", got "leaky"/],
      [{ points: 1, duration: 1, algorithm: "token-bucket", burst: 0 }, /rateLimit\.burst must be a whole number >= 1, got 0/],
      [{ points: 1, duration: 1, algorithm: "token-bucket", burst: Number.NaN }, /rateLimit\.burst must be a whole number >= 1, got NaN/],
      [{ points: 1, duration: 1, algorithm: "token-bucket", burst: 2.5 }, /rateLimit\.burst must be a whole number/],
      [{ points: 1, duration: 1, burst: 3 }, /rateLimit\.burst applies only to algorithm "token-bucket"/],
      [{ key: "ip" as never }, /key must be a function/],
      [{ store: {} as never }, /store must be a function/],
      [{ streams: { perIp: 0 } }, /rateLimit\.streams\.perIp must be a whole number >= 1, got 0/],
      [{ streams: { total: Infinity } }, /streams\.total must be a whole number/],
    ];
    for (const [options, message] of bad) expect(celloErrorOf(() => rateLimit(options)).message).toMatch(message);
    const app = new App();
    expect(celloErrorOf(() => app.get("/x", () => 1, { rateLimit: { points: -1, duration: 1 } })).message).toMatch(/GET \/x rateLimit\.points must be/);
    expect(celloErrorOf(() => app.get("/y", () => 1, { rateLimit: { streams: { perKey: 2.5 } } })).message).toMatch(/GET \/y rateLimit\.streams\.perKey/);
    expect(celloErrorOf(() => app.get("/z", () => 1, { rateLimit: true as never })).message).toMatch(/rateLimit must be an object or false/);
    expect(celloErrorOf(() => app.get("/w", () => 1, { rateLimit: { points: 1, duration: 1, algorithm: "token-bucket", burst: -1 } })).message).toMatch(/GET \/w rateLimit\.burst must be/);
  });
});

/** Wait until a refill interval (clock-aligned) has just begun, so a test's burst does not straddle two. */
async function startOfInterval(intervalMs: number): Promise<void> {
  await sleep(intervalMs - (Date.now() % intervalMs) + 5);
}

describe("app.enableRateLimit(): token bucket", () => {
  it("a full bucket lets `burst` requests through at once; the next is 429 with Retry-After; one interval later exactly one more passes", async () => {
    // 2 per 2 s: one token back every second; a bucket of 3.
    const client = await limited({ points: 2, duration: 2, algorithm: "token-bucket", burst: 3 });
    await startOfInterval(1000);
    const burst = await Promise.all([1, 2, 3].map(() => client.get("/hello")));
    expect(burst.map((res) => res.status)).toEqual([200, 200, 200]);
    expect(burst.map((res) => res.headers["ratelimit-limit"])).toEqual(["3", "3", "3"]);
    expect(burst.map((res) => res.headers["ratelimit-remaining"]).sort()).toEqual(["0", "1", "2"]);
    const refused = await client.get("/hello");
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ error: "Too Many Requests", status: 429 });
    expect(rateHeaders(refused.headers)).toEqual(["3", "0", "1", "1"]);
    // The next interval brings one token, not more.
    await startOfInterval(1000);
    const again = await client.get("/hello");
    expect([again.status, again.headers["ratelimit-remaining"]]).toEqual([200, "0"]);
    expect((await client.get("/hello")).status).toBe(429);
  });

  it("left alone for one refill time (burst intervals), the bucket is full again", async () => {
    // A token every 250 ms, a bucket of 4: full again 1 s after the last refusal.
    const client = await limited({ points: 4, duration: 1, algorithm: "token-bucket", burst: 4 });
    const burstOf = async () => {
      await startOfInterval(250);
      const statuses = (await Promise.all([1, 2, 3, 4, 5].map(() => client.get("/hello")))).map((res) => res.status);
      return statuses.sort();
    };
    expect(await burstOf()).toEqual([200, 200, 200, 200, 429]);
    await sleep(1300);
    expect(await burstOf()).toEqual([200, 200, 200, 200, 429]);
  }, 10_000);

  it("burst defaults to points; a client that never bursts sees its bucket full", async () => {
    // A token every 1000 s: none comes back during the test.
    const client = await limited({ points: 3, duration: 3000, algorithm: "token-bucket", key: (req) => req.getHeader("x-user") });
    const res = await client.get("/hello");
    expect(rateHeaders(res.headers)).toEqual(["3", "2", expect.stringMatching(/^\d+$/), undefined]);
    // Reset: when the bucket is full again (the spent token's interval ends).
    expect(Number(res.headers["ratelimit-reset"])).toBeLessThanOrEqual(1000);
    expect((await client.get("/hello")).status).toBe(200);
    expect((await client.get("/hello")).status).toBe(200);
    const refused = await client.get("/hello");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(1000);
    // Another client has its own bucket.
    expect((await client.get("/hello", { headers: { "x-user": "other" } })).status).toBe(200);
  }, 10_000);

  it("sustained: hammered, the rate converges to points/duration after the burst", async () => {
    // 20 per second (a token every 50 ms), a bucket of 5: over ~2.5 s at most 5 + 50 (+1 for a partial interval).
    const client = await limited({ points: 20, duration: 1, algorithm: "token-bucket", burst: 5 });
    await startOfInterval(50);
    const started = performance.now();
    let allowed = 0;
    let refused = 0;
    const hammer = async () => {
      while (performance.now() - started < 2500) {
        const res = await client.get("/hello");
        if (res.status === 200) allowed++;
        else if (res.status === 429) refused++;
        else throw new Error(`unexpected status ${res.status}`);
      }
    };
    await Promise.all([hammer(), hammer(), hammer()]);
    const elapsed = performance.now() - started;
    const ceiling = 5 + Math.ceil(elapsed / 50) + 1;
    expect(refused).toBeGreaterThan(0);
    expect(allowed).toBeLessThanOrEqual(ceiling);
    // A loaded machine may miss intervals, never gain them: at least half the rate.
    expect(allowed).toBeGreaterThanOrEqual(5 + (elapsed / 50) * 0.5);
  }, 15_000);
});

describe("RateLimit-* headers a handler set itself", () => {
  it("are replaced by the plugin's, whatever their case: one value each", async () => {
    const client = await limited({ points: 5, duration: 60 }, (app) => {
      app.get("/own", () => Response.json({}, { headers: { "X-Other": "kept", "Ratelimit-Limit": "99", "RATELIMIT-RESET": "7" } }));
    });
    const res = await client.get("/own");
    expect([res.status, ...rateHeaders(res.headers), res.headers["x-other"]]).toEqual([200, "5", "4", expect.stringMatching(/^\d{1,2}$/), undefined, "kept"]);
    const plain = await client.get("/hello");
    expect(rateHeaders(plain.headers)).toEqual(["5", "3", expect.stringMatching(/^\d{1,2}$/), undefined]);
  });
});

describe("RateLimit-* headers of interleaved requests", () => {
  it("each response carries its own request's count, when a slow handler is answered after later requests", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const client = await limited({ points: 10, duration: 60 }, (app) => {
      app.get("/slow", async () => {
        await released;
        return { slow: true };
      });
    });
    const slow = client.get("/slow");
    // Counted before /hello: wait until the slow request is in its handler (its count is taken).
    await sleep(100);
    const fast = await client.get("/hello");
    const after = await client.get("/hello");
    release();
    const answered = await slow;
    expect([answered.status, answered.headers["ratelimit-remaining"]]).toEqual([200, "9"]);
    expect([fast.headers["ratelimit-remaining"], after.headers["ratelimit-remaining"]]).toEqual(["8", "7"]);
  });
});

describe("RateLimit-* headers on an answer that replaced a failed one", () => {
  it("are still set when a later onResponse hook throws and its error is the answer", async () => {
    const app = new App({ logger: recordingLogger() });
    app.get("/hello", () => "hi");
    app.enableRateLimit({ points: 5, duration: 60 });
    app.addHook("onResponse", (request) => {
      if (request.query.fail !== undefined) throw new HttpError(503, "down for a moment");
    });
    const client = await start(app);
    const failed = await client.get("/hello?fail=1");
    expect([failed.status, failed.headers["ratelimit-limit"], failed.headers["ratelimit-remaining"]]).toEqual([503, "5", "4"]);
  });
});

describe("the memory store's synchronous sliding window", () => {
  it("answers exactly as the sliding window over rate-limiter-flexible's counters, request by request, across window edges", async () => {
    // The same rule twice: the default store (counted synchronously in this process) and the same
    // counters given as a custom store (the generic path over rate-limiter-flexible, a promise per request).
    // Only Date is faked: both read the clock there, and it moves only when the test moves it.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.UTC(2026, 0, 1, 0, 0, 0, 250) });
    try {
      const rule = { points: 5, duration: 10 };
      const sync = await limited(rule);
      const generic = await limited({ ...rule, store: (options) => new RateLimiterMemory(options) });
      let seed = 7;
      const random = (below: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % below;
      };
      const seen: string[] = [];
      for (let step = 0; step < 150; step++) {
        vi.setSystemTime(Date.now() + random(4000));
        for (let n = random(4); n >= 0; n--) {
          const [a, b] = [await sync.get("/hello"), await generic.get("/hello")];
          const answer = (res: typeof a) => `${res.status} ${rateHeaders(res.headers).join(" ")}`;
          expect(answer(a), `step ${step} at ${Date.now() % 10_000} ms into the window`).toBe(answer(b));
          seen.push(answer(a).split(" ")[0]!);
        }
      }
      // The walk went through both answers many times.
      expect(seen.filter((status) => status === "429").length).toBeGreaterThan(20);
      expect(seen.filter((status) => status === "200").length).toBeGreaterThan(20);
    } finally {
      vi.useRealTimers();
    }
  });
});
