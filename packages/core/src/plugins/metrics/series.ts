/**
 * The series the metrics plugin exports, fed from the framework's diagnostics
 * channels (diagnostics.ts). SSE and channel figures are kept as plain numbers
 * per route and handed to prom-client when it is scraped (`collect()`), so a
 * write to a client costs a Map lookup and two additions, not a label hash.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import type * as PromClient from "prom-client";
import type { ChannelBroker } from "../../channels/broker.js";
import {
  DIAGNOSTICS_CHANNELS,
  type ChannelDeliverMessage,
  type ChannelPublishMessage,
  type ChannelReplayMessage,
  type ChannelResetMessage,
  type HttpResponseMessage,
  type SseCloseMessage,
  type SseDropMessage,
  type SseHeartbeatMessage,
  type SseOpenMessage,
  type SseWriteMessage,
} from "../../diagnostics.js";

/** The route label of a request no route matched (404, 405, an onRequest hook's answer): one series for all of them. */
export const UNMATCHED_ROUTE = "unmatched";

/** Methods that get their own label value; any other (WebDAV's PROPFIND, ...) is `OTHER`, so clients cannot add series. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Per-route SSE figures, as plain numbers. */
interface StreamFigures {
  open: number;
  opened: number;
  events: number;
  bytes: number;
  dropped: number;
  heartbeats: number;
  closed: Map<string, number>;
}

/** What {@link MetricSeries} needs. */
export interface SeriesOptions {
  prefix: string;
  registry: PromClient.Registry;
  httpBuckets: number[];
  latencyBuckets: number[];
  /** The app whose messages count (channels are process-wide). */
  app: object;
  broker: ChannelBroker;
}

/** One (route, method, status)'s requests: a histogram kept as plain numbers (prom-client's children hash their labels on every call). */
interface HttpFigures {
  readonly labels: Readonly<Record<"method" | "route" | "status", string>>;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative), the last one past every bound (+Inf). */
  readonly buckets: number[];
}

/** One app's metrics: subscribes to the diagnostics channels while `start()`ed. */
export class MetricSeries {
  readonly #app: object;
  readonly #streams = new Map<string, StreamFigures>();
  /** route -> method -> status -> figures: three Map lookups per request, no string built. */
  readonly #http = new Map<string, Map<string, Map<number, HttpFigures>>>();
  /** Every HttpFigures, for the scrape. */
  readonly #httpAll: HttpFigures[] = [];
  readonly #httpBounds: number[];
  readonly #publishToFlush: PromClient.Histogram<string>;
  #publishes = 0;
  #deliveries = 0;
  #replays = 0;
  #replayedEvents = 0;
  #resets = 0;
  readonly #subscriptions: Array<[string, (message: unknown) => void]>;

  constructor(client: typeof PromClient, options: SeriesOptions) {
    const { prefix, registry } = options;
    const registers = [registry];
    this.#app = options.app;
    const streams = this.#streams;
    // Route-labelled counters read from the per-route figures at scrape time.
    const perRoute = (name: string, help: string, read: (figures: StreamFigures) => number, gauge = false) => {
      const collect = function (this: PromClient.Counter<"route"> | PromClient.Gauge<"route">) {
        this.reset();
        for (const [route, figures] of streams) {
          if (gauge) (this as PromClient.Gauge<"route">).set({ route }, read(figures));
          else (this as PromClient.Counter<"route">).inc({ route }, read(figures));
        }
      };
      if (gauge) new client.Gauge({ name: prefix + name, help, labelNames: ["route"], registers, collect });
      else new client.Counter({ name: prefix + name, help, labelNames: ["route"], registers, collect });
    };
    const total = (name: string, help: string, read: () => number) => {
      new client.Counter({
        name: prefix + name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };

    const http = this.#httpAll;
    const bounds = (this.#httpBounds = [...options.httpBuckets].sort((a, b) => a - b));
    new client.Counter({
      name: `${prefix}http_requests_total`,
      help: "HTTP responses written, by method, route template and status (an SSE response counts when its head is written).",
      labelNames: ["method", "route", "status"],
      registers,
      collect() {
        this.reset();
        for (const figures of http) this.inc(figures.labels, figures.count);
      },
    });
    registry.registerMetric(httpHistogram(`${prefix}http_request_duration_seconds`, "From a request's arrival to its response handed to the socket (SSE: its head).", bounds, http) as never);
    perRoute("sse_streams_open", "SSE streams open now, by route template.", (f) => f.open, true);
    perRoute("sse_streams_opened_total", "SSE streams opened, by route template.", (f) => f.opened);
    new client.Counter({
      name: `${prefix}sse_streams_closed_total`,
      help: 'SSE streams closed, by route template and reason ("end", "client", "overflow", "write-timeout", "heartbeat", "shutdown", "error", "lifetime", ...).',
      labelNames: ["route", "reason"],
      registers,
      collect() {
        this.reset();
        for (const [route, figures] of streams) for (const [reason, count] of figures.closed) this.inc({ route, reason }, count);
      },
    });
    perRoute("sse_events_sent_total", "SSE events written to clients' sockets (one per event per client), by route template.", (f) => f.events);
    perRoute("sse_bytes_sent_total", "SSE bytes written to clients' sockets (without HTTP framing; heartbeats included), by route template.", (f) => f.bytes);
    perRoute("sse_events_dropped_total", 'Events dropped for slow clients under overflow "drop-oldest", by route template.', (f) => f.dropped);
    perRoute("sse_heartbeats_total", "Heartbeat comments written, by route template.", (f) => f.heartbeats);
    total("channel_publishes_total", "channel.publish() calls on this instance.", () => this.#publishes);
    total("channel_deliveries_total", "Channel events this instance handed to its subscribers (once per event, whatever the number of subscribers).", () => this.#deliveries);
    this.#publishToFlush = new client.Histogram({ name: `${prefix}channel_publish_to_flush_seconds`, help: "From channel.publish() on this instance to the flush that wrote the event to its subscribers here.", buckets: options.latencyBuckets, registers });
    total("channel_replays_total", "Reconnecting clients sent the events they missed (per channel).", () => this.#replays);
    total("channel_replayed_events_total", "Events sent in replays.", () => this.#replayedEvents);
    total("channel_resets_total", "Reconnecting clients sent event: reset (their position is no longer held).", () => this.#resets);
    const broker = options.broker;
    new client.Gauge({
      name: `${prefix}broker_connected`,
      help: "1 while the channel broker is connected (always 1 for the in-memory broker).",
      registers,
      collect() {
        this.set(broker.status?.().connected === false ? 0 : 1);
      },
    });
    new client.Counter({
      name: `${prefix}broker_reconnects_total`,
      help: "Times a lost broker connection came back.",
      registers,
      collect() {
        this.reset();
        this.inc(broker.status?.().reconnects ?? 0);
      },
    });
    new client.Gauge({
      name: `${prefix}broker_reader_lag_seconds`,
      help: "How far behind the broker's last delivered event was (Redis: delivery time minus the entry's time).",
      registers,
      collect() {
        this.set((broker.status?.().readerLagMs ?? 0) / 1000);
      },
    });

    this.#subscriptions = [
      [DIAGNOSTICS_CHANNELS.httpResponse, (m) => this.#onResponse(m as HttpResponseMessage)],
      [DIAGNOSTICS_CHANNELS.sseOpen, (m) => this.#onOpen(m as SseOpenMessage)],
      [DIAGNOSTICS_CHANNELS.sseClose, (m) => this.#onClose(m as SseCloseMessage)],
      [DIAGNOSTICS_CHANNELS.sseWrite, (m) => this.#onWrite(m as SseWriteMessage)],
      [DIAGNOSTICS_CHANNELS.sseHeartbeat, (m) => this.#onHeartbeat(m as SseHeartbeatMessage)],
      [DIAGNOSTICS_CHANNELS.sseDrop, (m) => this.#onDrop(m as SseDropMessage)],
      [DIAGNOSTICS_CHANNELS.channelPublish, (m) => this.#onPublish(m as ChannelPublishMessage)],
      [DIAGNOSTICS_CHANNELS.channelDeliver, (m) => this.#onDeliver(m as ChannelDeliverMessage)],
      [DIAGNOSTICS_CHANNELS.channelReplay, (m) => this.#onReplay(m as ChannelReplayMessage)],
      [DIAGNOSTICS_CHANNELS.channelReset, (m) => this.#onReset(m as ChannelResetMessage)],
    ];
  }

  /** Start counting. */
  start(): void {
    for (const [name, fn] of this.#subscriptions) diagnosticsChannel.subscribe(name, fn);
  }

  /** Stop counting (the app closed): the diagnostics channels are back to costing nothing. */
  stop(): void {
    for (const [name, fn] of this.#subscriptions) diagnosticsChannel.unsubscribe(name, fn);
  }

  #onResponse(message: HttpResponseMessage): void {
    if (message.app !== this.#app) return;
    const route = message.route ?? UNMATCHED_ROUTE;
    const rawMethod = message.request.method;
    const method = METHODS.has(rawMethod) ? rawMethod : "OTHER";
    let byMethod = this.#http.get(route);
    if (byMethod === undefined) this.#http.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let figures = byStatus.get(message.status);
    if (figures === undefined) {
      figures = { labels: { method, route, status: String(message.status) }, count: 0, sum: 0, buckets: new Array<number>(this.#httpBounds.length + 1).fill(0) };
      byStatus.set(message.status, figures);
      this.#httpAll.push(figures);
    }
    const seconds = message.durationMs / 1000;
    const bounds = this.#httpBounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
    figures.buckets[bucket]!++;
    figures.count++;
    figures.sum += seconds;
  }

  #figures(route: string | undefined): StreamFigures {
    const key = route ?? UNMATCHED_ROUTE;
    let figures = this.#streams.get(key);
    if (figures === undefined) {
      figures = { open: 0, opened: 0, events: 0, bytes: 0, dropped: 0, heartbeats: 0, closed: new Map() };
      this.#streams.set(key, figures);
    }
    return figures;
  }

  #onOpen(message: SseOpenMessage): void {
    if (message.app !== this.#app) return;
    const figures = this.#figures(message.route);
    figures.open++;
    figures.opened++;
  }

  #onClose(message: SseCloseMessage): void {
    if (message.app !== this.#app) return;
    const figures = this.#figures(message.route);
    // A stream opened before the plugin listened is not counted as open.
    if (figures.open > 0) figures.open--;
    const reason = String(message.info.reason);
    figures.closed.set(reason, (figures.closed.get(reason) ?? 0) + 1);
  }

  #onWrite(message: SseWriteMessage): void {
    if (message.app !== this.#app) return;
    const figures = this.#figures(message.request.route?.path);
    figures.events += message.events;
    figures.bytes += message.bytes;
  }

  #onHeartbeat(message: SseHeartbeatMessage): void {
    if (message.app !== this.#app) return;
    const figures = this.#figures(message.request.route?.path);
    figures.heartbeats++;
    figures.bytes += message.bytes;
  }

  #onDrop(message: SseDropMessage): void {
    if (message.app !== this.#app) return;
    this.#figures(message.request.route?.path).dropped += message.events;
  }

  #onPublish(message: ChannelPublishMessage): void {
    if (message.app === this.#app) this.#publishes++;
  }

  #onDeliver(message: ChannelDeliverMessage): void {
    if (message.app !== this.#app) return;
    this.#deliveries++;
    if (message.publishToFlushMs !== undefined && message.subscribers > 0) this.#publishToFlush.observe(message.publishToFlushMs / 1000);
  }

  #onReplay(message: ChannelReplayMessage): void {
    if (message.app !== this.#app) return;
    this.#replays++;
    this.#replayedEvents += message.events;
  }

  #onReset(message: ChannelResetMessage): void {
    if (message.app === this.#app) this.#resets++;
  }
}

/**
 * A histogram prom-client's Registry can serve, read from plain figures at scrape time
 * (the Registry asks any registered metric for `get()`, in prom-client's documented
 * `MetricObjectWithValues` shape).
 */
function httpHistogram(name: string, help: string, bounds: number[], all: HttpFigures[]) {
  const labelsOf = (figures: HttpFigures, le: string) => ({ le, ...figures.labels });
  return {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get: async () => {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const figures of all) {
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += figures.buckets[i]!;
          values.push({ labels: labelsOf(figures, String(bounds[i])), value: cumulative, metricName: `${name}_bucket` });
        }
        values.push({ labels: labelsOf(figures, "+Inf"), value: figures.count, metricName: `${name}_bucket` });
        values.push({ labels: { ...figures.labels }, value: figures.sum, metricName: `${name}_sum` });
        values.push({ labels: { ...figures.labels }, value: figures.count, metricName: `${name}_count` });
      }
      return { name, help, type: "histogram", aggregator: "sum", values };
    },
    reset: () => {
      for (const figures of all) {
        figures.count = 0;
        figures.sum = 0;
        figures.buckets.fill(0);
      }
    },
  };
}
