import { TestClient } from "@cellojs/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { app, hub } from "./app.js";

// A real server on a free port, and a real HTTP client: what a browser sees.
let client: TestClient;

beforeAll(async () => {
  client = await TestClient.start(app);
});

afterAll(async () => {
  await client.close();
});

const METRIC_FIELDS = ["time", "cpuPercent", "rssMb", "heapUsedMb", "heapTotalMb", "eventLoopDelayMs", "clients"];

test("GET / serves the dashboard page, self-contained", async () => {
  const res = await client.get("/");
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^text\/html/);
  expect(res.text).toContain("<canvas");
  expect(res.text).toContain('new EventSource("/events")');
  // Nothing loaded from another origin: the page works offline.
  expect(res.text).not.toMatch(/\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
  expect(res.text).not.toMatch(/@import|url\(/i);
});

test("GET /api/metrics answers a JSON snapshot", async () => {
  const res = await client.get("/api/metrics");
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  expect(Object.keys(res.json).sort()).toEqual([...METRIC_FIELDS].sort());
  expect(res.json.rssMb).toBeGreaterThan(0);
  expect(res.json.heapUsedMb).toBeGreaterThan(0);
});

test("GET /events pushes metrics events", async () => {
  const sse = await client.sse("/events", { maxEvents: 2 });
  expect(sse.status).toBe(200);
  expect(sse.headers["content-type"]).toMatch(/^text\/event-stream/);
  expect(sse.events.map((event) => event.event)).toEqual(["metrics", "metrics"]);
  const [first, second] = sse.events.map((event) => JSON.parse(event.data));
  for (const metrics of [first, second]) {
    expect(Object.keys(metrics).sort()).toEqual([...METRIC_FIELDS].sort());
    for (const field of METRIC_FIELDS) expect(Number.isFinite(metrics[field])).toBe(true);
    expect(metrics.clients).toBe(1);
  }
  expect(second.time).toBeGreaterThan(first.time);
});

test("the sampling timer stops when the last client leaves", async () => {
  await client.sse("/events", { maxEvents: 1 });
  // The server notices the disconnect asynchronously; wait (bounded) until it has.
  for (let i = 0; i < 100 && hub.clients > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(hub.clients).toBe(0);
});
