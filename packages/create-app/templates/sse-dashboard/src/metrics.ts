/**
 * Process metrics, sampled once a second for every connected dashboard at once:
 * one timer for the whole process however many pages are open, stopped when the
 * last one leaves.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

/** One sample, as sent to the page. */
export interface Metrics {
  /** When the sample was taken, in ms since the epoch. */
  time: number;
  /** CPU time used since the previous sample, in percent of one core. */
  cpuPercent: number;
  /** Resident set size, in MiB. */
  rssMb: number;
  /** V8 heap in use, in MiB. */
  heapUsedMb: number;
  /** V8 heap reserved, in MiB. */
  heapTotalMb: number;
  /** Mean event loop delay since the previous sample, in ms. */
  eventLoopDelayMs: number;
  /** Dashboards connected right now. */
  clients: number;
}

const MiB = 1024 * 1024;
/** How often the event loop delay is probed, in ms. */
const DELAY_RESOLUTION_MS = 10;

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * Publishes a {@link Metrics} sample every `intervalMs` (default 1000) to whoever subscribed.
 *
 * @example
 * const hub = new MetricsHub();
 * const unsubscribe = hub.subscribe((metrics) => console.log(metrics.rssMb));
 * unsubscribe(); // the last subscriber out stops the timer
 */
export class MetricsHub {
  readonly #intervalMs: number;
  readonly #subscribers = new Set<(metrics: Metrics) => void>();
  readonly #loopDelay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  #timer: NodeJS.Timeout | undefined;
  #lastCpu = process.cpuUsage();
  #lastTime = performance.now();

  constructor(intervalMs = 1000) {
    this.#intervalMs = intervalMs;
  }

  /** Connected subscribers. */
  get clients(): number {
    return this.#subscribers.size;
  }

  /** Subscribe to samples; returns the function that unsubscribes. */
  subscribe(listener: (metrics: Metrics) => void): () => void {
    this.#subscribers.add(listener);
    if (this.#timer === undefined) {
      this.#loopDelay.enable();
      this.#timer = setInterval(() => this.#publish(), this.#intervalMs);
    }
    return () => {
      this.#subscribers.delete(listener);
      if (this.#subscribers.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
        this.#loopDelay.disable();
      }
    };
  }

  /** The metrics right now, without starting a new measuring interval. */
  current(): Metrics {
    const now = performance.now();
    const cpu = process.cpuUsage(this.#lastCpu);
    const elapsedMs = Math.max(now - this.#lastTime, 1);
    const memory = process.memoryUsage();
    // The histogram records whole probe intervals (resolution + delay), in ns, and
    // is empty until it has run a while: report only the excess, and 0 rather than NaN.
    const delay = this.#loopDelay.count > 0 ? Math.max(0, this.#loopDelay.mean / 1e6 - DELAY_RESOLUTION_MS) : 0;
    return {
      time: Date.now(),
      cpuPercent: round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100),
      rssMb: round(memory.rss / MiB),
      heapUsedMb: round(memory.heapUsed / MiB),
      heapTotalMb: round(memory.heapTotal / MiB),
      eventLoopDelayMs: round(delay, 2),
      clients: this.#subscribers.size,
    };
  }

  #publish(): void {
    const metrics = this.current();
    this.#lastCpu = process.cpuUsage();
    this.#lastTime = performance.now();
    this.#loopDelay.reset();
    for (const listener of this.#subscribers) listener(metrics);
  }
}
