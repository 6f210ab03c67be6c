/**
 * The health checks plugin over real sockets: each endpoint's status and body,
 * user checks with a timeout, and the order at shutdown: readiness fails while
 * streams are still open, and only then do they get their final frame.
 */
import { createServer } from "node:http";
import { fetch } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "../app.js";
import { silentLogger } from "../logger.js";
import { rawSse, sleep } from "../sse/raw-client.test-support.js";
import { SseStream } from "../sse/stream.js";
import { celloErrorOf, recordingLogger } from "../testing.js";

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close({ graceMs: 500 })));
});

async function start(app: App): Promise<string> {
  apps.push(app);
  return (await app.listen({ port: 0 })).url;
}

async function probe(url: string): Promise<{ status: number; body: Record<string, unknown>; cacheControl: string | null }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, cacheControl: response.headers.get("cache-control") };
}

describe("app.enableHealthChecks()", () => {
  it("answers live, startup, ready and the summary with 200 once started, never cached, whatever the query", async () => {
    const app = new App({ logger: silentLogger });
    app.enableHealthChecks({ checks: { cache: () => true } });
    const url = await start(app);
    expect(await probe(`${url}/health/live`)).toEqual({ status: 200, body: { status: "ok" }, cacheControl: "no-store" });
    expect(await probe(`${url}/health/startup?x=%ZZ`)).toEqual({ status: 200, body: { status: "ok", state: "started" }, cacheControl: "no-store" });
    expect(await probe(`${url}/health/ready`)).toEqual({ status: 200, body: { status: "ok", state: "started", checks: { broker: "ok", cache: "ok" } }, cacheControl: "no-store" });
    expect((await probe(`${url}/health`)).status).toBe(200);
    const head = await fetch(`${url}/health/ready`, { method: "HEAD" });
    expect(head.status).toBe(200);
  });

  it("startup and readiness fail (503) while startup handlers run, and pass once they finished", async () => {
    const app = new App({ logger: silentLogger });
    app.enableHealthChecks();
    let release!: () => void;
    app.onEvent("startup", () => new Promise<void>((resolve) => (release = resolve)));
    // The app's handler on a server of our own: it answers while ready() is still running.
    const server = createServer(app.handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const ready = app.ready();
      await sleep(10);
      expect(app.state).toBe("starting");
      expect(await probe(`${url}/health/startup`)).toMatchObject({ status: 503, body: { status: "failing", state: "starting" } });
      expect(await probe(`${url}/health/ready`)).toMatchObject({ status: 503, body: { status: "failing" } });
      expect((await probe(`${url}/health/live`)).status).toBe(200);
      release();
      await ready;
      expect(await probe(`${url}/health/startup`)).toMatchObject({ status: 200, body: { state: "started" } });
      expect((await probe(`${url}/health/ready`)).status).toBe(200);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await app.close();
    }
  });

  it("fails readiness for a failing, false or hanging check; a hanging one answers within its timeout and is not called again while it hangs", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    let hangingCalls = 0;
    let failing = true;
    app.enableHealthChecks({
      timeoutMs: 300,
      checks: {
        database: async () => {
          if (failing) throw new Error("connect ECONNREFUSED 10.0.0.7:5432 (secret host)");
        },
        flag: () => !failing,
        queue: () => {
          hangingCalls++;
          return new Promise(() => {});
        },
      },
    });
    const url = await start(app);
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 5 }, () => probe(`${url}/health/ready`)));
    const elapsed = performance.now() - started;
    for (const result of results) {
      expect(result.status).toBe(503);
      expect(result.body).toEqual({ status: "failing", state: "started", checks: { broker: "ok", database: "failing", flag: "failing", queue: "timeout" } });
    }
    // Five concurrent probes: answered at the timeout, not hung, and the hanging check was called once.
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5000);
    expect(hangingCalls).toBe(1);
    // What failed is logged (once per change), never shown to the prober.
    expect(JSON.stringify(results)).not.toContain("ECONNREFUSED");
    expect(logger.warnings.filter((w) => w.includes('"database"'))).toHaveLength(1);
    failing = false;
    const summary = await probe(`${url}/health`);
    expect(summary.body.checks).toEqual({ broker: "ok", database: "ok", flag: "ok", queue: "timeout" });
    expect(hangingCalls).toBe(1);
  });

  it("flips readiness to 503 at the start of close(), while an SSE stream is still open; the stream gets its shutdown frame after the drain delay", async () => {
    const app = new App({ logger: silentLogger, sse: { heartbeatMs: 0 } });
    app.enableHealthChecks({ drainDelayMs: 600 });
    const order: string[] = [];
    app.onEvent("draining", () => void order.push("draining"));
    app.onEvent("shutdown", () => void order.push("shutdown"));
    app.get("/events", () => {
      const stream = new SseStream();
      stream.addEvent("hello", "1");
      return stream;
    });
    const url = await start(app);
    const port = Number(new URL(url).port);
    const stream = await rawSse(port, "/events");
    await stream.until((t) => t.includes("data: 1"));
    const events: Array<[string, number]> = [];
    void stream.until((t) => t.includes(": shutdown")).then(() => events.push(["stream got its final frame", performance.now()]), () => {});

    expect((await probe(`${url}/health/ready`)).status).toBe(200);
    const closing = app.close({ graceMs: 2000 });
    // During the drain delay: the server still accepts, readiness fails, liveness passes, the stream is open.
    const ready = await probe(`${url}/health/ready`);
    events.push(["readiness 503", performance.now()]);
    expect(ready).toMatchObject({ status: 503, body: { status: "failing", state: "draining" } });
    expect((await probe(`${url}/health/live`)).status).toBe(200);
    expect(app.openStreams).toBe(1);
    expect(stream.body()).not.toContain("shutdown");
    await closing;
    await stream.closed;
    expect(events.map(([what]) => what)).toEqual(["readiness 503", "stream got its final frame"]);
    // The final frame came after the drain delay, not at once.
    expect(events[1]![1] - events[0]![1]).toBeGreaterThan(300);
    expect(order).toEqual(["draining", "shutdown"]);
    expect(app.state).toBe("closed");
    apps.splice(apps.indexOf(app), 1);
  });

  it("refuses bad options at setup with CELLO_INVALID_OPTION", () => {
    const app = new App();
    expect(celloErrorOf(() => app.enableHealthChecks({ path: "health" })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableHealthChecks({ path: "/health/" })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableHealthChecks({ timeoutMs: -1 })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableHealthChecks({ drainDelayMs: Number.NaN })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableHealthChecks({ checks: { db: "select 1" as never } })).code).toBe("CELLO_INVALID_OPTION");
  });
});
