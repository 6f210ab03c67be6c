/**
 * `app.run({ workers })` and `--workers N|auto`: one primary process forks N
 * workers with node:cluster; every worker runs the entry script and serves the
 * app on the same port. The primary holds the channels' memory broker and
 * serves it to the workers over IPC (ipc-broker.ts), drains every worker on
 * SIGINT/SIGTERM, and starts a new worker when one dies.
 */
import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { memoryBroker, type ChannelBroker } from "../channels/broker.js";
import { CelloError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ListenOptions, ServerAddress } from "../server.js";
import { ipcBroker, parentPort, serveBroker } from "./ipc-broker.js";

/** Options of `app.run()`: where to listen, and how many processes serve. */
export interface RunOptions extends ListenOptions {
  /**
   * How many worker processes serve the app (node:cluster, one port): a whole
   * number from 1, or `"auto"` for the machine's available cores
   * (`os.availableParallelism()`). The `--workers` flag wins over it. Default 1:
   * this process serves, no cluster. With more than one, channels on the default
   * broker span the workers through the primary; a Redis broker spans them as it
   * spans machines.
   */
  workers?: number | "auto";
}

/** Set in the environment of the workers the primary forks. */
const WORKER_ENV = "CELLO_WORKER";
/** Marks the primary's and workers' own messages among the app's. */
const TAG = "cello:worker";

/** How the primary replaces a worker that died: backoff, and when it gives up. */
export const RESTART_POLICY = Object.freeze({
  /** Wait before the first restart; doubled for each death in the window. */
  firstDelayMs: 100,
  maxDelayMs: 5_000,
  /** Deaths counted over this window... */
  windowMs: 60_000,
  /** ...and past this many in it, the primary stops every worker and exits with 1. */
  maxDeaths: 5,
  /** A drain that takes longer than this ends with SIGKILL. */
  drainTimeoutMs: 30_000,
});

/**
 * How many workers to run: `--workers N|auto` (or `--workers=N`), else
 * `options.workers`, else 1. Anything but a whole number from 1 or `"auto"` is a
 * `CELLO_INVALID_OPTION` that names where it came from.
 */
export function resolveWorkerCount(argv: readonly string[], options: RunOptions): number {
  let flag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--workers") flag = argv[i + 1] ?? "";
    else if (arg.startsWith("--workers=")) flag = arg.slice("--workers=".length);
  }
  const [source, value] = flag !== undefined ? ["--workers", flag] : ["the workers option", options.workers ?? 1];
  if (value === "auto") return availableParallelism();
  const count = typeof value === "number" ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new CelloError("CELLO_INVALID_OPTION", `${source} must be a whole number of at least 1, or "auto" (one per core); got ${JSON.stringify(value)}`);
  }
  return count;
}

/** True in a worker that `app.run({ workers })` forked. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] === "1";
}

/** The broker of an app given none: the primary's over IPC in a cluster worker, else a memory broker. */
export function defaultBroker(): ChannelBroker {
  return isClusterWorker() ? ipcBroker(parentPort()) : memoryBroker();
}

/** In a worker, once it listens: tell the primary, and close gracefully (then exit 0) when it says so. */
export function joinCluster(address: ServerAddress, close: () => Promise<void>, logger: Logger): void {
  const port = parentPort();
  port.on("message", (message) => {
    if (!isOurs(message, "shutdown")) return;
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error("Shutdown failed", err);
        process.exit(1);
      },
    );
  });
  port.send({ tag: TAG, t: "listening", address }, () => {});
}

/** The running cluster, as the primary's app sees it. */
export interface ClusterPrimary {
  /** Where the workers listen. */
  readonly address: ServerAddress;
  /** Drain every worker; resolves once all exited. */
  close(): Promise<void>;
}

/**
 * In the primary: fork `count` workers, serve them the channels' broker, and
 * resolve once every one listens. SIGINT/SIGTERM drain the workers and exit
 * (0 when each closed cleanly); a second signal kills them at once. A worker
 * that dies before the cluster first listened stops the cluster (exit 1: the
 * script or the port is broken, and restarting will not fix it); later, a dead
 * worker is replaced after a backoff ({@link RESTART_POLICY}), and too many
 * deaths in a row stop the cluster with exit 1.
 */
export function startCluster(count: number, logger: Logger): Promise<ClusterPrimary> {
  const broker = memoryBroker();
  const workers = new Set<Worker>();
  const deaths: number[] = [];
  let address: ServerAddress | undefined;
  let started = false;
  let listening = 0;
  let stopping: Promise<number> | undefined;
  let failed = false;
  let allExited: (() => void) | undefined;
  let resolveStarted!: (address: ServerAddress) => void;
  const whenStarted = new Promise<ServerAddress>((resolve) => (resolveStarted = resolve));

  const stop = (): Promise<number> =>
    (stopping ??= new Promise<number>((resolve) => {
      allExited = () => resolve(failed ? 1 : 0);
      if (workers.size === 0) return allExited();
      for (const worker of workers) worker.send({ tag: TAG, t: "shutdown" }, () => {});
      setTimeout(() => {
        logger.error(`Workers still running ${RESTART_POLICY.drainTimeoutMs} ms after the shutdown began: killing them`);
        for (const worker of workers) worker.process.kill("SIGKILL");
      }, RESTART_POLICY.drainTimeoutMs).unref();
    }));
  const stopAndExit = (code: number) => stop().then((drained) => process.exit(Math.max(code, drained)));

  const onExit = (worker: Worker, wasListening: boolean, code: number | null, signal: string | null) => {
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    if (stopping) {
      if (code !== 0) failed = true;
      if (workers.size === 0) allExited?.();
      return;
    }
    if (!started && !wasListening) {
      logger.error(`Worker ${worker.process.pid} ${how} before it was listening: stopping the other workers.`);
      void stopAndExit(1);
      return;
    }
    const now = Date.now();
    deaths.push(now);
    while (deaths[0]! < now - RESTART_POLICY.windowMs) deaths.shift();
    if (deaths.length > RESTART_POLICY.maxDeaths) {
      logger.error(`Worker ${worker.process.pid} ${how}: ${deaths.length} workers died within ${RESTART_POLICY.windowMs / 1000} s, giving up.`);
      void stopAndExit(1);
      return;
    }
    const delay = Math.min(RESTART_POLICY.maxDelayMs, RESTART_POLICY.firstDelayMs * 2 ** (deaths.length - 1));
    logger.error(`Worker ${worker.process.pid} ${how}: starting another in ${delay} ms.`);
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  };

  const fork = () => {
    const worker = cluster.fork({ [WORKER_ENV]: "1" });
    workers.add(worker);
    const stopServing = serveBroker(broker, worker);
    let wasListening = false;
    worker.on("message", (message: unknown) => {
      if (!isOurs(message, "listening")) return;
      wasListening = true;
      address ??= (message as unknown as { address: ServerAddress }).address;
      if (++listening === count) {
        started = true;
        resolveStarted(address);
      }
    });
    // A worker whose IPC channel breaks emits "error": the exit that follows is what counts.
    worker.on("error", () => {});
    worker.on("exit", (code, signal) => {
      stopServing();
      workers.delete(worker);
      onExit(worker, wasListening, code, signal);
    });
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      for (const worker of workers) worker.process.kill("SIGKILL");
      process.exit(1);
    }
    logger.info(`${signal}: draining ${workers.size} workers`);
    void stopAndExit(0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  for (let i = 0; i < count; i++) fork();
  return whenStarted.then((at) => ({ address: at, close: () => stop().then(() => undefined) }));
}

function isOurs(message: unknown, t: string): boolean {
  return typeof message === "object" && message !== null && (message as { tag?: unknown }).tag === TAG && (message as { t?: unknown }).t === t;
}
