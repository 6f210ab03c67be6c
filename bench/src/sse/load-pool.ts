/**
 * The SSE section's load generator: one or more load processes (clients.ts),
 * each holding a share of the N raw-socket clients from its own loopback
 * source addresses, driven as one. It merges their counts and latency
 * samples, and reports their CPU per process, so a row whose load generator
 * came near its core's limit says so.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { summarize } from "./frames.js";
import { Worker } from "../worker.js";
import type { CollectResult, ConnectResult, StatusResult } from "./clients.js";

/** Above this share of one core (per load process, or per load core on average), a row's latency and delivered/s may measure the load generator: the row is marked. */
export const LOAD_CPU_LIMIT_PCT = 70;

/** One process holds at most this many clients: the hard open-file limit on the bench machines is 20 000 per process, and node needs some for itself. */
export const MAX_CLIENTS_PER_LOAD_PROCESS = 19_000;

/**
 * Socket reads per second one load process handles at {@link LOAD_CPU_LIMIT_PCT}
 * of a core (one read per client per tick when it keeps up), measured with the
 * raw `net` clients on the bench machines; used only to decide how many
 * processes to start when there are spare cores for them.
 */
export const READS_PER_LOAD_PROCESS = 100_000;

/** The load generator's CPU over one measured load. */
export interface LoadCpu {
  /** All load processes together, % of one core. */
  sumPct: number;
  /** The busiest load process, % of one core. */
  maxPct: number;
  processes: number;
  /** Cores the load processes ran on (pinned), or could use (not pinned). */
  cores: number;
  /** True when a process exceeded {@link LOAD_CPU_LIMIT_PCT} of a core, or the processes together exceeded it on average over their cores. */
  over: boolean;
}

/**
 * Summarise the load processes' CPU and mark it when it was near a limit: any
 * one process over {@link LOAD_CPU_LIMIT_PCT}% of a core, or all of them
 * together over that share of the cores they share (two processes at 40% each
 * on one core leave that core 80% busy).
 * @param perProcessPct - Each process's CPU over the load, % of one core.
 * @param cores - Cores the processes ran on.
 * @example markLoadCpu([45, 40], 1) // { sumPct: 85, maxPct: 45, processes: 2, cores: 1, over: true }
 */
export function markLoadCpu(perProcessPct: readonly number[], cores: number): LoadCpu {
  const sumPct = Math.round(perProcessPct.reduce((sum, pct) => sum + pct, 0) * 10) / 10;
  const maxPct = perProcessPct.length === 0 ? 0 : Math.max(...perProcessPct);
  const usable = Math.max(1, cores);
  return { sumPct, maxPct, processes: perProcessPct.length, cores: usable, over: maxPct > LOAD_CPU_LIMIT_PCT || sumPct > LOAD_CPU_LIMIT_PCT * usable };
}

/**
 * How many load processes to start for `clients` connections: enough that
 * none holds more than {@link MAX_CLIENTS_PER_LOAD_PROCESS}, and, when there
 * are several load cores, enough that none is expected above
 * {@link LOAD_CPU_LIMIT_PCT}% of its core at the heaviest tick rate (one socket
 * read per client per tick). More processes than load cores would only share
 * a core: they would lower each one's figure, not the load generator's cost.
 * @param clients - Connections in the whole load.
 * @param ticksPerSec - The heaviest load's ticks per second.
 * @param loadCores - Cores the load processes can use.
 * @example loadProcessCount(10_000, 100, 3) // 3
 */
export function loadProcessCount(clients: number, ticksPerSec: number, loadCores: number): number {
  const forDescriptors = Math.ceil(clients / MAX_CLIENTS_PER_LOAD_PROCESS);
  const forCpu = Math.min(Math.max(1, loadCores), Math.ceil((clients * ticksPerSec) / READS_PER_LOAD_PROCESS));
  return Math.max(1, forDescriptors, forCpu);
}

/** What {@link LoadPool.collect} returns: the merged counts, the latency over every process's samples, and the CPU per process. */
export interface PoolCollectResult extends CollectResult {
  loadCpu: LoadCpu;
}

/** Options of {@link LoadPool.start}. */
export interface LoadPoolOptions {
  processes: number;
  /** Cores to pin the processes to, round-robin (empty: not pinned). */
  cores: number[];
  /** Cores the processes can use when not pinned (for {@link markLoadCpu}). */
  unpinnedCores: number;
  fdLimit: number | undefined;
  /** Node flags per process, e.g. `--cpu-prof` (index: the process). */
  nodeFlags?(index: number): string[];
}

/** Options of {@link LoadPool.connect}. */
export interface PoolConnectRequest {
  port: number;
  path: string;
  clients: number;
  latencyEvery: number;
  /** Connections each process opens at once. */
  concurrency: number;
  /** Source addresses per process (127.0.0.x, distinct across processes). */
  addressesPerProcess: number;
}

const CLIENTS_SCRIPT = fileURLToPath(new URL("./clients.ts", import.meta.url));

/**
 * Several load processes driven as one.
 *
 * @example
 * const pool = await LoadPool.start({ processes: 2, cores: [1], unpinnedCores: 1, fdLimit: undefined });
 * await pool.connect({ port, path: "/sse", clients: 1000, latencyEvery: 50, concurrency: 256, addressesPerProcess: 1 });
 * await pool.reset(); // ... publish, drain(pool, ...) ...
 * const { frames, loadCpu } = await pool.collect(events);
 * await pool.stop();
 */
export class LoadPool {
  readonly #workers: Worker[];
  readonly #cores: number;

  private constructor(workers: Worker[], cores: number) {
    this.#workers = workers;
    this.#cores = cores;
  }

  /** Start the load processes (all or none: if one fails to start, the others are stopped). */
  static async start(options: LoadPoolOptions): Promise<LoadPool> {
    const started = await Promise.allSettled(
      Array.from({ length: options.processes }, (_, index) =>
        Worker.start(CLIENTS_SCRIPT, {
          label: `sse load ${index + 1}/${options.processes}`,
          core: options.cores.length > 0 ? options.cores[index % options.cores.length] : undefined,
          fdLimit: options.fdLimit,
          nodeFlags: options.nodeFlags?.(index) ?? [],
        }),
      ),
    );
    const workers = started.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    const failed = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    if (failed) {
      await Promise.all(workers.map((worker) => worker.stop()));
      throw failed.reason;
    }
    const cores = options.cores.length > 0 ? Math.min(options.cores.length, options.processes) : options.unpinnedCores;
    return new LoadPool(workers, cores);
  }

  /** The processes' ids (for the interference monitor). */
  get pids(): number[] {
    return this.#workers.map((worker) => worker.pid);
  }

  /** Number of load processes. */
  get size(): number {
    return this.#workers.length;
  }

  /** Open `clients` connections, split as evenly as possible over the processes, each from its own source addresses. */
  async connect(request: PoolConnectRequest): Promise<ConnectResult> {
    const started = Date.now();
    const count = this.#workers.length;
    let firstIndex = 0;
    const replies = await Promise.all(
      this.#workers.map((worker, index) => {
        const share = Math.floor(request.clients / count) + (index < request.clients % count ? 1 : 0);
        const payload = {
          port: request.port,
          path: request.path,
          clients: share,
          latencyEvery: request.latencyEvery,
          concurrency: request.concurrency,
          sourceAddresses: request.addressesPerProcess,
          firstAddress: 1 + index * request.addressesPerProcess,
          firstIndex,
        };
        firstIndex += share;
        return share === 0 ? Promise.resolve<ConnectResult>({ connected: 0, failures: 0, firstError: undefined, ms: 0 }) : worker.request<ConnectResult>("connect", payload, 120_000);
      }),
    );
    return {
      connected: replies.reduce((sum, reply) => sum + reply.connected, 0),
      failures: replies.reduce((sum, reply) => sum + reply.failures, 0),
      firstError: replies.find((reply) => reply.firstError !== undefined)?.firstError,
      ms: Date.now() - started,
    };
  }

  /** Zero every count and start a new CPU window in every process. */
  async reset(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.request("reset")));
  }

  /** Frames and closed connections so far, over all processes. */
  async status(): Promise<StatusResult> {
    const replies = await Promise.all(this.#workers.map((worker) => worker.request<StatusResult>("status")));
    return mergeStatus(replies);
  }

  /**
   * The same as `Worker.request` for the commands {@link drain} and
   * {@link stopLoad} send (`status`, `close`), so the pool can stand in for a
   * single load process there.
   */
  async request<T>(cmd: string): Promise<T> {
    if (cmd === "status") return (await this.status()) as T;
    if (cmd === "close") return (await Promise.all(this.#workers.map((worker) => worker.request("close")))) as T;
    if (cmd === "reset") return (await this.reset()) as T;
    throw new Error(`LoadPool: use its methods for ${cmd}`);
  }

  /** Totals since the last reset, latency percentiles over every process's samples, and the CPU of each process. */
  async collect(expectedPerClient: number): Promise<PoolCollectResult> {
    const replies = await Promise.all(this.#workers.map((worker) => worker.request<CollectResult>("collect", { expectedPerClient, withSamples: true })));
    const samples = replies.flatMap((reply) => reply.samples ?? []);
    const loadCpu = markLoadCpu(
      replies.map((reply) => reply.cpuPct),
      this.#cores,
    );
    return {
      ...mergeStatus(replies),
      clientsShort: replies.reduce((sum, reply) => sum + reply.clientsShort, 0),
      cpuPct: loadCpu.sumPct,
      latency: summarize(samples),
      loadCpu,
    };
  }

  /** Close every client, then stop the processes. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#workers.map(async (worker) => {
        await worker.request("close").catch(() => {});
        await worker.stop();
      }),
    );
  }
}

function mergeStatus(replies: readonly StatusResult[]): StatusResult {
  return {
    frames: replies.reduce((sum, reply) => sum + reply.frames, 0),
    lastFrameAt: replies.reduce((latest, reply) => Math.max(latest, reply.lastFrameAt), 0),
    closedEarly: replies.reduce((sum, reply) => sum + reply.closedEarly, 0),
  };
}
