/**
 * Metrics plugin (`app.enableMetrics()`, Cello's `enable_prometheus`): serves
 * `/metrics` in the Prometheus text format with prom-client. It reads the
 * framework's diagnostics channels (diagnostics.ts) and the public app API;
 * the engine and the channels know nothing of it.
 */
import { createRequire } from "node:module";
import type * as PromClient from "prom-client";
import type { Plugin } from "../../app.js";
import { CelloError } from "../../errors.js";
import { Response } from "../../response.js";
import { MetricSeries } from "./series.js";

/**
 * A Prometheus registry: prom-client's `Registry` fits. Typed by shape, so this
 * package's declarations do not need prom-client installed.
 */
export interface MetricsRegistry {
  /** The exposition text of every registered metric. */
  metrics(): Promise<string>;
  /** The Content-Type of that text. */
  readonly contentType: string;
  /** Register a metric (prom-client calls it for `registers: [registry]`). */
  registerMetric(metric: never): void;
}

/** Options of `app.enableMetrics(options)`. */
export interface MetricsOptions {
  /**
   * Where the exposition is served (GET). Default `"/metrics"`; `false` serves nothing
   * (pass your own `registry` and expose it yourself).
   */
  path?: string | false;
  /**
   * The prom-client `Registry` the series are registered in: yours, to serve them with
   * your own metrics. Default: a new Registry for this app. prom-client must be the
   * same installation the app resolves (it is a peer dependency of @cellojs/core).
   */
  registry?: MetricsRegistry;
  /** Prefix of every series name. Default `"cello_"`. */
  prefix?: string;
  /**
   * Also collect prom-client's default process metrics (CPU, memory, event loop lag, GC)
   * into the registry. Default: true for the registry the plugin makes, false for yours
   * (it may collect them already: registering them twice throws).
   */
  defaultMetrics?: boolean;
  /** Buckets (seconds) of `cello_http_request_duration_seconds`. Default prom-client's: 0.005 to 10. */
  httpBuckets?: number[];
  /** Buckets (seconds) of `cello_channel_publish_to_flush_seconds`. Default 0.0001 to 1. */
  latencyBuckets?: number[];
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** prom-client, loaded when metrics are enabled (an optional peer dependency: apps without metrics never load it). */
function loadPromClient(): typeof PromClient {
  try {
    return createRequire(import.meta.url)("prom-client") as typeof PromClient;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
    throw new CelloError("CELLO_MISSING_DEPENDENCY", "app.enableMetrics() needs prom-client: install it next to @cellojs/core (npm install prom-client@15)", { cause: err });
  }
}

/**
 * The metrics plugin. `app.enableMetrics(options)` is `app.use(metrics(options))`.
 * Labels never carry what a request sent: routes are their templates (`/users/{id}`;
 * `unmatched` for 404/405), methods outside the standard seven are `OTHER`, channel
 * names are not labels (they may come from requests). Options are checked here
 * (`CELLO_INVALID_OPTION`); prom-client missing is `CELLO_MISSING_DEPENDENCY`.
 * @example
 * app.enableMetrics(); // GET /metrics
 * // with your own metrics:
 * import { Registry, Counter } from "prom-client";
 * const registry = new Registry();
 * const signups = new Counter({ name: "signups_total", help: "Signups.", registers: [registry] });
 * app.enableMetrics({ registry });
 */
export function metrics(options: MetricsOptions = {}): Plugin {
  const path = options.path ?? "/metrics";
  if (path !== false && (typeof path !== "string" || !path.startsWith("/"))) {
    throw new CelloError("CELLO_INVALID_OPTION", `enableMetrics path must be a path starting with "/" or false, got ${JSON.stringify(path)}`);
  }
  const prefix = options.prefix ?? "cello_";
  if (typeof prefix !== "string" || !/^[a-zA-Z_:]?[a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new CelloError("CELLO_INVALID_OPTION", `enableMetrics prefix must match [a-zA-Z_:][a-zA-Z0-9_:]* (a Prometheus name), got ${JSON.stringify(prefix)}`);
  }
  for (const key of ["httpBuckets", "latencyBuckets"] as const) {
    const buckets = options[key];
    if (buckets !== undefined && (!Array.isArray(buckets) || buckets.length === 0 || buckets.some((b) => typeof b !== "number" || !(b > 0)))) {
      throw new CelloError("CELLO_INVALID_OPTION", `enableMetrics ${key} must be a non-empty list of positive numbers (seconds)`);
    }
  }
  const client = loadPromClient();
  return (app) => {
    const registry = (options.registry ?? new client.Registry()) as PromClient.Registry;
    let series: MetricSeries;
    try {
      series = new MetricSeries(client, {
        prefix,
        registry,
        httpBuckets: options.httpBuckets ?? HTTP_BUCKETS,
        latencyBuckets: options.latencyBuckets ?? LATENCY_BUCKETS,
        app,
        broker: app.broker,
      });
      if (options.defaultMetrics ?? options.registry === undefined) client.collectDefaultMetrics({ register: registry, prefix });
    } catch (err) {
      throw new CelloError("CELLO_INVALID_OPTION", `enableMetrics could not register its series (${(err as Error).message}): enable metrics once per registry, or give each app its own prefix`, { cause: err });
    }
    // The route first: a path taken already (metrics enabled twice) throws before anything listens.
    if (path !== false) {
      app.get(path, async () => Response.text(await registry.metrics(), { headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store" } }));
    }
    series.start();
    app.onEvent("shutdown", () => series.stop());
  };
}
