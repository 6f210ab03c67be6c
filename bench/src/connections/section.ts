/**
 * The connections section (issue 15, item 3): what an idle SSE connection
 * costs, toward 100k connections per instance. One server process holds 5k,
 * 10k and ~19.5k streams (the descriptor hard limit here is 20,000 per
 * process), and Cello.ts with `--workers 2` holds ~39k; the raw `net` floor
 * (server.ts) is measured the same way as the reference.
 *
 * The connections come from holders (holder.ts): raw sockets in several child
 * processes, each under 5,000 streams from its own loopback source address,
 * counting bytes and frames only.
 *
 * At each size, after the connections were added (their accept rate):
 * - RSS and JS heap after GC, minus the server's own at rest (after a warm-up);
 * - the live timers (a per-connection timer would grow with the connections);
 * - CPU per heartbeat round, from the server's CPU over a few intervals and the
 *   heartbeats the holders counted;
 * - fan-out of 1 event/s to every connection: all of them must arrive.
 * The sizes then give a least-squares line per system (bytes per connection,
 * and its r²: linear or not), from which 100k and 1M are projected.
 */
import { fileURLToPath } from "node:url";
import type { BenchConfig } from "../config.js";
import type { RunContext } from "../context.js";
import type { ExtraSection } from "../harness.js";
import { Worker } from "../worker.js";
import { fitLine, type LinearFit } from "./frames.js";

/** What the section measures; sizes are connections held by the server (in total with workers). */
export interface ConnectionsOptions {
  /** Connection counts held by one process, measured in increasing order. */
  sizes: number[];
  /** Connections held by Cello.ts with `--workers 2` (0: skip). */
  workersConnections: number;
  /** Streams per holder process (each from its own source address). */
  perHolder: number;
  /** The servers' heartbeat interval for the run. */
  heartbeatMs: number;
  /** How many heartbeat intervals the CPU is read over. */
  heartbeatRounds: number;
  /** Events fanned out at 1 event/s, at each size. */
  fanoutEvents: number;
}

/** `pnpm bench` (full): 5k, 10k and 19.5k in one process, 39k over two workers. */
export const FULL_CONNECTIONS: ConnectionsOptions = { sizes: [5000, 10_000, 19_500], workersConnections: 39_000, perHolder: 5000, heartbeatMs: 2000, heartbeatRounds: 3, fanoutEvents: 3 };
/** `--quick`: small sizes, the same measurements. */
export const QUICK_CONNECTIONS: ConnectionsOptions = { sizes: [1000, 2000, 4000], workersConnections: 8000, perHolder: 5000, heartbeatMs: 1000, heartbeatRounds: 2, fanoutEvents: 2 };

/** One server at one size. */
export interface ConnectionsRow {
  system: "floor" | "cello";
  workers: number;
  connections: number;
  /** Connections added for this size, per second of wall time (all holders at once). */
  acceptPerSec: number;
  failures: number;
  /** Server CPU while they were accepted, per connection (µs): head, routing, subscription, first frame (the heartbeats sent meanwhile taken out). */
  acceptCpuUsPerConnection: number;
  /** After GC (workers: the sum of their RSS); `baseline*` is the same server at rest, before any stream. */
  rss: number;
  heapUsed: number | null;
  baselineRss: number;
  baselineHeap: number | null;
  /** (reading - baseline) / connections. */
  rssPerConnection: number;
  heapPerConnection: number | null;
  /** Live Timeout handles in the server (one process only). */
  timers: number | null;
  /** Server CPU per heartbeat round (every stream sent one), ms. */
  heartbeatCpuMsPerRound: number | null;
  heartbeatsSeen: number;
  /** Fan-out of 1 event/s: events published, frames expected and received. */
  fanoutEvents: number;
  fanoutExpected: number;
  fanoutDelivered: number;
  /** Server CPU during the fan-out window per delivery, µs (the heartbeats sent meanwhile taken out). */
  fanoutCpuUsPerDelivery: number;
  closedEarly: number;
}

/** A per-system line through the one-process sizes, and what it projects. */
export interface ConnectionsFit {
  system: "floor" | "cello";
  rss: LinearFit;
  heap: LinearFit | null;
  /** Projected RSS (bytes) at 100k and 1M connections in one process, from the line. */
  rssAt100k: number;
  rssAt1M: number;
  heapAt100k: number | null;
  heapAt1M: number | null;
}

export interface ConnectionsSectionResult {
  options: ConnectionsOptions;
  rows: ConnectionsRow[];
  fits: ConnectionsFit[];
  errors: string[];
}

interface HolderStatus {
  open: number;
  closedEarly: number;
  frames: number;
  heartbeats: number;
  bytes: number;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The holders of one server: add streams to them, read their counts. */
class Holders {
  readonly #holders: Array<{ worker: Worker; held: number }> = [];
  readonly #port: number;
  readonly #perHolder: number;
  readonly #context: RunContext;

  constructor(port: number, perHolder: number, context: RunContext) {
    this.#port = port;
    this.#perHolder = perHolder;
    this.#context = context;
  }

  /** Open `count` more streams, filling holders in turn and starting new ones; resolves with the failures and the wall time. */
  async add(count: number): Promise<{ failures: number; firstError?: string; ms: number }> {
    const plan: Array<{ holder: { worker: Worker; held: number }; count: number }> = [];
    let left = count;
    for (const holder of this.#holders) {
      const take = Math.min(left, this.#perHolder - holder.held);
      if (take > 0) plan.push({ holder, count: take });
      left -= take;
    }
    while (left > 0) {
      const index = this.#holders.length;
      const worker = await Worker.start(here("./holder.ts"), { label: `holder ${index}`, core: this.#context.loadCore, fdLimit: this.#perHolder + 1024 });
      const holder = { worker, held: 0 };
      this.#holders.push(holder);
      const take = Math.min(left, this.#perHolder);
      plan.push({ holder, count: take });
      left -= take;
    }
    const started = performance.now();
    const results = await Promise.all(
      plan.map(async ({ holder, count }) => {
        const index = this.#holders.indexOf(holder);
        const result = await holder.worker.request<{ connected: number; failures: number; firstError?: string }>(
          "connect",
          { port: this.#port, count, localAddress: `127.0.0.${2 + index}`, concurrency: 64, timeoutMs: 30_000 },
          600_000,
        );
        holder.held += result.connected;
        return result;
      }),
    );
    const ms = performance.now() - started;
    const failures = results.reduce((sum, r) => sum + r.failures, 0);
    return { failures, firstError: results.find((r) => r.firstError)?.firstError, ms };
  }

  async status(): Promise<HolderStatus> {
    const all = await Promise.all(this.#holders.map((h) => h.worker.request<HolderStatus>("status")));
    return all.reduce((sum, s) => ({ open: sum.open + s.open, closedEarly: sum.closedEarly + s.closedEarly, frames: sum.frames + s.frames, heartbeats: sum.heartbeats + s.heartbeats, bytes: sum.bytes + s.bytes }), { open: 0, closedEarly: 0, frames: 0, heartbeats: 0, bytes: 0 });
  }

  /** Close every stream (the server sees them go) and stop the holders. */
  async stop(): Promise<void> {
    await Promise.all(this.#holders.map((h) => h.worker.request("close").catch(() => {})));
    await Promise.all(this.#holders.map((h) => h.worker.stop()));
    this.#holders.length = 0;
  }
}

interface Memory {
  rss: number;
  heapUsed: number | null;
}

/** One server (system, workers) through the given sizes. */
async function runServer(system: "floor" | "cello", workers: number, sizes: number[], options: ConnectionsOptions, context: RunContext): Promise<ConnectionsRow[]> {
  const largest = Math.max(...sizes);
  const server = await Worker.start(here("./server.ts"), {
    label: `connections server ${system}${workers > 1 ? ` x${workers}` : ""}`,
    core: workers > 1 ? undefined : context.serverCore,
    exposeGc: true,
    // The hard limit here is 20,000 descriptors per process; `ulimit -n` in the child's shell raises the soft one.
    fdLimit: Math.min(20_000, Math.ceil(largest / workers) + 1024),
    args: [system, "--workers", String(workers), "--heartbeat", String(options.heartbeatMs)],
    nodeFlags: context.profileSystems.has(`connections-${system}`) ? context.cpuProfFlags(`connections-${system}`) : [],
  });
  const port = server.info.port as number;
  const rows: ConnectionsRow[] = [];
  try {
    // Warm-up: a few streams in, one event out, all gone; then the server at rest is the baseline.
    const warm = new Holders(port, options.perHolder, context);
    await warm.add(Math.min(200, sizes[0]!));
    await server.request("publish", { events: 1 });
    await sleep(300);
    await warm.stop();
    // The heap shrinks for a while after the warm-up's garbage is collected: read the baseline once it settled.
    await sleep(500);
    await server.request<Memory>("memory");
    await sleep(1000);
    const baseline = await server.request<Memory>("memory");
    const holders = new Holders(port, options.perHolder, context);
    try {
      let held = 0;
      for (const size of sizes) {
        const adding = size - held;
        const acceptHb0 = held > 0 ? (await holders.status()).heartbeats : 0;
        const acceptCpu0 = (await server.request<{ cpuUs: number }>("cpu")).cpuUs;
        const added = await holders.add(adding);
        const acceptCpuUs = (await server.request<{ cpuUs: number }>("cpu")).cpuUs - acceptCpu0;
        const acceptHeartbeats = (await holders.status()).heartbeats - acceptHb0;
        held = size - added.failures;
        if (added.failures > 0) context.log(`connections ${system}: ${added.failures} of ${size} failed: ${added.firstError}`);
        await sleep(500);
        const memory = await server.request<Memory>("memory");
        const timers = await server.request<number | null>("timers");
        // Heartbeats: the server's CPU over a few intervals, per round every stream was sent one.
        const hb0 = await holders.status();
        const cpu0 = (await server.request<{ cpuUs: number }>("cpu")).cpuUs;
        await sleep(options.heartbeatMs * options.heartbeatRounds);
        const cpu1 = (await server.request<{ cpuUs: number }>("cpu")).cpuUs;
        const hb1 = await holders.status();
        const heartbeats = hb1.heartbeats - hb0.heartbeats;
        // What one heartbeat costs here: taken out of the accept and fan-out windows, which heartbeats also fall into.
        const perHeartbeatUs = heartbeats > 0 ? (cpu1 - cpu0) / heartbeats : 0;
        const rounds = heartbeats / Math.max(1, held);
        // Fan-out: 1 event/s; every stream must receive every event.
        const before = await holders.status();
        const fanCpu0 = (await server.request<{ cpuUs: number }>("cpu")).cpuUs;
        for (let i = 0; i < options.fanoutEvents; i++) {
          const next = Date.now() + 1000;
          await server.request("publish", { events: 1 });
          if (i < options.fanoutEvents - 1) await sleep(Math.max(0, next - Date.now()));
        }
        const expected = options.fanoutEvents * held;
        let after = await holders.status();
        const deadline = Date.now() + 15_000;
        while (after.frames - after.heartbeats - (before.frames - before.heartbeats) < expected && Date.now() < deadline) {
          await sleep(100);
          after = await holders.status();
        }
        const fanCpu1 = (await server.request<{ cpuUs: number }>("cpu")).cpuUs;
        const delivered = after.frames - after.heartbeats - (before.frames - before.heartbeats);
        const row: ConnectionsRow = {
          system,
          workers,
          connections: held,
          acceptPerSec: Math.round(((adding - added.failures) * 1000) / Math.max(1, added.ms)),
          failures: added.failures,
          acceptCpuUsPerConnection: Math.round(Math.max(0, acceptCpuUs - acceptHeartbeats * perHeartbeatUs) / Math.max(1, adding - added.failures)),
          rss: memory.rss,
          heapUsed: memory.heapUsed,
          baselineRss: baseline.rss,
          baselineHeap: baseline.heapUsed,
          rssPerConnection: Math.round((memory.rss - baseline.rss) / Math.max(1, held)),
          heapPerConnection: memory.heapUsed === null || baseline.heapUsed === null ? null : Math.round((memory.heapUsed - baseline.heapUsed) / Math.max(1, held)),
          timers,
          heartbeatCpuMsPerRound: rounds >= 0.5 ? Math.round(((cpu1 - cpu0) / 1000 / rounds) * 100) / 100 : null,
          heartbeatsSeen: heartbeats,
          fanoutEvents: options.fanoutEvents,
          fanoutExpected: expected,
          fanoutDelivered: delivered,
          fanoutCpuUsPerDelivery: Math.round((Math.max(0, fanCpu1 - fanCpu0 - (after.heartbeats - before.heartbeats) * perHeartbeatUs) / Math.max(1, delivered)) * 1000) / 1000,
          closedEarly: after.closedEarly,
        };
        rows.push(row);
        context.log(
          `connections ${system}${workers > 1 ? ` x${workers}` : ""} ${held}: ${row.acceptPerSec} conn/s, RSS ${row.rssPerConnection} B/conn, heap ${row.heapPerConnection ?? "n/a"} B/conn, timers ${timers ?? "n/a"}, heartbeat ${row.heartbeatCpuMsPerRound ?? "n/a"} ms/round, fan-out ${delivered}/${expected}`,
        );
      }
    } finally {
      await holders.stop();
    }
  } finally {
    await server.stop();
  }
  return rows;
}

/** The least-squares lines of the one-process rows of each system (two sizes at least). */
export function fitConnections(rows: readonly ConnectionsRow[]): ConnectionsFit[] {
  const fits: ConnectionsFit[] = [];
  for (const system of ["floor", "cello"] as const) {
    const own = rows.filter((row) => row.system === system && row.workers === 1);
    if (new Set(own.map((row) => row.connections)).size < 2) continue;
    const rss = fitLine(own.map((row) => [row.connections, row.rss] as const));
    const withHeap = own.filter((row) => row.heapUsed !== null);
    const heap = new Set(withHeap.map((row) => row.connections)).size < 2 ? null : fitLine(withHeap.map((row) => [row.connections, row.heapUsed!] as const));
    const at = (fit: LinearFit, n: number) => Math.round(fit.intercept + fit.slope * n);
    fits.push({ system, rss, heap, rssAt100k: at(rss, 100_000), rssAt1M: at(rss, 1_000_000), heapAt100k: heap && at(heap, 100_000), heapAt1M: heap && at(heap, 1_000_000) });
  }
  return fits;
}

export async function runConnectionsSection(options: ConnectionsOptions, context: RunContext): Promise<ConnectionsSectionResult> {
  const rows: ConnectionsRow[] = [];
  const errors: string[] = [];
  const attempt = async (label: string, run: () => Promise<ConnectionsRow[]>) => {
    try {
      rows.push(...(await run()));
    } catch (err) {
      const message = `${label}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
      errors.push(message);
      context.log(`connections ${message}`);
    }
  };
  await attempt("floor", () => runServer("floor", 1, options.sizes, options, context));
  await attempt("cello", () => runServer("cello", 1, options.sizes, options, context));
  if (options.workersConnections > 0) await attempt("cello --workers 2", () => runServer("cello", 2, [options.workersConnections], options, context));
  return { options, rows, fits: fitConnections(rows), errors };
}

const kb = (bytes: number | null) => (bytes === null ? "n/a" : `${(bytes / 1024).toFixed(2)} KB`);
const mb = (bytes: number | null) => (bytes === null ? "n/a" : `${(bytes / 1024 / 1024).toFixed(0)} MB`);

export function renderConnectionsSection(result: ConnectionsSectionResult): string {
  const { options, rows, fits } = result;
  const floorAccept = (n: number) => rows.find((row) => row.system === "floor" && row.workers === 1 && row.connections === n)?.acceptPerSec;
  const lines = [
    `Idle SSE streams held by one server process (two with \`--workers 2\`), opened by raw-socket holders (at most ${options.perHolder} each, one loopback source address each). Memory after GC, minus the same server at rest after a warm-up; heartbeat every ${options.heartbeatMs} ms; fan-out of 1 event/s (${options.fanoutEvents} events). With workers, RSS is the sum of the workers' (their heap is not read).`,
    "",
    "| server | connections | accept conn/s (vs floor) | accept CPU / conn | RSS / conn | heap / conn | timers | CPU per heartbeat round | fan-out delivered | CPU per delivery |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((row) => {
      const floor = row.system === "cello" && row.workers === 1 ? floorAccept(row.connections) : undefined;
      const name = row.system === "floor" ? "raw net floor" : row.workers > 1 ? `Cello.ts, ${row.workers} workers` : "Cello.ts";
      return `| ${name} | ${row.connections}${row.failures ? ` (${row.failures} failed)` : ""} | ${row.acceptPerSec}${floor ? ` (${(row.acceptPerSec / floor).toFixed(2)}x)` : ""} | ${row.acceptCpuUsPerConnection} µs | ${kb(row.rssPerConnection)} | ${kb(row.heapPerConnection)} | ${row.timers ?? "n/a"} | ${row.heartbeatCpuMsPerRound === null ? "n/a" : `${row.heartbeatCpuMsPerRound} ms`} | ${row.fanoutDelivered}/${row.fanoutExpected}${row.fanoutDelivered === row.fanoutExpected ? "" : " (short)"} | ${row.fanoutCpuUsPerDelivery} µs |`;
    }),
  ];
  if (fits.length > 0) {
    lines.push(
      "",
      "Least-squares line through the one-process sizes (slope = bytes per connection; r² = 1 is a straight line), and what it projects for one process:",
      "",
      "| server | RSS slope (r²) | heap slope (r²) | RSS at 100k | RSS at 1M | heap at 100k | heap at 1M |",
      "|---|---|---|---|---|---|---|",
      ...fits.map(
        (fit) =>
          `| ${fit.system === "floor" ? "raw net floor" : "Cello.ts"} | ${kb(fit.rss.slope)} (${fit.rss.r2.toFixed(3)}) | ${fit.heap ? `${kb(fit.heap.slope)} (${fit.heap.r2.toFixed(3)})` : "n/a"} | ${mb(fit.rssAt100k)} | ${mb(fit.rssAt1M)} | ${mb(fit.heapAt100k)} | ${mb(fit.heapAt1M)} |`,
      ),
    );
  }
  if (result.errors.length > 0) lines.push("", ...result.errors.map((error) => `Failed: ${error}`));
  return `${lines.join("\n")}\n`;
}

/**
 * The connections section for the runner (`--sections=connections`).
 * @param options - Sizes and intervals; default: by the run's profile (full or quick).
 * @example await runBench({ config: QUICK, sections: ["connections"], extraSections: [connectionsSection()] });
 */
export function connectionsSection(options?: Partial<ConnectionsOptions>): ExtraSection {
  const resolve = (config: BenchConfig): ConnectionsOptions => ({ ...(config.profile === "full" ? FULL_CONNECTIONS : QUICK_CONNECTIONS), ...options });
  return {
    id: "connections",
    title: "Connections: idle streams toward 100k per instance",
    connections: (config) => Math.min(20_000, Math.max(...resolve(config).sizes)),
    run: (context, config) => runConnectionsSection(resolve(config), context),
    render: (result) => renderConnectionsSection(result as ConnectionsSectionResult),
  };
}
