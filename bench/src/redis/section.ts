/**
 * The Redis section: what scaling out through `redisBroker()` from
 * @cellojs/redis costs. Two Cello.ts instances (separate processes) share
 * Redis; the clients are split half/half across them and events are published
 * on instance A only. The same load runs on one instance with the in-memory
 * broker. Per load: delivered events/s, the delivered ratio (under 100% is a
 * FAIL), publish-to-receive latency, and the CPU of each instance and of Redis.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { BenchConfig, SseLoad } from "../config.js";
import type { RunContext } from "../context.js";
import type { ExtraSection } from "../harness.js";
import { InterferenceMonitor } from "../interference.js";
import { wallNow } from "../ipc.js";
import { ephemeralPortCount } from "../machine.js";
import { bytes, interferenceLine, ms, table, thousands } from "../report.js";
import type { CollectResult, ConnectResult } from "../sse/clients.js";
import { deliveryVerdict, drain, failUnrunLoads, sleep, stopLoad, waitFor, type LoadRow } from "../sse/section.js";
import type { PublishReport } from "../sse/servers/serve.js";
import { Worker } from "../worker.js";
import { redactUrl, RedisAdmin, redisUrl } from "./admin.js";
import type { PublishErrors } from "./server.js";

/** The two setups compared on each load. */
export type RedisSetup = "memory" | "redis";

/** How each setup is named in the report. */
export const REDIS_SETUP_LABELS: Record<RedisSetup, string> = {
  memory: "Cello.ts, in-memory broker (1 instance)",
  redis: "Cello.ts + Redis (2 instances, publish on A)",
};

/** One load on one setup at one client count. */
export interface RedisRow extends LoadRow {
  setup: RedisSetup;
  /** Publishes the broker rejected (their events reached nobody). */
  publishErrors: number;
  /** CPU of each instance (A first) over the load, % of one core. */
  instanceCpuPct: number[];
  /** Redis's CPU over the load (INFO cpu), % of one core; null for the in-memory setup. deliveriesPerCpuSec counts every instance plus Redis. */
  redisCpuPct: number | null;
  /** deliveriesPerCpuSec over the in-memory setup's on the same load and N (null for that setup, or without its figure). */
  efficiencyToMemory: number | null;
}

/** The section's result: either Redis did not answer, or the rows. */
export type RedisSectionResult =
  | {
      available: false;
      /** The Redis URL, password masked. */
      url: string;
      reason: string;
    }
  | {
      available: true;
      url: string;
      redisVersion: string;
      /** Whether Redis runs on this machine (its CPU then also counts as ours in the interference figures). */
      redisLocal: boolean;
      /** The run's key prefix; every key under it was deleted at the end. */
      prefix: string;
      keysDeleted: number;
      /** Keys still under the prefix after the cleanup (0 unless the deletion failed). */
      keysLeft: number;
      tickEvents: number;
      publishMs: number;
      latencyEvery: number;
      rows: RedisRow[];
    };

const SERVER_SCRIPT = fileURLToPath(new URL("./server.ts", import.meta.url));
const LOAD_SCRIPT = fileURLToPath(new URL("../sse/clients.ts", import.meta.url));
const INSTANCE_NAMES = ["A", "B"];

function emptyRow(setup: RedisSetup, clients: number, load: SseLoad, status: RedisRow["status"], note: string): RedisRow {
  return {
    setup,
    label: REDIS_SETUP_LABELS[setup],
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
    redisCpuPct: null,
    deliveriesPerCpuSec: 0,
    efficiencyToMemory: null,
    loadCpuPct: 0,
    otherLoad: null,
    closedEarly: 0,
    clientsShort: 0,
  };
}

const percentOfCore = (cpuUs: number, wallMs: number) => Math.round((cpuUs / 1000 / Math.max(1, wallMs)) * 1000) / 10;

interface SetupRun {
  setup: RedisSetup;
  clients: number;
  config: BenchConfig["redis"];
  context: RunContext;
  url: string;
  /** Key prefix of this round's streams (under the run's prefix). */
  prefix: string;
  admin: RedisAdmin;
  redisPid: number | undefined;
  sourceAddresses: number;
}

async function runSetup(run: SetupRun): Promise<RedisRow[]> {
  const { setup, clients, config, context } = run;
  const rows: RedisRow[] = [];
  const servers: Worker[] = [];
  let load: Worker | undefined;
  try {
    const instances = setup === "redis" ? 2 : 1;
    const started = await Promise.allSettled(
      INSTANCE_NAMES.slice(0, instances).map((name) =>
        Worker.start(SERVER_SCRIPT, {
          label: `redis-section ${setup} instance ${name}`,
          // Both instances share the server core: the pair gets the same CPU budget as the single instance (plus Redis).
          core: context.serverCore,
          fdLimit: context.fdLimit,
          args: [`--broker=${setup}`, `--prefix=${run.prefix}`],
          env: { REDIS_URL: run.url },
          nodeFlags: context.profileSystems.has("redis") ? context.cpuProfFlags(`redis-${setup}-${clients}-${name}`) : [],
        }),
      ),
    );
    for (const outcome of started) if (outcome.status === "fulfilled") servers.push(outcome.value);
    const failedStart = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    if (failedStart) throw failedStart.reason;
    load = await Worker.start(LOAD_SCRIPT, { label: "redis-section load", core: context.loadCore, fdLimit: context.fdLimit });

    // Half the clients on each instance; A, the publisher, gets the odd one.
    const shares = setup === "redis" ? [Math.ceil(clients / 2), Math.floor(clients / 2)] : [clients];
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
    // A Redis subscription goes live once its instance has read where the stream
    // ends (a round trip after the client is counted): one warm-up tick, delivered
    // to every client, proves every client live before anything is measured.
    const publisher = servers[0]!;
    const warmup = await publisher.request<PublishReport>("publish", { rate: 100, size: config.loads[0]?.size ?? 128, tickEvents: config.tickEvents, durationMs: 0 });
    await drain(load, warmup.events * clients, config.drainIdleMs, config.drainMaxMs);
    context.log(`redis ${setup} N=${clients}: connected in ${Date.now() - connectStarted} ms`);

    let failed: string | undefined;
    for (const redisLoad of config.loads) {
      if (failed) {
        rows.push(emptyRow(setup, clients, redisLoad, "skipped", `skipped: a lighter load failed (${failed})`));
        continue;
      }
      await load.request("reset");
      const errorsBefore = await publisher.request<PublishErrors>("publishErrors");
      const monitor = InterferenceMonitor.start([...servers.map((server) => server.pid), load.pid, ...(run.redisPid ? [run.redisPid] : [])]);
      const othersBefore = await Promise.all(servers.slice(1).map((server) => server.request<{ cpuUs: number; at: number }>("cpu")));
      const redisBefore = setup === "redis" ? { cpu: await run.admin.cpuSeconds(), at: wallNow() } : undefined;
      const report = await publisher.request<PublishReport>(
        "publish",
        { rate: redisLoad.rate, size: redisLoad.size, tickEvents: config.tickEvents, durationMs: config.publishMs },
        config.publishMs + 180_000,
      );
      const expected = report.events * clients;
      await drain(load, expected, config.drainIdleMs, config.drainMaxMs);
      const cpus = await Promise.all(servers.map((server) => server.request<{ cpuUs: number; at: number }>("cpu")));
      const redisAfter = redisBefore ? { cpu: await run.admin.cpuSeconds(), at: wallNow() } : undefined;
      const collected = await load.request<CollectResult>("collect", { expectedPerClient: report.events });
      const errorsAfter = await publisher.request<PublishErrors>("publishErrors");
      const otherLoad = monitor.stop();

      const instanceCpuPct = cpus.map((cpu, index) =>
        index === 0 ? percentOfCore(cpu.cpuUs - report.cpuStartUs, cpu.at - report.startedAt) : percentOfCore(cpu.cpuUs - othersBefore[index - 1]!.cpuUs, cpu.at - othersBefore[index - 1]!.at),
      );
      const redisCpuPct = redisBefore && redisAfter ? percentOfCore((redisAfter.cpu - redisBefore.cpu) * 1e6, redisAfter.at - redisBefore.at) : null;
      const publishErrors = errorsAfter.count - errorsBefore.count;
      const windowMs = Math.max(1, (collected.lastFrameAt || cpus[0]!.at) - report.startedAt);
      const { ok, ratio, note } = deliveryVerdict(collected, expected, publishErrors > 0 ? [`${publishErrors} publishes rejected (${errorsAfter.first})`] : []);
      if (!ok) failed = note;
      const deliveredPerSec = Math.round((collected.frames * 1000) / windowMs);
      const serverSideCpuPct = instanceCpuPct.reduce((sum, pct) => sum + pct, 0) + (redisCpuPct ?? 0);
      rows.push({
        setup,
        label: REDIS_SETUP_LABELS[setup],
        clients,
        rate: redisLoad.rate,
        size: redisLoad.size,
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
        redisCpuPct,
        deliveriesPerCpuSec: serverSideCpuPct > 0 ? Math.round(deliveredPerSec / (serverSideCpuPct / 100)) : 0,
        efficiencyToMemory: null,
        loadCpuPct: collected.cpuPct,
        otherLoad,
        closedEarly: collected.closedEarly,
        clientsShort: collected.clientsShort,
      });
      const row = rows[rows.length - 1]!;
      context.log(
        `redis ${setup} N=${clients} ${redisLoad.rate}/s ${redisLoad.size} B: ${row.deliveredPerSec} deliveries/s, ${(ratio * 100).toFixed(1)}%, p99 ${row.latency.p99} ms, cpu ${instanceCpuPct.map((pct, index) => `${INSTANCE_NAMES[index]} ${pct}%`).join(" ")}${redisCpuPct === null ? "" : ` Redis ${redisCpuPct}%`} (clients ${row.loadCpuPct}%)${otherLoad === null ? "" : `, other processes ${Math.round(otherLoad * 100)}%`}${note ? ` FAIL: ${note}` : ""}`,
      );
      await sleep(100);
    }
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
    context.log(`redis ${setup} N=${clients}: FAILED ${message}`);
    failUnrunLoads(rows, config.loads, (redisLoad) => emptyRow(setup, clients, redisLoad, "FAIL", message));
  } finally {
    await stopLoad(load);
    await Promise.all(servers.map((server) => server.stop()));
  }
  return rows;
}

/**
 * Run the Redis section: per client count, the in-memory setup then the Redis
 * pair, each with fresh processes. When Redis does not answer, the result says
 * so and nothing runs (a benchmark reports; it does not fail).
 *
 * @param config - The run's `redis` settings.
 * @param context - Pinning, limits and progress output.
 * @param url - The Redis URL. Default: `REDIS_URL`, else `redis://127.0.0.1:6379`.
 * @example const redis = await runRedisSection(QUICK.redis, context); // redis.available && redis.rows
 */
export async function runRedisSection(config: BenchConfig["redis"], context: RunContext, url = redisUrl()): Promise<RedisSectionResult> {
  let admin: RedisAdmin;
  try {
    admin = await RedisAdmin.connect(url);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    context.log(`redis: Redis at ${redactUrl(url)} does not answer (${reason}); section not run`);
    return { available: false, url: redactUrl(url), reason };
  }
  // Keys only this run uses, deleted at the end: the Redis may be shared, so nothing is flushed.
  const prefix = `cello-bench:${process.pid}-${randomBytes(4).toString("hex")}:`;
  const rows: RedisRow[] = [];
  let keysDeleted = 0;
  let keysLeft = 0;
  let info: Awaited<ReturnType<RedisAdmin["info"]>>;
  try {
    info = await admin.info();
    context.log(`redis: Redis ${info.version} at ${redactUrl(url)}${info.localPid ? ` (pid ${info.localPid}, not pinned)` : ""}, key prefix ${prefix}`);
    const perAddress = Math.floor(ephemeralPortCount() / 2);
    for (const clients of config.clients) {
      const sourceAddresses = Math.max(1, Math.ceil(clients / perAddress));
      for (const setup of ["memory", "redis"] as const) {
        // A fresh stream per round: no history from an earlier round.
        rows.push(...(await runSetup({ setup, clients, config, context, url, prefix: `${prefix}${clients}:`, admin, redisPid: info.localPid, sourceAddresses })));
      }
    }
  } finally {
    try {
      keysDeleted = await admin.deleteKeys(prefix);
      keysLeft = await admin.countKeys(prefix);
    } catch (err) {
      context.log(`redis: could not delete the keys under ${prefix}: ${err instanceof Error ? err.message : String(err)}`);
      keysLeft = -1;
    }
    admin.close();
  }
  for (const row of rows) {
    if (row.setup === "memory" || row.status !== "ok") continue;
    const memory = rows.find((other) => other.setup === "memory" && other.clients === row.clients && other.rate === row.rate && other.size === row.size && other.status === "ok");
    if (memory && memory.deliveriesPerCpuSec > 0) row.efficiencyToMemory = Math.round((row.deliveriesPerCpuSec / memory.deliveriesPerCpuSec) * 1000) / 1000;
  }
  return {
    available: true,
    url: redactUrl(url),
    redisVersion: info.version,
    redisLocal: info.localPid !== undefined,
    prefix,
    keysDeleted,
    keysLeft,
    tickEvents: config.tickEvents,
    publishMs: config.publishMs,
    latencyEvery: config.latencyEvery,
    rows,
  };
}

function deliveredCell(row: RedisRow): string {
  if (row.status === "skipped") return "skipped";
  const percent = `${(row.deliveredRatio * 100).toFixed(row.deliveredRatio >= 1 ? 0 : 1)}%`;
  return row.status === "ok" ? percent : `**FAIL** ${percent}`;
}

/**
 * The section's markdown: one table per client count, or why it did not run.
 * @param result - What {@link runRedisSection} returned.
 * @example renderRedisSection(await runRedisSection(QUICK.redis, context))
 */
export function renderRedisSection(result: RedisSectionResult): string {
  if (!result.available) {
    return [
      `**Not run**: Redis at ${result.url} did not answer (${result.reason}).`,
      `Start it (\`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\`) or set REDIS_URL, then rerun with \`--sections=redis\`.`,
    ].join("\n");
  }
  const parts = [
    `Cello.ts (\`channel.publish\` once per event) on two instances, separate processes both on the server core, sharing Redis ${result.redisVersion} at ${result.url}${result.redisLocal ? " (same machine, not pinned)" : ""} through \`redisBroker()\` from @cellojs/redis, against one instance with the in-memory broker on the same load.`,
    `The clients, in a separate process, are split half/half across the two instances; events are published on instance A only, so every event crosses Redis (A's own clients too: each instance delivers what its reader gets from \`XREAD\`).`,
    `Ticks of ${result.tickEvents} events for ${result.publishMs / 1000} s per load; 1 in ${result.latencyEvery} clients measures publish-to-receive latency (wall clock, from before \`channel.publish\` to arrival).`,
    `"delivered" is events received over events published x clients (anything under 100% is a FAIL). "Redis CPU" is \`INFO cpu\` (user + system) over the load and includes any other client of that Redis;`,
    `"per CPU-s" is delivered/s over the CPU of every server-side process (the instances plus Redis), and "x in-memory" compares it with the single in-memory instance: what scaling out through Redis costs per delivered event.`,
    `Every key was under the run's own prefix (${result.prefix}); ${result.keysDeleted} deleted after the run${result.keysLeft > 0 ? `, **${result.keysLeft} left**` : result.keysLeft < 0 ? ", **deletion failed**" : ""}.`,
    "",
    interferenceLine(result.rows.map((row) => row.otherLoad), "load"),
  ];
  for (const clients of [...new Set(result.rows.map((row) => row.clients))]) {
    const rows = result.rows
      .filter((row) => row.clients === clients)
      .sort((a, b) => a.rate - b.rate || a.size - b.size || (a.setup === b.setup ? 0 : a.setup === "memory" ? -1 : 1))
      .map((row) => {
        const measured = row.status !== "skipped" && row.publishedEvents > 0;
        const dash = (text: string) => (measured ? text : "-");
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
          dash(row.redisCpuPct === null ? "-" : `${row.redisCpuPct}%`),
          dash(`${row.loadCpuPct}%`),
          row.status === "ok" ? thousands(row.deliveriesPerCpuSec) : "-",
          row.status !== "ok" ? "-" : row.setup === "memory" ? "1.00x" : row.efficiencyToMemory === null ? "-" : `${row.efficiencyToMemory.toFixed(2)}x`,
        ];
      });
    parts.push(
      "",
      `### ${thousands(clients)} clients`,
      "",
      table(["Load", "Setup", "delivered/s", "delivered", "p50 ms", "p99 ms", "max ms", "CPU A", "CPU B", "Redis CPU", "clients CPU", "per CPU-s", "x in-memory"], rows),
    );
    const notes = result.rows.filter((row) => row.clients === clients && row.note && row.status !== "skipped").map((row) => `- ${row.label}, ${row.rate}/s x ${bytes(row.size)}: ${row.note}`);
    const skipped = result.rows
      .filter((row) => row.clients === clients && row.skippedTicks > 0)
      .map((row) => `- ${row.label}, ${row.rate}/s x ${bytes(row.size)}: ${row.skippedTicks} ticks skipped (publisher saturated, published below the offered rate)`);
    if (notes.length + skipped.length > 0) parts.push("", ...notes, ...skipped);
  }
  return parts.join("\n");
}

/**
 * The Redis section as the runner's {@link ExtraSection} (id `redis`).
 * @example await runBench({ config: QUICK, extraSections: [REDIS_SECTION] });
 */
export const REDIS_SECTION: ExtraSection = {
  id: "redis",
  title: "Redis broker: two instances sharing Redis",
  connections: (config) => Math.max(0, ...config.redis.clients),
  run: (context, config) => runRedisSection(config.redis, context),
  render: (result) => renderRedisSection(result as RedisSectionResult),
};
