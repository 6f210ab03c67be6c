/**
 * Dashboard: this process's real metrics, sampled every second and published
 * through a channel; the page at `/` draws them as live line charts on a
 * <canvas>, by hand (no chart library, nothing loaded from outside).
 *
 * Run:   npx tsx examples/dashboard.ts
 * Try:   open http://127.0.0.1:8000/
 *        curl -N http://127.0.0.1:8000/metrics
 *
 * Metrics: CPU use of this process since the previous sample (process.cpuUsage
 * delta, as % of one core), memory (rss, heap), OS load average and free
 * memory, event-loop delay (perf_hooks.monitorEventLoopDelay), and the app's
 * own figures from `app.enableMetrics()`: open streams, events and bytes sent,
 * HTTP requests (also served to Prometheus at `/prometheus`).
 */
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { App, Response } from "@cellojs/core";
import { Registry } from "prom-client";
import { dashboardPage } from "./dashboard_page.js";
import { isMain } from "./main.js";

/** One sample, the `data` of a `metrics` event. Memory in bytes, times in milliseconds. */
export interface MetricsSample {
  /** Milliseconds since the epoch. */
  time: number;
  /** CPU time (user + system) this process used since the previous sample, as % of one core's wall time. Above 100 means more than one core. */
  cpuPercent: number;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number };
  /** 1, 5 and 15 minute load averages (zeros on Windows). */
  loadAverage: [number, number, number];
  os: { freeMemory: number; totalMemory: number; cpus: number };
  /** Event-loop delay since the previous sample: how late timers ran. */
  eventLoopDelay: { mean: number; p50: number; p99: number; max: number };
  /** This app's own figures, read from its `enableMetrics()` registry: totals since it started. */
  app: { openStreams: number; eventsSent: number; bytesSent: number; httpRequests: number };
}

/** Options of {@link createDashboardApp}. */
export interface DashboardOptions {
  /** Milliseconds between samples. Default `DASHBOARD_INTERVAL_MS` or 1000. */
  intervalMs?: number;
  /** Samples a new client gets at once, so its chart is not empty. Default 60. */
  backfill?: number;
}

/**
 * Build the dashboard app: `GET /` (the page), `GET /metrics` (SSE of `metrics` events),
 * `GET /api/metrics` (the latest sample as JSON).
 * @param options - `intervalMs` (default 1000), `backfill` (default 60).
 * @example
 * const app = createDashboardApp({ intervalMs: 250 });
 * await app.listen({ port: 0 });
 */
export function createDashboardApp(options: DashboardOptions = {}): App {
  const intervalMs = options.intervalMs ?? (Number(process.env.DASHBOARD_INTERVAL_MS) || 1000);
  const backfill = options.backfill ?? 60;
  const app = new App();
  app.enableCors();
  // The app's own metrics: served to Prometheus, and read into every sample.
  const registry = new Registry();
  app.enableMetrics({ registry, path: "/prometheus" });
  // Five minutes of samples at the default pace.
  const metrics = app.channel("metrics", { history: 300 });
  const sampler = createSampler();
  let latest: MetricsSample | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  app.onEvent("startup", () => {
    sampler.start();
    timer = setInterval(() => {
      const sample = sampler.sample();
      void appFigures(registry).then((figures) => {
        if (stopped) return;
        latest = { ...sample, app: figures };
        void metrics.publish(latest, { event: "metrics" });
      });
    }, intervalMs);
  });
  app.onEvent("draining", () => {
    stopped = true;
    clearInterval(timer);
    sampler.stop();
  });

  app.get("/", () => Response.html(dashboardPage(intervalMs)));
  // Not an error, just too early (the first sample comes one interval after startup): answered, not thrown, so nothing is logged.
  app.get("/api/metrics", () =>
    latest ?? Response.json({ error: "No sample yet", status: 503 }, { status: 503, headers: { "Retry-After": String(Math.ceil(intervalMs / 1000)) } }),
  );
  app.get("/metrics", async (request) => {
    // A reconnecting browser sends Last-Event-ID and resumes from it; a new
    // client starts `backfill` samples back instead. The in-memory broker
    // numbers events 1, 2, 3..., so "n samples back" is an id.
    const resuming = request.getHeader("last-event-id") !== undefined || request.query.lastEventId !== undefined;
    const newest = resuming ? undefined : await app.broker.lastId(metrics.name);
    const start = newest === undefined ? undefined : String(Math.max(0, Number(newest) - backfill));
    return metrics.subscribe(request, start === undefined ? {} : { lastEventId: start });
  });
  return app;
}

/** Reads the process's and OS's numbers; each `sample()` covers the time since the previous one. */
function createSampler() {
  const resolutionMs = 10;
  const loopDelay = monitorEventLoopDelay({ resolution: resolutionMs });
  let lastCpu = process.cpuUsage();
  let lastTime = process.hrtime.bigint();
  // The histogram records the time between its timer's runs, so an idle loop reads
  // about `resolution` ms (measured: mean 10.2 ms at resolution 10): the delay is what exceeds it.
  const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - resolutionMs) * 100) / 100);
  return {
    start() {
      lastCpu = process.cpuUsage();
      lastTime = process.hrtime.bigint();
      loopDelay.enable();
    },
    stop() {
      loopDelay.disable();
    },
    sample(): Omit<MetricsSample, "app"> {
      const now = process.hrtime.bigint();
      const cpu = process.cpuUsage(lastCpu);
      const elapsedMicros = Number(now - lastTime) / 1000;
      lastCpu = process.cpuUsage();
      lastTime = now;
      const memory = process.memoryUsage();
      const [one, five, fifteen] = os.loadavg() as [number, number, number];
      // Before the histogram's first sample its numbers are NaN or huge: report zeros.
      const measured = loopDelay.count > 0;
      const sample: Omit<MetricsSample, "app"> = {
        time: Date.now(),
        cpuPercent: elapsedMicros > 0 ? Math.round(((cpu.user + cpu.system) / elapsedMicros) * 1000) / 10 : 0,
        memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external },
        loadAverage: [round2(one), round2(five), round2(fifteen)],
        os: { freeMemory: os.freemem(), totalMemory: os.totalmem(), cpus: os.availableParallelism() },
        eventLoopDelay: measured
          ? { mean: ms(loopDelay.mean), p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) }
          : { mean: 0, p50: 0, p99: 0, max: 0 },
      };
      loopDelay.reset();
      return sample;
    },
  };
}

/** Totals of the app's own series, summed over their labels (routes, statuses). */
async function appFigures(registry: Registry): Promise<MetricsSample["app"]> {
  const total = async (name: string) => {
    const metric = registry.getSingleMetric(name);
    const values = metric ? (await metric.get()).values : [];
    return values.reduce((sum, value) => sum + value.value, 0);
  };
  return {
    openStreams: await total("cello_sse_streams_open"),
    eventsSent: await total("cello_sse_events_sent_total"),
    bytesSent: await total("cello_sse_bytes_sent_total"),
    httpRequests: await total("cello_http_requests_total"),
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The app `npx tsx examples/dashboard.ts` runs. */
export const app = createDashboardApp();

if (isMain(import.meta.url)) {
  app.enableLogging();
  await app.run();
}
