// A stream's maximum lifetime (the `maxLifetimeMs` and `lifetimeJitter` SSE options), over real
// sockets: it ends with a `retry:` line and a `: lifetime` comment, spread by the jitter, and a
// channel subscriber resumes by Last-Event-ID with nothing lost or doubled.
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { Authenticated } from "../guards/authenticated.js";
import { Request } from "../request.js";
import { Response } from "../response.js";
import { celloErrorOf, connect, recordingLogger } from "../testing.js";
import { LIFETIME_RETRY_MS, lifetimeDeadline } from "./lifetime.js";
import { SSE_DEFAULTS, resolveSseOptions } from "./options.js";
import { rawSse, responses, sleep } from "./raw-client.test-support.js";
import type { SseStreamInfo } from "./report.js";
import { SseStream } from "./stream.js";

/** An app set up by `setup`, listening; closes are recorded. */
async function startApp(options: ConstructorParameters<typeof App>[0], setup: (app: App) => void) {
  const closes: Array<{ path: string; info: SseStreamInfo }> = [];
  const app = new App({ logger: recordingLogger(), ...options });
  app.addHook("onStreamClose", (request, info) => void closes.push({ path: request.path, info }));
  setup(app);
  const { url } = await app.listen({ port: 0 });
  return { app, port: Number(new URL(url).port), closes };
}

async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(10);
  }
}

function ticking(): SseStream {
  const stream = new SseStream();
  let i = 0;
  const timer = setInterval(() => stream.addEvent("tick", String(++i)), 40);
  stream.onClose(() => clearInterval(timer));
  return stream;
}

async function* ticks(request: Request): AsyncGenerator<string> {
  for (let i = 1; !request.signal.aborted; i++) {
    await sleep(40);
    yield `tick ${i}`;
  }
}

/** Open `path`, wait for the response to end; its body and how long it lived (from the head's arrival). */
async function lived(port: number, path: string, headers?: Record<string, string>) {
  const conn = await rawSse(port, path, { headers });
  await conn.until((t) => t.includes("\r\n\r\n"), 5000);
  const openedAt = Date.now();
  await conn.until((t) => responses(t)[0]?.complete === true, 10_000);
  const ms = Date.now() - openedAt;
  return { ms, body: responses(conn.text())[0]!.body, head: responses(conn.text())[0]!.head };
}

describe("maxLifetimeMs per route", () => {
  it("an SseStream ends at its lifetime: the ticks, then the route's `retry:` and `: lifetime`, then the end; a route without one stays open", async () => {
    const { app, port, closes } = await startApp({}, (app) => {
      app.get("/short", ticking, { sse: { maxLifetimeMs: 500, lifetimeJitter: 0, retry: 1500 } });
      app.get("/long", ticking);
    });
    try {
      const long = await rawSse(port, "/long");
      const { ms, body, head } = await lived(port, "/short");
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(ms).toBeGreaterThanOrEqual(400);
      expect(ms).toBeLessThan(3000);
      // retry at open, ticks in order, then the last frame once, last.
      expect(body.startsWith(": ok\n\nretry: 1500\n\nevent: tick\ndata: 1\n\n")).toBe(true);
      const sent = [...body.matchAll(/event: tick\ndata: (\d+)\n\n/g)].map((m) => Number(m[1]));
      expect(sent.length).toBeGreaterThanOrEqual(3);
      expect(sent).toEqual(sent.map((_, i) => i + 1));
      expect(body.endsWith("retry: 1500\n\n: lifetime\n\n")).toBe(true);
      expect(body.split(": lifetime")).toHaveLength(2);
      await until(() => closes.some((c) => c.path === "/short"));
      expect(closes.find((c) => c.path === "/short")!.info.reason).toBe("lifetime");
      // The route without a lifetime is still streaming.
      const before = long.text().length;
      await long.until((t) => t.length > before);
      expect(closes.some((c) => c.path === "/long")).toBe(false);
      long.socket.destroy();
    } finally {
      await app.close();
    }
  });

  it("a generator ends at its lifetime too, and request.signal aborts (the generator's finally runs)", async () => {
    let finished = 0;
    const { app, port, closes } = await startApp({}, (app) => {
      app.get("/gen", async function* (request) {
        try {
          yield* ticks(request);
        } finally {
          finished++;
        }
      }, { sse: { maxLifetimeMs: 400, lifetimeJitter: 0 } });
    });
    try {
      const { ms, body } = await lived(port, "/gen");
      expect(ms).toBeGreaterThanOrEqual(300);
      // No route retry: the default one.
      expect(body.endsWith(`retry: ${LIFETIME_RETRY_MS}\n\n: lifetime\n\n`)).toBe(true);
      expect(body).toContain("data: tick 1\n\n");
      await until(() => closes.length === 1 && finished === 1);
      expect(closes[0]!.info.reason).toBe("lifetime");
    } finally {
      await app.close();
    }
  });
});

describe("maxLifetimeMs app-wide", () => {
  it("applies to every SSE route; a route turns it off with 0; a response's own options keep it", async () => {
    const { app, port, closes } = await startApp({ sse: { maxLifetimeMs: 500, retry: 700 } }, (app) => {
      app.get("/a", ticking);
      app.get("/b", (request) => ticks(request));
      app.get("/c", () => Response.sse(ticking(), { heartbeatMs: 5000 }));
      app.get("/forever", ticking, { sse: { maxLifetimeMs: 0 } });
    });
    try {
      const forever = await rawSse(port, "/forever");
      const ended = await Promise.all(["/a", "/b", "/c"].map((path) => lived(port, path)));
      for (const { ms, body } of ended) {
        // Default jitter 0.1: a lifetime in (450, 500] ms.
        expect(ms).toBeGreaterThanOrEqual(350);
        expect(ms).toBeLessThan(3000);
        expect(body.endsWith("retry: 700\n\n: lifetime\n\n")).toBe(true);
      }
      await until(() => closes.length === 3);
      expect(closes.map((c) => c.info.reason)).toEqual(["lifetime", "lifetime", "lifetime"]);
      await sleep(300);
      expect(forever.text()).not.toContain("lifetime");
      expect(app.openStreams).toBe(1);
      forever.socket.destroy();
    } finally {
      await app.close();
    }
  });
});

describe("lifetimeJitter", () => {
  it("50 streams opened together with a 1 s lifetime and 0.5 jitter end spread over (500, 1000] ms, not all at once", async () => {
    const { app, port, closes } = await startApp({}, (app) => {
      app.get("/s", () => new SseStream(), { sse: { maxLifetimeMs: 1000, lifetimeJitter: 0.5, heartbeatMs: 0 } });
    });
    try {
      const conns = await Promise.all(Array.from({ length: 50 }, () => rawSse(port, "/s")));
      await Promise.all(conns.map((c) => c.until((t) => t.includes("\r\n\r\n"))));
      const openedAt = Date.now();
      const ends = await Promise.all(conns.map((c) => c.until((t) => responses(t)[0]?.complete === true, 10_000).then(() => Date.now() - openedAt)));
      for (const c of conns) expect(c.body()).toContain(`retry: ${LIFETIME_RETRY_MS}\n\n: lifetime\n\n`);
      ends.sort((a, b) => a - b);
      // Every lifetime within the window (late by at most a loaded machine's timer delay).
      expect(ends[0]).toBeGreaterThanOrEqual(400);
      expect(ends.at(-1)).toBeLessThan(3000);
      // Spread: uniform over 500 ms would span ~490 ms; without jitter all 50 end within a few ms.
      expect(ends.at(-1)! - ends[0]!).toBeGreaterThan(250);
      const buckets = new Set(ends.map((ms) => Math.floor(ms / 100)));
      expect(buckets.size).toBeGreaterThanOrEqual(4);
      // No 100 ms window holds more than half of them.
      for (const b of buckets) expect(ends.filter((ms) => Math.floor(ms / 100) === b).length).toBeLessThanOrEqual(25);
      await until(() => closes.length === 50);
      expect(closes.every((c) => c.info.reason === "lifetime")).toBe(true);
    } finally {
      await app.close();
    }
  }, 20_000);

  it("draws each lifetime uniformly from (max * (1 - jitter), max], never longer than max", () => {
    const options = resolveSseOptions(SSE_DEFAULTS, { maxLifetimeMs: 1000, lifetimeJitter: 0.5 });
    const now = Date.now();
    const at = (r: number) => lifetimeDeadline(options, () => r)!.at - now;
    expect(at(0)).toBeGreaterThanOrEqual(1000);
    expect(at(0)).toBeLessThan(1000 + 50);
    expect(at(0.999999)).toBeGreaterThanOrEqual(500);
    expect(at(0.999999)).toBeLessThan(500 + 50);
    expect(lifetimeDeadline(options)!.end).toEqual({ retry: LIFETIME_RETRY_MS, reason: "lifetime" });
    expect(lifetimeDeadline(resolveSseOptions(SSE_DEFAULTS, {}))).toBeUndefined();
    expect(lifetimeDeadline(resolveSseOptions(SSE_DEFAULTS, { maxLifetimeMs: Infinity }))).toBeUndefined();
    expect(SSE_DEFAULTS.lifetimeJitter).toBe(0.1);
  });
});

describe("a channel subscriber", () => {
  it("reconnects after each lifetime with Last-Event-ID and resumes: nothing lost or doubled", async () => {
    const { app, port, closes } = await startApp({}, (app) => {
      const channel = app.channel("numbers", { history: 1000 });
      let n = 0;
      const timer = setInterval(() => void channel.publish(String(++n), { event: "n" }), 20);
      app.onEvent("shutdown", () => clearInterval(timer));
      app.get("/numbers", (request) => channel.subscribe(request), { sse: { maxLifetimeMs: 400, lifetimeJitter: 0.5, retry: 150 } });
    });
    try {
      const sent: string[] = [];
      const counting = (url: string, init: RequestInit) => {
        sent.push(new Headers(init.headers).get("last-event-id") ?? "-");
        return fetch(url, init);
      };
      const numbers: number[] = [];
      const ids: string[] = [];
      for await (const event of connect(`http://127.0.0.1:${port}/numbers`, { fetch: counting })) {
        numbers.push(Number(event.data));
        ids.push(event.id ?? "");
        if (sent.length >= 3 && numbers.length >= 60) break;
      }
      // Three connections at least, the later ones resuming from the last id received before.
      expect(sent.length).toBeGreaterThanOrEqual(3);
      expect(sent[0]).toBe("-");
      for (const id of sent.slice(1)) expect(ids).toContain(id);
      // One unbroken run: what was published while the client was away came with the replay.
      expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i));
      expect(new Set(ids).size).toBe(ids.length);
      await until(() => closes.filter((c) => c.info.reason === "lifetime").length >= 2);
    } finally {
      await app.close();
    }
  }, 20_000);
});

describe("with a guard", () => {
  const expiries = new Map<string, number>();
  const guard = Authenticated({
    query: "token",
    verify: (token) => {
      const expiresAt = expiries.get(token);
      return expiresAt === undefined ? undefined : { principal: { id: token }, expiresAt };
    },
  });

  it("a credential expiring before the lifetime still ends the stream first (reauthenticate, reason expired); a later one lets the lifetime end it", async () => {
    const { app, port, closes } = await startApp({}, (app) => {
      app.get("/ticks", ticking, { guards: [guard], sse: { maxLifetimeMs: 600, lifetimeJitter: 0 } });
    });
    try {
      expiries.set("short", Date.now() + 250);
      expiries.set("long", Date.now() + 60_000);
      const [short, long] = await Promise.all([lived(port, "/ticks?token=short"), lived(port, "/ticks?token=long")]);
      expect(short.body).toMatch(/event: reauthenticate\n/);
      expect(short.body).not.toContain("lifetime");
      expect(short.ms).toBeLessThan(550);
      expect(long.body.endsWith(`retry: ${LIFETIME_RETRY_MS}\n\n: lifetime\n\n`)).toBe(true);
      expect(long.body).not.toContain("reauthenticate");
      expect(long.ms).toBeGreaterThanOrEqual(500);
      await until(() => closes.length === 2);
      expect(closes.map((c) => c.info.reason).sort()).toEqual(["expired", "lifetime"]);
    } finally {
      await app.close();
    }
  });
});

describe("bad options", () => {
  it("throw CELLO_INVALID_OPTION naming the option, app-wide and at route registration", () => {
    const bad: Array<[string, object]> = [
      ["maxLifetimeMs", { maxLifetimeMs: -1 }],
      ["maxLifetimeMs", { maxLifetimeMs: Number.NaN }],
      ["maxLifetimeMs", { maxLifetimeMs: "1000" }],
      ["lifetimeJitter", { lifetimeJitter: -0.1 }],
      ["lifetimeJitter", { lifetimeJitter: 1.5 }],
      ["lifetimeJitter", { lifetimeJitter: Number.NaN }],
      ["lifetimeJitter", { maxLifetimeMs: 1000, lifetimeJitter: "0.1" }],
    ];
    for (const [name, sse] of bad) {
      const appWide = celloErrorOf(() => new App({ sse }));
      expect(appWide.code).toBe("CELLO_INVALID_OPTION");
      expect(appWide.message).toContain(`sse.${name}`);
      const app = new App();
      const route = celloErrorOf(() => app.get("/s", () => new SseStream(), { sse }));
      expect(route.code).toBe("CELLO_INVALID_OPTION");
      expect(route.message).toContain(`sse.${name}`);
    }
    // The edges are fine: 0 and Infinity (off), jitter 0 and 1.
    for (const sse of [{ maxLifetimeMs: 0 }, { maxLifetimeMs: Infinity }, { lifetimeJitter: 0 }, { maxLifetimeMs: 1, lifetimeJitter: 1 }]) {
      expect(() => new App({ sse }).get("/s", () => new SseStream(), { sse })).not.toThrow();
    }
  });

  it("set on one response: a logged 500 before any SSE byte", async () => {
    const logger = recordingLogger();
    const { app, port } = await startApp({ logger }, (app) => {
      app.get("/s", () => Response.sse(new SseStream(), { maxLifetimeMs: -5 }));
    });
    try {
      const response = await fetch(`http://127.0.0.1:${port}/s`);
      expect(response.status).toBe(500);
      expect(await response.text()).not.toContain("retry");
      expect(logger.errors.map(([, err]) => String(err)).join("\n")).toContain("sse.maxLifetimeMs");
    } finally {
      await app.close();
    }
  });
});
