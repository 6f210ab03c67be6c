/**
 * The metrics plugin over real sockets: known traffic in, `/metrics` scraped with
 * undici and parsed by an independent parser (parse-prometheus-text-format), the
 * figures compared with what the clients themselves received.
 */
// @ts-expect-error: the parser ships no types (a small, independent implementation of the text format).
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { Counter, Registry } from "prom-client";
import { Agent, fetch, request as undiciRequest } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "../../app.js";
import { Response } from "../../response.js";
import { rawSse, sleep } from "../../sse/raw-client.test-support.js";
import { SseStream } from "../../sse/stream.js";
import { silentLogger as silentLoggerForTests } from "../../logger.js";
import { celloErrorOf } from "../../testing.js";

interface Sample {
  labels?: Record<string, string>;
  value: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close({ graceMs: 500 })));
});

async function start(app: App): Promise<string> {
  apps.push(app);
  const { url } = await app.listen({ port: 0 });
  return url;
}

/**
 * Parse the exposition with the independent parser. It folds a histogram's samples into one
 * only when the histogram has no labels, so histograms are read as untyped: each `_bucket`,
 * `_sum` and `_count` line is then parsed as its own sample, labels and all.
 */
function parse(text: string): Map<string, Family> {
  const families = parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped")) as Family[];
  const byName = new Map<string, Family>();
  for (const family of families) {
    const seen = byName.get(family.name);
    if (seen) seen.metrics.push(...family.metrics);
    else byName.set(family.name, family);
  }
  return byName;
}

/** GET /metrics over a real socket, parsed by the independent parser. */
async function scrape(url: string, path = "/metrics"): Promise<Map<string, Family>> {
  const response = await fetch(`${url}${path}`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return parse(await response.text());
}

/** The value of the one sample of `name` whose labels include `labels` (undefined when there is none). */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (sample === undefined) return undefined;
  return Number(sample.value);
}

describe("app.enableMetrics()", () => {
  it("counts exactly what N events to M clients put on the wire: streams, events, bytes, publishes, latency", async () => {
    const app = new App({ sse: { heartbeatMs: 0 }, logger: silentLoggerForTests });
    const ticks = app.channel("ticks");
    app.get("/ticks/{room}", (req) => ticks.subscribe(req));
    app.enableMetrics();
    const url = await start(app);
    const M = 5;
    const N = 20;
    // undici clients: the decoded body bytes are exactly the SSE bytes the server wrote.
    const dispatcher = new Agent({ connections: M * 2 });
    const clients = await Promise.all(
      Array.from({ length: M }, async (_, i) => {
        const controller = new AbortController();
        const response = await undiciRequest(`${url}/ticks/room-${i}`, { dispatcher, signal: controller.signal });
        let received = "";
        let bytes = 0;
        const waiters = new Set<() => void>();
        response.body.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          received += chunk.toString("utf8");
          for (const w of waiters) w();
        });
        response.body.on("error", () => {});
        const until = (predicate: () => boolean) =>
          new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`timed out with ${JSON.stringify(received.slice(-200))}`)), 10_000);
            const check = () => {
              if (!predicate()) return;
              clearTimeout(timer);
              waiters.delete(check);
              resolve();
            };
            waiters.add(check);
            check();
          });
        return { controller, until, text: () => received, bytes: () => bytes };
      }),
    );
    await Promise.all(clients.map((c) => c.until(() => c.text().includes(": ok"))));
    let families = await scrape(url);
    expect(value(families, "cello_sse_streams_open", { route: "/ticks/{room}" })).toBe(M);

    for (let i = 1; i <= N; i++) await ticks.publish({ n: i }, { event: "tick" });
    await Promise.all(clients.map((c) => c.until(() => c.text().includes(`id: ${N}\n`))));
    await sleep(20);

    families = await scrape(url);
    const route = { route: "/ticks/{room}" };
    expect(value(families, "cello_sse_streams_open", route)).toBe(M);
    expect(value(families, "cello_sse_streams_opened_total", route)).toBe(M);
    expect(value(families, "cello_sse_events_sent_total", route)).toBe(N * M);
    const receivedBytes = clients.reduce((sum, c) => sum + c.bytes(), 0);
    expect(value(families, "cello_sse_bytes_sent_total", route)).toBe(receivedBytes);
    expect(value(families, "cello_channel_publishes_total")).toBe(N);
    expect(value(families, "cello_channel_deliveries_total")).toBe(N);
    expect(value(families, "cello_channel_publish_to_flush_seconds_count")).toBe(N);
    expect(value(families, "cello_channel_publish_to_flush_seconds_sum")).toBeGreaterThan(0);
    expect(value(families, "cello_channel_publish_to_flush_seconds_sum")).toBeLessThan(N * 1); // each well under a second
    expect(value(families, "cello_channel_publish_to_flush_seconds_bucket", { le: "+Inf" })).toBe(N);
    expect(value(families, "cello_http_requests_total", { method: "GET", ...route, status: "200" })).toBe(M);
    expect(value(families, "cello_http_request_duration_seconds_count", { method: "GET", ...route, status: "200" })).toBe(M);
    expect(value(families, "cello_broker_connected")).toBe(1);
    // prom-client's own process metrics come along, under the same prefix.
    expect(families.has("cello_process_cpu_user_seconds_total")).toBe(true);

    for (const c of clients) c.controller.abort();
    await dispatcher.close().catch(() => {});
    const deadline = Date.now() + 5000;
    while (app.openStreams > 0 && Date.now() < deadline) await sleep(10);
    await sleep(20);
    families = await scrape(url);
    expect(value(families, "cello_sse_streams_open", route)).toBe(0);
    expect(value(families, "cello_sse_streams_closed_total", { ...route, reason: "client" })).toBe(M);
  }, 30_000);

  it("labels 10k distinct ids on /users/{id} as one series, every unmatched path as one, foreign methods as OTHER", async () => {
    const app = new App({ logger: silentLoggerForTests });
    app.get("/users/{id}", (req) => ({ id: req.params.id }));
    app.enableMetrics();
    const url = await start(app);
    const dispatcher = new Agent({ connections: 16, pipelining: 1 });
    const ids = Array.from({ length: 10_000 }, (_, i) => `user-${i}-${Math.random().toString(36).slice(2)}`);
    for (let i = 0; i < ids.length; i += 200) {
      await Promise.all(
        ids.slice(i, i + 200).map(async (id) => {
          const { statusCode, body } = await undiciRequest(`${url}/users/${id}`, { dispatcher });
          await body.dump();
          expect(statusCode).toBe(200);
        }),
      );
    }
    for (let i = 0; i < 50; i++) {
      const { statusCode, body } = await undiciRequest(`${url}/nowhere/${i}?q=${i}`, { dispatcher });
      await body.dump();
      expect(statusCode).toBe(404);
    }
    const propfind = await undiciRequest(`${url}/users/1`, { method: "PROPFIND", dispatcher });
    await propfind.body.dump();
    expect(propfind.statusCode).toBe(405);
    await dispatcher.close();

    const response = await fetch(`${url}/metrics`);
    const text = await response.text();
    expect(text).not.toContain("user-");
    expect(text).not.toContain("nowhere");
    const families = parse(text);
    const requests = families.get("cello_http_requests_total")!.metrics;
    expect(requests.map((m) => m.labels)).toEqual(
      expect.arrayContaining([
        { method: "GET", route: "/users/{id}", status: "200" },
        { method: "GET", route: "unmatched", status: "404" },
        { method: "OTHER", route: "unmatched", status: "405" },
      ]),
    );
    // The scrape itself is the only other series.
    expect(requests).toHaveLength(3);
    expect(value(families, "cello_http_requests_total", { route: "/users/{id}" })).toBe(10_000);
    expect(value(families, "cello_http_requests_total", { route: "unmatched", status: "404" })).toBe(50);
    expect(families.get("cello_http_request_duration_seconds_count")!.metrics).toHaveLength(3);
    expect(families.get("cello_http_request_duration_seconds_bucket")!.metrics).toHaveLength(3 * 12);
    expect(value(families, "cello_http_request_duration_seconds_count", { route: "/users/{id}" })).toBe(10_000);
    expect(value(families, "cello_http_request_duration_seconds_bucket", { route: "/users/{id}", le: "+Inf" })).toBe(10_000);
    // Cumulative buckets, in order of their bounds.
    const buckets = families.get("cello_http_request_duration_seconds_bucket")!.metrics.filter((m) => m.labels?.route === "/users/{id}");
    expect(buckets.map((m) => m.labels?.le)).toEqual(["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]);
    const counts = buckets.map((m) => Number(m.value));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
  }, 120_000);

  it("counts closes by their reason (overflow, shutdown, lifetime), drops, heartbeats, replays and resets", async () => {
    const app = new App({ logger: silentLoggerForTests });
    const registry = new Registry();
    const news = app.channel("news", { history: 5 });
    app.get("/news", (req) => news.subscribe(req));
    // A client that never reads is cut past 16 KiB.
    app.get("/firehose", () => {
      const stream = new SseStream();
      const timer = setInterval(() => {
        for (let i = 0; i < 50; i++) stream.addData("x".repeat(1000));
      }, 5);
      stream.onClose(() => clearInterval(timer));
      return Response.sse(stream, { bufferLimit: 16 * 1024, overflow: "close", writeTimeoutMs: 0 });
    }, { sse: { heartbeatMs: 0 } });
    app.get("/lossy", () => {
      const stream = new SseStream();
      const timer = setInterval(() => {
        for (let i = 0; i < 50; i++) stream.addData("y".repeat(1000));
      }, 5);
      stream.onClose(() => clearInterval(timer));
      return Response.sse(stream, { bufferLimit: 16 * 1024, overflow: "drop-oldest", writeTimeoutMs: 0 });
    }, { sse: { heartbeatMs: 0 } });
    app.get("/quiet", () => new SseStream(), { sse: { heartbeatMs: 30 } });
    app.get("/brief", () => new SseStream(), { sse: { maxLifetimeMs: 200, lifetimeJitter: 0 } });
    app.enableMetrics({ registry });
    const url = await start(app);
    const port = Number(new URL(url).port);

    for (let i = 1; i <= 8; i++) await news.publish(`n${i}`);
    // Resumes from 5: events 6, 7 and 8 replayed. From 1: trimmed (history 5), so a reset.
    const resumed = await rawSse(port, "/news", { headers: { "Last-Event-ID": "5" } });
    await resumed.until((t) => t.includes("data: n8"));
    const reset = await rawSse(port, "/news", { headers: { "Last-Event-ID": "1" } });
    await reset.until((t) => t.includes("event: reset"));

    // A stream its maximum lifetime ended counts under "lifetime".
    const brief = await rawSse(port, "/brief");
    await brief.closed;
    expect(brief.body()).toContain(": lifetime\n\n");
    const lifetimeClosed = async () => value(await scrape(url), "cello_sse_streams_closed_total", { route: "/brief", reason: "lifetime" });
    for (let i = 0; i < 100 && (await lifetimeClosed()) !== 1; i++) await sleep(20);
    expect(await lifetimeClosed()).toBe(1);

    const stalled = await rawSse(port, "/firehose", { read: false });
    const lossy = await rawSse(port, "/lossy", { read: false });
    const quiet = await rawSse(port, "/quiet");
    await quiet.until((t) => (t.match(/^:\n/gm) ?? []).length >= 3);
    // A paused client never sees its socket close: wait for the server's verdicts in the metrics.
    const deadline = Date.now() + 15_000;
    let families = await scrape(url);
    const judged = () =>
      (value(families, "cello_sse_events_dropped_total", { route: "/lossy" }) ?? 0) > 0 &&
      value(families, "cello_sse_streams_closed_total", { route: "/firehose", reason: "overflow" }) === 1;
    while (!judged() && Date.now() < deadline) {
      await sleep(50);
      families = await scrape(url);
    }
    expect(value(families, "cello_sse_streams_closed_total", { route: "/firehose", reason: "overflow" })).toBe(1);
    expect(value(families, "cello_sse_events_dropped_total", { route: "/lossy" })).toBeGreaterThan(0);
    expect(value(families, "cello_sse_heartbeats_total", { route: "/quiet" })).toBeGreaterThanOrEqual(3);
    expect(value(families, "cello_channel_replays_total")).toBe(1);
    expect(value(families, "cello_channel_replayed_events_total")).toBe(3);
    expect(value(families, "cello_channel_resets_total")).toBe(1);

    stalled.socket.destroy();
    lossy.socket.destroy();
    for (let i = 0; i < 500 && app.openStreams > 3; i++) await sleep(10);
    expect(app.openStreams).toBe(3);
    await app.close({ graceMs: 500 });
    apps.splice(apps.indexOf(app), 1);
    for (const c of [resumed, reset, quiet]) await c.closed;
    // Streams the shutdown ended count under that reason (read from the registry after the server stopped).
    const after = parse(await registry.metrics());
    expect(value(after, "cello_sse_streams_closed_total", { route: "/quiet", reason: "shutdown" })).toBe(1);
    expect(value(after, "cello_sse_streams_closed_total", { route: "/news", reason: "shutdown" })).toBe(2);
    expect(value(after, "cello_sse_streams_closed_total", { route: "/lossy", reason: "client" })).toBe(1);
    expect(value(after, "cello_sse_streams_open", { route: "/news" })).toBe(0);
  }, 30_000);

  it("serves your own registry, counts only its own app, and stops listening when the app closes", async () => {
    const registry = new Registry();
    const signups = new Counter({ name: "signups_total", help: "Signups.", registers: [registry] });
    signups.inc(3);
    const counted = new App({ logger: silentLoggerForTests });
    counted.get("/a", () => "a");
    counted.enableMetrics({ registry, path: "/internal/metrics", prefix: "shop_" });
    const other = new App({ logger: silentLoggerForTests });
    other.get("/a", () => "a");
    const url = await start(counted);
    const otherUrl = await start(other);
    await (await fetch(`${url}/a`)).text();
    for (let i = 0; i < 5; i++) await (await fetch(`${otherUrl}/a`)).text();
    const families = await scrape(url, "/internal/metrics");
    expect(value(families, "signups_total")).toBe(3);
    expect(value(families, "shop_http_requests_total", { route: "/a" })).toBe(1);
    // Your registry: prom-client's process metrics are yours to add.
    expect(families.has("shop_process_cpu_user_seconds_total")).toBe(false);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });

  it("costs nothing once the app closed: no subscriber is left on the diagnostics channels", async () => {
    const diagnostics = await import("node:diagnostics_channel");
    const app = new App({ logger: silentLoggerForTests });
    app.enableMetrics();
    await start(app);
    expect(diagnostics.channel("cello:http.response").hasSubscribers).toBe(true);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    expect(diagnostics.channel("cello:http.response").hasSubscribers).toBe(false);
    expect(diagnostics.channel("cello:sse.write").hasSubscribers).toBe(false);
  });

  it("refuses bad options at setup with CELLO_INVALID_OPTION", async () => {
    const app = new App();
    expect(celloErrorOf(() => app.enableMetrics({ path: "metrics" })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableMetrics({ prefix: "bad-prefix" })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableMetrics({ httpBuckets: [] })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableMetrics({ latencyBuckets: [0.1, -1] })).code).toBe("CELLO_INVALID_OPTION");
    const registry = new Registry();
    const shared = new App();
    shared.enableMetrics({ registry, path: false });
    // The same series twice in one registry: said at setup, with the fix.
    const err = celloErrorOf(() => new App().enableMetrics({ registry, path: false }));
    expect(err.code).toBe("CELLO_INVALID_OPTION");
    expect(err.message).toContain("prefix");
    await shared.close();
    // Enabled twice on one app: the second call fails on its route, before it listens to anything.
    const twice = new App();
    twice.enableMetrics();
    expect(celloErrorOf(() => twice.enableMetrics()).code).toBe("CELLO_DUPLICATE_ROUTE");
    await twice.close();
    const diagnostics = await import("node:diagnostics_channel");
    expect(diagnostics.channel("cello:http.response").hasSubscribers).toBe(false);
  });
});
