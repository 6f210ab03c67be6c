import os from "node:os";
import type { App } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStreamUntil, startDemo } from "./browser/support.js";
import { app as defaultApp, createDashboardApp, type MetricsSample } from "./dashboard.js";

let app: App;
let client: TestClient;
beforeAll(async () => {
  app = createDashboardApp({ intervalMs: 20 });
  client = await TestClient.start(app);
});
afterAll(async () => {
  await client.close();
});

describe("examples/dashboard.ts", () => {
  it("samples nothing until the app starts", async () => {
    expect(await defaultApp.broker.lastId("metrics")).toBeUndefined();
  });

  it("GET / is a page with two canvases that loads nothing from outside", async () => {
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.text).toContain('<canvas id="cpu-chart">');
    expect(res.text).toContain('<canvas id="memory-chart">');
    expect(res.text).toContain('new EventSource("/metrics")');
    expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it("/metrics streams numbered metrics events with real process and OS figures", async () => {
    const res = await client.sse("/metrics", { maxEvents: 5 });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(res.events.map((e) => e.event)).toEqual(Array(5).fill("metrics"));
    const ids = res.events.map((e) => Number(e.id));
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i));
    for (const event of res.events) {
      const sample = JSON.parse(event.data) as MetricsSample;
      expect(Object.keys(sample)).toEqual(["time", "cpuPercent", "memory", "loadAverage", "os", "eventLoopDelay", "app"]);
      for (const figure of Object.values(sample.app)) expect(figure).toBeGreaterThanOrEqual(0);
      expect(sample.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(sample.memory.rss).toBeGreaterThan(sample.memory.heapUsed);
      expect(sample.memory.heapTotal).toBeGreaterThanOrEqual(sample.memory.heapUsed);
      expect(sample.loadAverage).toHaveLength(3);
      expect(sample.os.totalMemory).toBe(os.totalmem());
      expect(sample.os.freeMemory).toBeGreaterThan(0);
      expect(sample.os.freeMemory).toBeLessThanOrEqual(sample.os.totalMemory);
      expect(sample.eventLoopDelay.p99).toBeGreaterThanOrEqual(sample.eventLoopDelay.p50);
      expect(sample.eventLoopDelay.max).toBeGreaterThanOrEqual(sample.eventLoopDelay.p99);
    }
  });

  it("the app's own figures grow with its traffic, and Prometheus reads them at /prometheus", async () => {
    // Samples taken from now on (no backfill): this very stream is open and is sent events.
    const head = await app.broker.lastId("metrics");
    const fresh = await client.sse("/metrics", { lastEventId: head, maxEvents: 3 });
    const samples = fresh.events.map((e) => JSON.parse(e.data) as MetricsSample);
    expect(samples[2]!.app.openStreams).toBeGreaterThanOrEqual(1);
    expect(samples[2]!.app.httpRequests).toBeGreaterThanOrEqual(1);
    expect(samples[2]!.app.eventsSent).toBeGreaterThan(samples[0]!.app.eventsSent);
    expect(samples[2]!.app.bytesSent).toBeGreaterThan(samples[0]!.app.bytesSent);
    const res = await client.get("/prometheus");
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^cello_sse_streams_opened_total\{route="\/metrics"\} \d+$/m);
    expect(res.text).toMatch(/^cello_http_requests_total\{method="GET",route="\/metrics",status="200"\} \d+$/m);
  });

  it("GET /api/metrics returns the latest sample", async () => {
    const res = await client.get("/api/metrics");
    expect(res.status).toBe(200);
    expect(res.json.memory.rss).toBeGreaterThan(0);
  });

  it("a new client gets the last `backfill` samples at once; a reconnecting one resumes after its Last-Event-ID", async () => {
    // A pace that never fires during the test: the only events are the ones published here.
    const quiet = createDashboardApp({ intervalMs: 60_000, backfill: 3 });
    const quietClient = await TestClient.start(quiet);
    try {
      const before = await quietClient.get("/api/metrics");
      expect(before.status).toBe(503);
      expect(before.headers["retry-after"]).toBe("60");
      expect(before.json).toEqual({ error: "No sample yet", status: 503 });

      const channel = quiet.channel("metrics");
      for (let i = 1; i <= 8; i++) await channel.publish({ n: i }, { event: "metrics" });
      const fresh = await quietClient.sse("/metrics", { maxEvents: 3 });
      expect(fresh.events.map((e) => [e.id, e.data])).toEqual([
        ["6", '{"n":6}'],
        ["7", '{"n":7}'],
        ["8", '{"n":8}'],
      ]);
      const resumed = await quietClient.sse("/metrics", { lastEventId: "2", maxEvents: 6 });
      expect(resumed.events.map((e) => e.id)).toEqual(["3", "4", "5", "6", "7", "8"]);
    } finally {
      await quietClient.close();
    }
  });

  it("stops sampling when the app shuts down", async () => {
    const own = createDashboardApp({ intervalMs: 10 });
    const ownClient = await TestClient.start(own);
    await ownClient.sse("/metrics", { maxEvents: 2 });
    await ownClient.close();
    const lastAtClose = await own.broker.lastId("metrics");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await own.broker.lastId("metrics")).toBe(lastAtClose);
  });

  it("starts with `npx tsx examples/dashboard.ts` and streams samples", async () => {
    const demo = await startDemo("dashboard.ts", { DASHBOARD_INTERVAL_MS: "50" });
    try {
      const text = await readStreamUntil(`${demo.url}/metrics`, (t) => /event: metrics\ndata: .*\n\n/.test(t));
      expect(text).toMatch(/id: \d+\nevent: metrics\ndata: \{"time":\d+,"cpuPercent":[\d.]+,"memory":\{"rss":\d+.*"app":\{"openStreams":\d+,/);
      // --port 0 listens on a random port: the demo prints that address and no other.
      expect(demo.printedOrigins()).toEqual([demo.url]);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});
