/**
 * The SSE section: N raw-socket clients held by one or more load processes
 * (load-pool.ts), a publisher inside the server pushing ticks of events at
 * fixed rates, and per load the delivered events/s, the delivered ratio,
 * publish-to-receive latency, the server's CPU and the load generator's. Every
 * system is compared with the raw `net` floor on deliveries per server
 * CPU-second. The memory figures (JS heap and RSS per idle connection) are
 * read on the same servers once all clients are connected, before publishing.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import type { BenchConfig, SseLoad } from "../config.js";
import type { RunContext } from "../context.js";
import { InterferenceMonitor } from "../interference.js";
import { ephemeralPortCount } from "../machine.js";
import { Worker } from "../worker.js";
import type { CollectResult, StatusResult } from "./clients.js";
import { LoadPool, loadProcessCount, markLoadCpu, MAX_CLIENTS_PER_LOAD_PROCESS, type LoadCpu } from "./load-pool.js";
import type { MemoryReading, PublishReport } from "./servers/serve.js";

/** A server under test: a display name and the script that starts it. */
export interface SseSystem {
  label: string;
  script: string;
}

const script = (name: string) => fileURLToPath(new URL(`./servers/${name}.ts`, import.meta.url));

/** Every SSE server the bench knows, by id. `raw-net` is the floor the others are compared to. */
export const SSE_SYSTEMS: Record<string, SseSystem> = {
  "raw-net": { label: "raw net, one pre-framed chunk per tick (floor)", script: script("raw-net") },
  "raw-per-event": { label: "node:http, one write per event", script: script("raw-per-event") },
  "raw-coalesced": { label: "node:http, one write per tick", script: script("raw-coalesced") },
  cello: { label: "Cello.ts (channel.publish)", script: script("cello") },
  "cello-checked": { label: "Cello.ts (channel.publish, events checked)", script: script("cello-checked") },
  "cello-shared": { label: "Cello.ts (one SseEvent, stream.add)", script: script("cello-shared") },
  "cello-metrics": { label: "Cello.ts (channel.publish, enableMetrics)", script: script("cello-metrics") },
  "better-sse": { label: "better-sse (channel, batch: one EventBuffer per tick)", script: script("better-sse") },
  "fastify-sse": { label: "Fastify 5 + @fastify/sse (send per event)", script: script("fastify-sse") },
  hono: { label: "Hono 4 streamSSE (one joined write per tick)", script: script("hono") },
  h3: { label: "h3 2 EventStream (push of the tick's events)", script: script("h3") },
};

/** The Node floor: the system every fan-out row is compared to (deliveries per server CPU-second, p99 latency). */
export const SSE_FLOOR = "raw-net";
/** The hand-written node:http server memory ratios are taken against. */
export const SSE_NODE_HTTP = "raw-coalesced";

/** What every fan-out row reports, whatever ran it (the SSE and Redis sections both). */
export interface LoadRow {
  label: string;
  clients: number;
  rate: number;
  size: number;
  status: "ok" | "FAIL" | "skipped";
  /** Why a row failed or was skipped. */
  note?: string;
  publishedEvents: number;
  skippedTicks: number;
  /** publishedEvents × clients. */
  expectedDeliveries: number;
  delivered: number;
  /** delivered / expectedDeliveries; anything under 1 is a FAIL. */
  deliveredRatio: number;
  /** Deliveries per second, from the first publish to the last frame received. */
  deliveredPerSec: number;
  latency: { count: number; p50: number; p99: number; max: number };
  /** Deliveries per second of server-side CPU: unlike delivered/s it separates systems that all keep up with a light load. */
  deliveriesPerCpuSec: number;
  /** The load generator's CPU over the same window, % of one core, all its processes together (near 100% of its cores: the clients, not the server, were the limit). */
  loadCpuPct: number;
  /** Share of the machine's CPU other processes used meanwhile (null without /proc). */
  otherLoad: number | null;
  closedEarly: number;
  clientsShort: number;
}

/** One load on one system at one client count. */
export interface SseRow extends LoadRow {
  /** p99 over ticks of the server's own send time (see PublishReport.sendMs); 0 where not measured. */
  sendP99Ms: number;
  system: string;
  /** deliveredPerSec over the floor's on the same load (null without the floor). */
  ratioToFloor: number | null;
  /** Server CPU (user + system) over the same window, % of one core; deliveriesPerCpuSec = deliveredPerSec / (serverCpuPct / 100). */
  serverCpuPct: number;
  /** deliveriesPerCpuSec over the floor's on the same load (null without the floor, or when either failed). */
  efficiencyToFloor: number | null;
  /** The load generator's CPU per process, marked when over the limit (see load-pool.ts). */
  loadCpu: LoadCpu;
}

/** Memory per idle SSE connection. */
export interface MemoryRow {
  system: string;
  label: string;
  clients: number;
  heapPerConnection: number;
  rssPerConnection: number;
  /** heapPerConnection over the raw node:http server's (null without it). */
  heapRatioToRaw: number | null;
  rssRatioToRaw: number | null;
  before: MemoryReading;
  after: MemoryReading;
}

/** The section's result. */
export interface SseSectionResult {
  tickEvents: number;
  publishMs: number;
  latencyEvery: number;
  sourceAddresses: Record<number, number>;
  /** Load processes per client count. */
  loadProcesses: Record<number, number>;
  rows: SseRow[];
  memory: MemoryRow[];
}

/**
 * Resolve after `ms` milliseconds.
 * @example await sleep(200);
 */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Poll `check` every 50 ms until it is true.
 * @param check - The condition (may ask a child over IPC).
 * @param timeoutMs - Reject after this long, naming `what`.
 * @param what - What is awaited, for the error message.
 * @example await waitFor(async () => (await server.request<number>("clients")) >= 100, 30_000, "100 clients");
 */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** What {@link drain} needs of a load generator: one load process (a Worker) or a {@link LoadPool}. */
export interface LoadControl {
  request<T>(cmd: string): Promise<T>;
}

/**
 * Wait until the load process counted `expected` frames, or nothing arrived for `idleMs`, or `maxMs` passed.
 * @param load - The load process (clients.ts).
 * @param expected - Frames that complete delivery (events × clients).
 * @param idleMs - Give up after this long without a new frame.
 * @param maxMs - Give up after this long in any case.
 * @example await drain(load, report.events * clients, 1000, 5000);
 */
export async function drain(load: LoadControl, expected: number, idleMs: number, maxMs: number): Promise<void> {
  const started = Date.now();
  let lastFrames = -1;
  let lastProgress = Date.now();
  for (;;) {
    const status = await load.request<StatusResult>("status");
    if (status.frames >= expected) return;
    const now = Date.now();
    if (status.frames !== lastFrames) {
      lastFrames = status.frames;
      lastProgress = now;
    } else if (now - lastProgress > idleMs) return;
    if (now - started > maxMs) return;
    await sleep(25);
  }
}

/**
 * Whether every client got every event of a load and, if not, why (shared by
 * the SSE and Redis sections). `extraReasons` are the caller's own failures.
 * @example const { ok, ratio, note } = deliveryVerdict(collected, expected);
 */
export function deliveryVerdict(collected: CollectResult, expected: number, extraReasons: string[] = []): { ok: boolean; ratio: number; note?: string } {
  const ratio = expected > 0 ? collected.frames / expected : 0;
  const reasons = [...extraReasons];
  if (collected.closedEarly > 0) reasons.push(`${collected.closedEarly} connections closed by the server`);
  if (collected.clientsShort > 0) reasons.push(`${collected.clientsShort} clients short`);
  const ok = collected.frames >= expected && reasons.length === 0;
  return ok ? { ok, ratio } : { ok, ratio, note: reasons.join(", ") || "not all events delivered" };
}

/**
 * After a system failed part-way: a FAIL row (from `make`) for every load it never reported.
 * @example failUnrunLoads(rows, config.loads, (load) => emptyRow(system, clients, load, "FAIL", message));
 */
export function failUnrunLoads<Row extends { rate: number; size: number }>(rows: Row[], loads: readonly SseLoad[], make: (load: SseLoad) => Row): void {
  for (const load of loads) if (!rows.some((row) => row.rate === load.rate && row.size === load.size)) rows.push(make(load));
}

/** Ask a load process to close its clients, then stop it. */
export async function stopLoad(load: Worker | LoadPool | undefined): Promise<void> {
  if (!load) return;
  await load.request("close").catch(() => {});
  await load.stop();
}

function emptyRow(system: string, clients: number, load: SseLoad, status: SseRow["status"], note: string): SseRow {
  return {
    system,
    label: SSE_SYSTEMS[system]?.label ?? system,
    clients,
    rate: load.rate,
    size: load.size,
    status,
    note,
    publishedEvents: 0,
    skippedTicks: 0,
    expectedDeliveries: 0,
    delivered: 0,
    deliveredRatio: 0,
    deliveredPerSec: 0,
    ratioToFloor: null,
    latency: { count: 0, p50: 0, p99: 0, max: 0 },
    sendP99Ms: 0,
    serverCpuPct: 0,
    deliveriesPerCpuSec: 0,
    efficiencyToFloor: null,
    loadCpuPct: 0,
    loadCpu: markLoadCpu([], 1),
    otherLoad: null,
    closedEarly: 0,
    clientsShort: 0,
  };
}

/** How the load generator is laid out for one client count. */
interface LoadLayout {
  processes: number;
  /** Source addresses per process. */
  addressesPerProcess: number;
  /** Cores to pin load processes to (empty: not pinned). */
  cores: number[];
  /** Cores the load processes can use. */
  coreCount: number;
}

async function runOne(system: string, clients: number, config: BenchConfig["sse"], context: RunContext, layout: LoadLayout, result: SseSectionResult): Promise<void> {
  const definition = SSE_SYSTEMS[system];
  if (!definition) throw new Error(`unknown SSE system ${system}`);
  let server: Worker | undefined;
  let load: LoadPool | undefined;
  const rows: SseRow[] = [];
  try {
    server = await Worker.start(definition.script, {
      label: `sse server ${system}`,
      core: context.serverCore,
      exposeGc: true,
      fdLimit: context.fdLimit,
      nodeFlags: context.profileSystems.has(system) ? context.cpuProfFlags(`sse-${system}-${clients}`) : [],
    });
    load = await LoadPool.start({
      processes: layout.processes,
      cores: layout.cores,
      unpinnedCores: layout.coreCount,
      fdLimit: context.fdLimit,
      // `--cpu-prof=sse-load` profiles the load generator, to see what limits it.
      nodeFlags: (index) => (context.profileSystems.has("sse-load") ? context.cpuProfFlags(`sse-load-${system}-${clients}-${index + 1}`) : []),
    });
    const port = server.info.port as number;
    const before = await server.request<MemoryReading>("memory");
    const connected = await load.connect({ port, path: "/sse", clients, latencyEvery: config.latencyEvery, concurrency: 256, addressesPerProcess: layout.addressesPerProcess });
    if (connected.failures > 0) throw new Error(`${connected.failures} of ${clients} connections failed: ${connected.firstError}`);
    const srv = server;
    await waitFor(async () => (await srv.request<number>("clients")) >= clients, 30_000, `${clients} clients on the server`);
    // Let opening frames (comments, retry hints) arrive before anything is counted.
    await sleep(200);
    const after = await server.request<MemoryReading>("memory");
    result.memory.push({
      system,
      label: definition.label,
      clients,
      heapPerConnection: Math.round((after.heapUsed - before.heapUsed) / clients),
      rssPerConnection: Math.round((after.rss - before.rss) / clients),
      heapRatioToRaw: null,
      rssRatioToRaw: null,
      before,
      after,
    });
    context.log(`sse ${system} N=${clients}: connected in ${connected.ms} ms (${load.size} load process${load.size > 1 ? "es" : ""}), ${Math.round((after.heapUsed - before.heapUsed) / clients)} B heap/connection`);

    let failed: string | undefined;
    for (const sseLoad of config.loads) {
      if (failed) {
        rows.push(emptyRow(system, clients, sseLoad, "skipped", `skipped: a lighter load failed (${failed})`));
        continue;
      }
      await load.reset();
      const monitor = InterferenceMonitor.start([server.pid, ...load.pids]);
      const report = await server.request<PublishReport>(
        "publish",
        { rate: sseLoad.rate, size: sseLoad.size, tickEvents: config.tickEvents, durationMs: config.publishMs },
        config.publishMs + 180_000,
      );
      const expected = report.events * clients;
      await drain(load, expected, config.drainIdleMs, config.drainMaxMs);
      const cpu = await server.request<{ cpuUs: number; at: number }>("cpu");
      const collected = await load.collect(report.events);
      const otherLoad = monitor.stop();
      const windowMs = Math.max(1, (collected.lastFrameAt || cpu.at) - report.startedAt);
      const { ok, ratio, note } = deliveryVerdict(collected, expected);
      if (!ok) failed = note;
      const deliveredPerSec = Math.round((collected.frames * 1000) / windowMs);
      const serverCpuPct = Math.round(((cpu.cpuUs - report.cpuStartUs) / 1000 / Math.max(1, cpu.at - report.startedAt)) * 1000) / 10;
      rows.push({
        system,
        label: definition.label,
        clients,
        rate: sseLoad.rate,
        size: sseLoad.size,
        status: ok ? "ok" : "FAIL",
        ...(note ? { note } : {}),
        publishedEvents: report.events,
        skippedTicks: report.skippedTicks,
        expectedDeliveries: expected,
        delivered: collected.frames,
        deliveredRatio: Math.round(ratio * 10_000) / 10_000,
        deliveredPerSec,
        ratioToFloor: null,
        latency: collected.latency,
        sendP99Ms: report.sendMs.p99,
        serverCpuPct,
        deliveriesPerCpuSec: serverCpuPct > 0 ? Math.round(deliveredPerSec / (serverCpuPct / 100)) : 0,
        efficiencyToFloor: null,
        loadCpuPct: collected.cpuPct,
        loadCpu: collected.loadCpu,
        otherLoad,
        closedEarly: collected.closedEarly,
        clientsShort: collected.clientsShort,
      });
      const row = rows[rows.length - 1]!;
      const loadCpu = row.loadCpu;
      context.log(
        `sse ${system} N=${clients} ${sseLoad.rate}/s ${sseLoad.size} B: ${row.deliveredPerSec} deliveries/s, ${(ratio * 100).toFixed(1)}%, p99 ${row.latency.p99} ms, cpu ${row.serverCpuPct}% (load ${loadCpu.sumPct}%, max ${loadCpu.maxPct}% over ${loadCpu.processes}${loadCpu.over ? ", OVER 70%" : ""})${otherLoad === null ? "" : `, other processes ${Math.round(otherLoad * 100)}%`}${note ? ` FAIL: ${note}` : ""}`,
      );
      await sleep(100);
    }
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
    context.log(`sse ${system} N=${clients}: FAILED ${message}`);
    failUnrunLoads(rows, config.loads, (sseLoad) => emptyRow(system, clients, sseLoad, "FAIL", message));
  } finally {
    await stopLoad(load);
    await server?.stop();
  }
  result.rows.push(...rows);
}

/**
 * Where the load processes run: pinned, on every core but the server's (from
 * the runner's load core up); not pinned, on every core but one (the server's share).
 */
function loadCores(context: RunContext): { cores: number[]; coreCount: number } {
  const total = availableParallelism();
  if (context.loadCore === undefined) return { cores: [], coreCount: Math.max(1, total - 1) };
  const cores: number[] = [];
  for (let core = context.loadCore; core < total; core++) if (core !== context.serverCore) cores.push(core);
  return { cores, coreCount: cores.length };
}

/**
 * Run the SSE fan-out and memory section: for each client count, each system
 * in turn gets a fresh server and a fresh load generator (one or more load
 * processes, see load-pool.ts), then every row is compared with the floor.
 * @param config - The run's `sse` settings.
 * @param context - Pinning, limits and progress output.
 * @example const sse = await runSseSection(QUICK.sse, context); // sse.rows, sse.memory
 */
export async function runSseSection(config: BenchConfig["sse"], context: RunContext): Promise<SseSectionResult> {
  const result: SseSectionResult = {
    tickEvents: config.tickEvents,
    publishMs: config.publishMs,
    latencyEvery: config.latencyEvery,
    sourceAddresses: {},
    loadProcesses: {},
    rows: [],
    memory: [],
  };
  // Keep well inside one address's ephemeral ports (TIME_WAIT from earlier rounds still holds some).
  const perAddress = Math.floor(ephemeralPortCount() / 2);
  const { cores, coreCount } = loadCores(context);
  const ticksPerSec = Math.max(...config.loads.map((load) => load.rate / config.tickEvents));
  for (const clients of config.clients) {
    const processes = config.loadProcesses > 0 ? Math.max(config.loadProcesses, Math.ceil(clients / MAX_CLIENTS_PER_LOAD_PROCESS)) : loadProcessCount(clients, ticksPerSec, coreCount);
    const addressesPerProcess = Math.max(1, Math.ceil(Math.ceil(clients / processes) / perAddress));
    result.loadProcesses[clients] = processes;
    result.sourceAddresses[clients] = processes * addressesPerProcess;
    const layout: LoadLayout = { processes, addressesPerProcess, cores, coreCount };
    for (const system of config.systems) await runOne(system, clients, config, context, layout, result);
  }
  compareWithFloor(result);
  return result;
}

/**
 * Fill in every row's ratios to the floor on the same load, and every memory row's to node:http.
 * @param result - The section's rows, as measured.
 */
export function compareWithFloor(result: Pick<SseSectionResult, "rows" | "memory">): void {
  for (const row of result.rows) {
    const floor = result.rows.find((other) => other.system === SSE_FLOOR && other.clients === row.clients && other.rate === row.rate && other.size === row.size);
    if (!floor || floor.status !== "ok" || row.status === "skipped") continue;
    // A row that failed delivery still gets a throughput ratio (of what did arrive), but no efficiency.
    if (floor.deliveredPerSec > 0) row.ratioToFloor = Math.round((row.deliveredPerSec / floor.deliveredPerSec) * 1000) / 1000;
    if (row.status === "ok" && floor.deliveriesPerCpuSec > 0) row.efficiencyToFloor = Math.round((row.deliveriesPerCpuSec / floor.deliveriesPerCpuSec) * 1000) / 1000;
  }
  for (const row of result.memory) {
    const raw = result.memory.find((other) => other.system === SSE_NODE_HTTP && other.clients === row.clients);
    if (!raw) continue;
    row.heapRatioToRaw = raw.heapPerConnection > 0 ? Math.round((row.heapPerConnection / raw.heapPerConnection) * 100) / 100 : null;
    row.rssRatioToRaw = raw.rssPerConnection > 0 ? Math.round((row.rssPerConnection / raw.rssPerConnection) * 100) / 100 : null;
  }
}
