/**
 * What the broker sections (redis/section.ts, postgres/section.ts) share: two
 * Cello.ts instances (separate processes) on the section's broker, the clients
 * split half/half across them and events published on instance A only, against
 * one instance with the in-memory broker on the same load. Per load: delivered
 * events/s, the delivered ratio (under 100% is a FAIL), publish-to-receive
 * latency, and the CPU of each instance and of the broker. Each section keeps
 * what differs: how it reaches and cleans its broker, its names, its prose.
 */
import { fileURLToPath } from "node:url";
import type { BenchConfig, SseLoad } from "../config.js";
import type { RunContext } from "../context.js";
import { InterferenceMonitor } from "../interference.js";
import { wallNow } from "../ipc.js";
import { ephemeralPortCount } from "../machine.js";
import { bytes, interferenceLine, ms, table, thousands } from "../report.js";
import type { CollectResult, ConnectResult } from "../sse/clients.js";
import { deliveryVerdict, drain, failUnrunLoads, sleep, stopLoad, waitFor, type LoadRow } from "../sse/section.js";
import type { PublishReport } from "../sse/servers/serve.js";
import { Worker } from "../worker.js";
import type { PublishErrors } from "./server.js";

/** One load on one setup at one client count, without the broker's CPU (each section names that field). */
export interface BrokerRowBase<Id extends string> extends LoadRow {
  setup: "memory" | Id;
  /** Publishes the broker rejected (their events reached nobody). */
  publishErrors: number;
  /** CPU of each instance (A first) over the load, % of one core. */
  instanceCpuPct: number[];
  /** deliveriesPerCpuSec over the in-memory setup's on the same load and N (null for that setup, or without its figure). */
  efficiencyToMemory: number | null;
}

/** A section's broker, as the shared runner needs it. */
export interface BrokerBench<Id extends string, Row extends BrokerRowBase<Id>> {
  /** The section id: log prefix, profile system, the server's `--broker` value. */
  id: Id;
  /** The broker's name in log lines (`Redis`). */
  name: string;
  /** How each setup is named in the report. */
  labels: Record<"memory" | Id, string>;
  /** The section's server script (serves brokers/server.ts). */
  serverScript: string;
  /** The environment each instance gets (the broker's URL). */
  env: Record<string, string>;
  /** The broker's CPU-seconds so far; absent when it cannot be measured (a remote server). */
  cpuSeconds?: () => Promise<number> | number;
  /** Processes the interference monitor leaves out besides ours (a local broker). */
  pids: number[];
  /** The full row: the shared fields plus the broker's CPU under the section's field name. */
  row(base: BrokerRowBase<Id>, brokerCpuPct: number | null): Row;
}

const LOAD_SCRIPT = fileURLToPath(new URL("../sse/clients.ts", import.meta.url));
const INSTANCE_NAMES = ["A", "B"];

function emptyRow<Id extends string, Row extends BrokerRowBase<Id>>(bench: BrokerBench<Id, Row>, setup: "memory" | Id, clients: number, load: SseLoad, status: LoadRow["status"], note: string): Row {
  return bench.row(
    {
      setup,
      label: bench.labels[setup],
      clients,
      rate: load.rate,
      size: load.size,
      status,
      note,
      publishedEvents: 0,
      skippedTicks: 0,
      publishErrors: 0,
      expectedDeliveries: 0,
      delivered: 0,
      deliveredRatio: 0,
      deliveredPerSec: 0,
      latency: { count: 0, p50: 0, p99: 0, max: 0 },
      instanceCpuPct: [],
      deliveriesPerCpuSec: 0,
      efficiencyToMemory: null,
      loadCpuPct: 0,
      otherLoad: null,
      closedEarly: 0,
      clientsShort: 0,
    },
    null,
  );
}

const percentOfCore = (cpuUs: number, wallMs: number) => Math.round((cpuUs / 1000 / Math.max(1, wallMs)) * 1000) / 10;

interface SetupRun {
  setup: string;
  clients: number;
  config: BenchConfig["redis"];
  context: RunContext;
  /** Prefix of this round's keys or tables (under the run's prefix). */
  prefix: string;
  sourceAddresses: number;
}

async function runSetup<Id extends string, Row extends BrokerRowBase<Id>>(bench: BrokerBench<Id, Row>, run: SetupRun & { setup: "memory" | Id }): Promise<Row[]> {
  const { setup, clients, config, context } = run;
  const { id } = bench;
  const rows: Row[] = [];
  const servers: Worker[] = [];
  let load: Worker | undefined;
  try {
    const instances = setup === id ? 2 : 1;
    const started = await Promise.allSettled(
      INSTANCE_NAMES.slice(0, instances).map((name) =>
        Worker.start(bench.serverScript, {
          label: `${id}-section ${setup} instance ${name}`,
          // Both instances share the server core: the pair gets the same CPU budget as the single instance (plus the broker).
          core: context.serverCore,
          fdLimit: context.fdLimit,
          args: [`--broker=${setup}`, `--prefix=${run.prefix}`],
          env: bench.env,
          nodeFlags: context.profileSystems.has(id) ? context.cpuProfFlags(`${id}-${setup}-${clients}-${name}`) : [],
        }),
      ),
    );
    for (const outcome of started) if (outcome.status === "fulfilled") servers.push(outcome.value);
    const failedStart = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    if (failedStart) throw failedStart.reason;
    load = await Worker.start(LOAD_SCRIPT, { label: `${id}-section load`, core: context.loadCore, fdLimit: context.fdLimit });

    // Half the clients on each instance; A, the publisher, gets the odd one.
    const shares = setup === id ? [Math.ceil(clients / 2), Math.floor(clients / 2)] : [clients];
    const connectStarted = Date.now();
    for (const [index, server] of servers.entries()) {
      const connected = await load.request<ConnectResult>(
        "connect",
        { port: server.info.port as number, path: "/sse", clients: shares[index]!, latencyEvery: config.latencyEvery, concurrency: 256, sourceAddresses: run.sourceAddresses },
        120_000,
      );
      if (connected.failures > 0) throw new Error(`${connected.failures} of ${shares[index]} connections to instance ${INSTANCE_NAMES[index]} failed: ${connected.firstError}`);
    }
    for (const [index, server] of servers.entries()) {
      await waitFor(async () => (await server.request<number>("clients")) >= shares[index]!, 30_000, `${shares[index]} clients on instance ${INSTANCE_NAMES[index]}`);
    }
    // A subscription goes live once its instance has read where the stream or
    // channel ends (a round trip after the client is counted): one warm-up tick,
    // delivered to every client, proves every client live before anything is measured.
    const publisher = servers[0]!;
    const warmup = await publisher.request<PublishReport>("publish", { rate: 100, size: config.loads[0]?.size ?? 128, tickEvents: config.tickEvents, durationMs: 0 });
    await drain(load, warmup.events * clients, config.drainIdleMs, config.drainMaxMs);
    context.log(`${id} ${setup} N=${clients}: connected in ${Date.now() - connectStarted} ms`);

    let failed: string | undefined;
    for (const brokerLoad of config.loads) {
      if (failed) {
        rows.push(emptyRow(bench, setup, clients, brokerLoad, "skipped", `skipped: a lighter load failed (${failed})`));
        continue;
      }
      await load.request("reset");
      const errorsBefore = await publisher.request<PublishErrors>("publishErrors");
      const monitor = InterferenceMonitor.start([...servers.map((server) => server.pid), load.pid, ...bench.pids]);
      const othersBefore = await Promise.all(servers.slice(1).map((server) => server.request<{ cpuUs: number; at: number }>("cpu")));
      const cpuSeconds = setup === id ? bench.cpuSeconds : undefined;
      const brokerBefore = cpuSeconds ? { cpu: await cpuSeconds(), at: wallNow() } : undefined;
      const report = await publisher.request<PublishReport>(
        "publish",
        { rate: brokerLoad.rate, size: brokerLoad.size, tickEvents: config.tickEvents, durationMs: config.publishMs },
        config.publishMs + 180_000,
      );
      const expected = report.events * clients;
      await drain(load, expected, config.drainIdleMs, config.drainMaxMs);
      const cpus = await Promise.all(servers.map((server) => server.request<{ cpuUs: number; at: number }>("cpu")));
      const brokerAfter = cpuSeconds && brokerBefore ? { cpu: await cpuSeconds(), at: wallNow() } : undefined;
      const collected = await load.request<CollectResult>("collect", { expectedPerClient: report.events });
      const errorsAfter = await publisher.request<PublishErrors>("publishErrors");
      const otherLoad = monitor.stop();

      const instanceCpuPct = cpus.map((cpu, index) =>
        index === 0 ? percentOfCore(cpu.cpuUs - report.cpuStartUs, cpu.at - report.startedAt) : percentOfCore(cpu.cpuUs - othersBefore[index - 1]!.cpuUs, cpu.at - othersBefore[index - 1]!.at),
      );
      const brokerCpuPct = brokerBefore && brokerAfter ? percentOfCore((brokerAfter.cpu - brokerBefore.cpu) * 1e6, brokerAfter.at - brokerBefore.at) : null;
      const publishErrors = errorsAfter.count - errorsBefore.count;
      const windowMs = Math.max(1, (collected.lastFrameAt || cpus[0]!.at) - report.startedAt);
      const { ok, ratio, note } = deliveryVerdict(collected, expected, publishErrors > 0 ? [`${publishErrors} publishes rejected (${errorsAfter.first})`] : []);
      if (!ok) failed = note;
      const deliveredPerSec = Math.round((collected.frames * 1000) / windowMs);
      const serverSideCpuPct = instanceCpuPct.reduce((sum, pct) => sum + pct, 0) + (brokerCpuPct ?? 0);
      const row = bench.row(
        {
          setup,
          label: bench.labels[setup],
          clients,
          rate: brokerLoad.rate,
          size: brokerLoad.size,
          status: ok ? "ok" : "FAIL",
          ...(note ? { note } : {}),
          publishedEvents: report.events,
          skippedTicks: report.skippedTicks,
          publishErrors,
          expectedDeliveries: expected,
          delivered: collected.frames,
          deliveredRatio: Math.round(ratio * 10_000) / 10_000,
          deliveredPerSec,
          latency: collected.latency,
          instanceCpuPct,
          deliveriesPerCpuSec: serverSideCpuPct > 0 ? Math.round(deliveredPerSec / (serverSideCpuPct / 100)) : 0,
          efficiencyToMemory: null,
          loadCpuPct: collected.cpuPct,
          otherLoad,
          closedEarly: collected.closedEarly,
          clientsShort: collected.clientsShort,
        },
        brokerCpuPct,
      );
      rows.push(row);
      context.log(
        `${id} ${setup} N=${clients} ${brokerLoad.rate}/s ${brokerLoad.size} B: ${row.deliveredPerSec} deliveries/s, ${(ratio * 100).toFixed(1)}%, p99 ${row.latency.p99} ms, cpu ${instanceCpuPct.map((pct, index) => `${INSTANCE_NAMES[index]} ${pct}%`).join(" ")}${brokerCpuPct === null ? "" : ` ${bench.name} ${brokerCpuPct}%`} (clients ${row.loadCpuPct}%)${otherLoad === null ? "" : `, other processes ${Math.round(otherLoad * 100)}%`}${note ? ` FAIL: ${note}` : ""}`,
      );
      await sleep(100);
    }
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
    context.log(`${id} ${setup} N=${clients}: FAILED ${message}`);
    failUnrunLoads(rows, config.loads, (brokerLoad) => emptyRow(bench, setup, clients, brokerLoad, "FAIL", message));
  } finally {
    await stopLoad(load);
    await Promise.all(servers.map((server) => server.stop()));
  }
  return rows;
}

/**
 * Every round of a broker section: per client count, the in-memory setup then
 * the broker pair, each with fresh processes; then each pair's ratio to the
 * in-memory instance on the same load.
 * @param bench - The section's broker.
 * @param config - The section's settings.
 * @param context - Pinning, limits and progress output.
 * @param roundPrefix - The key or table prefix of a round at that client count (fresh per round: no history from an earlier one).
 * @example const rows = await runBrokerRounds(bench, config.redis, context, (clients) => `${prefix}${clients}:`);
 */
export async function runBrokerRounds<Id extends string, Row extends BrokerRowBase<Id>>(
  bench: BrokerBench<Id, Row>,
  config: BenchConfig["redis"],
  context: RunContext,
  roundPrefix: (clients: number) => string,
): Promise<Row[]> {
  const rows: Row[] = [];
  const perAddress = Math.floor(ephemeralPortCount() / 2);
  for (const clients of config.clients) {
    const sourceAddresses = Math.max(1, Math.ceil(clients / perAddress));
    for (const setup of ["memory", bench.id] as const) {
      rows.push(...(await runSetup(bench, { setup, clients, config, context, prefix: roundPrefix(clients), sourceAddresses })));
    }
  }
  return rows;
}

/**
 * Set each broker row's efficiencyToMemory from the in-memory row on the same load and N.
 * @param rows - A section's rows, changed in place.
 * @example compareToMemory(rows);
 */
export function compareToMemory(rows: BrokerRowBase<string>[]): void {
  for (const row of rows) {
    if (row.setup === "memory" || row.status !== "ok") continue;
    const memory = rows.find((other) => other.setup === "memory" && other.clients === row.clients && other.rate === row.rate && other.size === row.size && other.status === "ok");
    if (memory && memory.deliveriesPerCpuSec > 0) row.efficiencyToMemory = Math.round((row.deliveriesPerCpuSec / memory.deliveriesPerCpuSec) * 1000) / 1000;
  }
}

function deliveredCell(row: BrokerRowBase<string>): string {
  if (row.status === "skipped") return "skipped";
  const percent = `${(row.deliveredRatio * 100).toFixed(row.deliveredRatio >= 1 ? 0 : 1)}%`;
  return row.status === "ok" ? percent : `**FAIL** ${percent}`;
}

/**
 * The markdown after a broker section's prose: the interference line, then one table per client count with its notes.
 * @param rows - The section's rows.
 * @param cpuHeader - The broker CPU column's header (`Redis CPU`).
 * @param brokerCpuPct - A row's broker CPU figure.
 * @example parts.push(...renderBrokerTables(result.rows, "Redis CPU", (row) => row.redisCpuPct));
 */
export function renderBrokerTables<Row extends BrokerRowBase<string>>(rows: Row[], cpuHeader: string, brokerCpuPct: (row: Row) => number | null): string[] {
  const parts = ["", interferenceLine(rows.map((row) => row.otherLoad), "load")];
  for (const clients of [...new Set(rows.map((row) => row.clients))]) {
    const cells = rows
      .filter((row) => row.clients === clients)
      .sort((a, b) => a.rate - b.rate || a.size - b.size || (a.setup === b.setup ? 0 : a.setup === "memory" ? -1 : 1))
      .map((row) => {
        const measured = row.status !== "skipped" && row.publishedEvents > 0;
        const dash = (text: string) => (measured ? text : "-");
        const brokerCpu = brokerCpuPct(row);
        return [
          `${row.rate}/s x ${bytes(row.size)}`,
          row.label,
          dash(thousands(row.deliveredPerSec)),
          deliveredCell(row),
          dash(ms(row.latency.p50)),
          dash(ms(row.latency.p99)),
          dash(ms(row.latency.max)),
          dash(row.instanceCpuPct[0] === undefined ? "-" : `${row.instanceCpuPct[0]}%`),
          dash(row.instanceCpuPct[1] === undefined ? "-" : `${row.instanceCpuPct[1]}%`),
          dash(brokerCpu === null ? "-" : `${brokerCpu}%`),
          dash(`${row.loadCpuPct}%`),
          row.status === "ok" ? thousands(row.deliveriesPerCpuSec) : "-",
          row.status !== "ok" ? "-" : row.setup === "memory" ? "1.00x" : row.efficiencyToMemory === null ? "-" : `${row.efficiencyToMemory.toFixed(2)}x`,
        ];
      });
    parts.push(
      "",
      `### ${thousands(clients)} clients`,
      "",
      table(["Load", "Setup", "delivered/s", "delivered", "p50 ms", "p99 ms", "max ms", "CPU A", "CPU B", cpuHeader, "clients CPU", "per CPU-s", "x in-memory"], cells),
    );
    const notes = rows.filter((row) => row.clients === clients && row.note && row.status !== "skipped").map((row) => `- ${row.label}, ${row.rate}/s x ${bytes(row.size)}: ${row.note}`);
    const skipped = rows
      .filter((row) => row.clients === clients && row.skippedTicks > 0)
      .map((row) => `- ${row.label}, ${row.rate}/s x ${bytes(row.size)}: ${row.skippedTicks} ticks skipped (publisher saturated, published below the offered rate)`);
    if (notes.length + skipped.length > 0) parts.push("", ...notes, ...skipped);
  }
  return parts;
}
