/**
 * The PostgreSQL section: what scaling out through `postgresBroker()` from
 * @cellojs/postgres costs. Two Cello.ts instances (separate processes) share
 * one PostgreSQL; the clients are split half/half across them and events are
 * published on instance A only. The same load runs on one instance with the
 * in-memory broker. Per load: delivered events/s, the delivered ratio (under
 * 100% is a FAIL), publish-to-receive latency, and the CPU of each instance and
 * of PostgreSQL. Modelled on redis/section.ts, row for row.
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
import { PostgresAdmin, postgresUrl, redactUrl } from "./admin.js";
import type { PublishErrors } from "./server.js";

/** The two setups compared on each load. */
export type PostgresSetup = "memory" | "postgres";

/** How each setup is named in the report. */
export const POSTGRES_SETUP_LABELS: Record<PostgresSetup, string> = {
  memory: "Cello.ts, in-memory broker (1 instance)",
  postgres: "Cello.ts + PostgreSQL (2 instances, publish on A)",
};

/** One load on one setup at one client count. */
export interface PostgresRow extends LoadRow {
  setup: PostgresSetup;
  /** Publishes the broker rejected (their events reached nobody). */
  publishErrors: number;
  /** CPU of each instance (A first) over the load, % of one core. */
  instanceCpuPct: number[];
  /** PostgreSQL's CPU over the load (every `postgres` process), % of one core; null for the in-memory setup. deliveriesPerCpuSec counts every instance plus PostgreSQL. */
  postgresCpuPct: number | null;
  /** deliveriesPerCpuSec over the in-memory setup's on the same load and N (null for that setup, or without its figure). */
  efficiencyToMemory: number | null;
}

/** The section's result: either PostgreSQL did not answer, or the rows. */
export type PostgresSectionResult =
  | {
      available: false;
      /** The database URL, password masked. */
      url: string;
      reason: string;
    }
  | {
      available: true;
      url: string;
      postgresVersion: string;
      /** Whether PostgreSQL runs on this machine (its CPU is then measured). */
      postgresLocal: boolean;
      /** The run's table prefix; every table under it was dropped at the end. */
      prefix: string;
      tablesDropped: number;
      /** False when dropping the tables failed. */
      cleanedUp: boolean;
      tickEvents: number;
      publishMs: number;
      latencyEvery: number;
      rows: PostgresRow[];
    };

const SERVER_SCRIPT = fileURLToPath(new URL("./server.ts", import.meta.url));
const LOAD_SCRIPT = fileURLToPath(new URL("../sse/clients.ts", import.meta.url));
const INSTANCE_NAMES = ["A", "B"];

function emptyRow(setup: PostgresSetup, clients: number, load: SseLoad, status: PostgresRow["status"], note: string): PostgresRow {
  return {
    setup,
    label: POSTGRES_SETUP_LABELS[setup],
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
    postgresCpuPct: null,
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
  setup: PostgresSetup;
  clients: number;
  config: BenchConfig["postgres"];
  context: RunContext;
  url: string;
  /** Key prefix of this round's streams (under the run's prefix). */
  prefix: string;
  admin: PostgresAdmin;
  sourceAddresses: number;
}

async function runSetup(run: SetupRun): Promise<PostgresRow[]> {
  const { setup, clients, config, context } = run;
  const rows: PostgresRow[] = [];
  const servers: Worker[] = [];
  let load: Worker | undefined;
  try {
    const instances = setup === "postgres" ? 2 : 1;
    const started = await Promise.allSettled(
      INSTANCE_NAMES.slice(0, instances).map((name) =>
        Worker.start(SERVER_SCRIPT, {
          label: `postgres-section ${setup} instance ${name}`,
          // Both instances share the server core: the pair gets the same CPU budget as the single instance (plus PostgreSQL).
          core: context.serverCore,
          fdLimit: context.fdLimit,
          args: [`--broker=${setup}`, `--prefix=${run.prefix}`],
          env: { DATABASE_URL: run.url },
          nodeFlags: context.profileSystems.has("postgres") ? context.cpuProfFlags(`postgres-${setup}-${clients}-${name}`) : [],
        }),
      ),
    );
    for (const outcome of started) if (outcome.status === "fulfilled") servers.push(outcome.value);
    const failedStart = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    if (failedStart) throw failedStart.reason;
    load = await Worker.start(LOAD_SCRIPT, { label: "postgres-section load", core: context.loadCore, fdLimit: context.fdLimit });

    // Half the clients on each instance; A, the publisher, gets the odd one.
    const shares = setup === "postgres" ? [Math.ceil(clients / 2), Math.floor(clients / 2)] : [clients];
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
    // A subscription goes live once its instance has read where the channel ends
    // (a round trip after the client is counted): one warm-up tick, delivered to
    // every client, proves every client live before anything is measured.
    const publisher = servers[0]!;
    const warmup = await publisher.request<PublishReport>("publish", { rate: 100, size: config.loads[0]?.size ?? 128, tickEvents: config.tickEvents, durationMs: 0 });
    await drain(load, warmup.events * clients, config.drainIdleMs, config.drainMaxMs);
    context.log(`postgres ${setup} N=${clients}: connected in ${Date.now() - connectStarted} ms`);

    let failed: string | undefined;
    for (const pgLoad of config.loads) {
      if (failed) {
        rows.push(emptyRow(setup, clients, pgLoad, "skipped", `skipped: a lighter load failed (${failed})`));
        continue;
      }
      await load.request("reset");
      const errorsBefore = await publisher.request<PublishErrors>("publishErrors");
      const monitor = InterferenceMonitor.start([...servers.map((server) => server.pid), load.pid]);
      const othersBefore = await Promise.all(servers.slice(1).map((server) => server.request<{ cpuUs: number; at: number }>("cpu")));
      const pgBefore = setup === "postgres" && run.admin.local ? { cpu: run.admin.cpuSeconds(), at: wallNow() } : undefined;
      const report = await publisher.request<PublishReport>(
        "publish",
        { rate: pgLoad.rate, size: pgLoad.size, tickEvents: config.tickEvents, durationMs: config.publishMs },
        config.publishMs + 180_000,
      );
      const expected = report.events * clients;
      await drain(load, expected, config.drainIdleMs, config.drainMaxMs);
      const cpus = await Promise.all(servers.map((server) => server.request<{ cpuUs: number; at: number }>("cpu")));
      const pgAfter = pgBefore ? { cpu: run.admin.cpuSeconds(), at: wallNow() } : undefined;
      const collected = await load.request<CollectResult>("collect", { expectedPerClient: report.events });
      const errorsAfter = await publisher.request<PublishErrors>("publishErrors");
      const otherLoad = monitor.stop();

      const instanceCpuPct = cpus.map((cpu, index) =>
        index === 0 ? percentOfCore(cpu.cpuUs - report.cpuStartUs, cpu.at - report.startedAt) : percentOfCore(cpu.cpuUs - othersBefore[index - 1]!.cpuUs, cpu.at - othersBefore[index - 1]!.at),
      );
      const postgresCpuPct = pgBefore && pgAfter ? percentOfCore((pgAfter.cpu - pgBefore.cpu) * 1e6, pgAfter.at - pgBefore.at) : null;
      const publishErrors = errorsAfter.count - errorsBefore.count;
      const windowMs = Math.max(1, (collected.lastFrameAt || cpus[0]!.at) - report.startedAt);
      const { ok, ratio, note } = deliveryVerdict(collected, expected, publishErrors > 0 ? [`${publishErrors} publishes rejected (${errorsAfter.first})`] : []);
      if (!ok) failed = note;
      const deliveredPerSec = Math.round((collected.frames * 1000) / windowMs);
      const serverSideCpuPct = instanceCpuPct.reduce((sum, pct) => sum + pct, 0) + (postgresCpuPct ?? 0);
      rows.push({
        setup,
        label: POSTGRES_SETUP_LABELS[setup],
        clients,
        rate: pgLoad.rate,
        size: pgLoad.size,
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
        postgresCpuPct,
        deliveriesPerCpuSec: serverSideCpuPct > 0 ? Math.round(deliveredPerSec / (serverSideCpuPct / 100)) : 0,
        efficiencyToMemory: null,
        loadCpuPct: collected.cpuPct,
        otherLoad,
        closedEarly: collected.closedEarly,
        clientsShort: collected.clientsShort,
      });
      const row = rows[rows.length - 1]!;
      context.log(
        `postgres ${setup} N=${clients} ${pgLoad.rate}/s ${pgLoad.size} B: ${row.deliveredPerSec} deliveries/s, ${(ratio * 100).toFixed(1)}%, p99 ${row.latency.p99} ms, cpu ${instanceCpuPct.map((pct, index) => `${INSTANCE_NAMES[index]} ${pct}%`).join(" ")}${postgresCpuPct === null ? "" : ` PostgreSQL ${postgresCpuPct}%`} (clients ${row.loadCpuPct}%)${otherLoad === null ? "" : `, other processes ${Math.round(otherLoad * 100)}%`}${note ? ` FAIL: ${note}` : ""}`,
      );
      await sleep(100);
    }
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
    context.log(`postgres ${setup} N=${clients}: FAILED ${message}`);
    failUnrunLoads(rows, config.loads, (pgLoad) => emptyRow(setup, clients, pgLoad, "FAIL", message));
  } finally {
    await stopLoad(load);
    await Promise.all(servers.map((server) => server.stop()));
  }
  return rows;
}

/**
 * Run the PostgreSQL section: per client count, the in-memory setup then the
 * PostgreSQL pair, each with fresh processes and fresh tables. When PostgreSQL
 * does not answer, the result says so and nothing runs (a benchmark reports; it does not fail).
 *
 * @param config - The run's `postgres` settings.
 * @param context - Pinning, limits and progress output.
 * @param url - The database URL. Default: `DATABASE_URL`, else postgres://postgres@127.0.0.1:5432/test.
 * @example const postgres = await runPostgresSection(QUICK.postgres, context); // postgres.available && postgres.rows
 */
export async function runPostgresSection(config: BenchConfig["postgres"], context: RunContext, url = postgresUrl()): Promise<PostgresSectionResult> {
  let admin: PostgresAdmin;
  try {
    admin = await PostgresAdmin.connect(url);
  } catch (err) {
    const reason = err instanceof Error ? err.message || String((err as { code?: unknown }).code) : String(err);
    context.log(`postgres: PostgreSQL at ${redactUrl(url)} does not answer (${reason}); section not run`);
    return { available: false, url: redactUrl(url), reason };
  }
  // Tables only this run uses, dropped at the end: the database may be shared.
  const prefix = `bench_${process.pid}_${randomBytes(4).toString("hex")}_`;
  const rows: PostgresRow[] = [];
  let tablesDropped = 0;
  let cleanedUp = true;
  const prefixes: string[] = [];
  try {
    context.log(`postgres: PostgreSQL ${admin.version} at ${redactUrl(url)}${admin.local ? " (this machine, not pinned)" : ""}, table prefix ${prefix}`);
    const perAddress = Math.floor(ephemeralPortCount() / 2);
    for (const clients of config.clients) {
      const sourceAddresses = Math.max(1, Math.ceil(clients / perAddress));
      for (const setup of ["memory", "postgres"] as const) {
        // Fresh tables per round: no history from an earlier round.
        const roundPrefix = `${prefix}${clients}_`;
        prefixes.push(roundPrefix);
        rows.push(...(await runSetup({ setup, clients, config, context, url, prefix: roundPrefix, admin, sourceAddresses })));
      }
    }
  } finally {
    try {
      for (const roundPrefix of new Set(prefixes)) tablesDropped += await admin.dropTables(roundPrefix);
    } catch (err) {
      context.log(`postgres: could not drop the tables under ${prefix}: ${err instanceof Error ? err.message : String(err)}`);
      cleanedUp = false;
    }
    await admin.close();
  }
  for (const row of rows) {
    if (row.setup === "memory" || row.status !== "ok") continue;
    const memory = rows.find((other) => other.setup === "memory" && other.clients === row.clients && other.rate === row.rate && other.size === row.size && other.status === "ok");
    if (memory && memory.deliveriesPerCpuSec > 0) row.efficiencyToMemory = Math.round((row.deliveriesPerCpuSec / memory.deliveriesPerCpuSec) * 1000) / 1000;
  }
  return {
    available: true,
    url: redactUrl(url),
    postgresVersion: admin.version,
    postgresLocal: admin.local,
    prefix,
    tablesDropped,
    cleanedUp,
    tickEvents: config.tickEvents,
    publishMs: config.publishMs,
    latencyEvery: config.latencyEvery,
    rows,
  };
}

function deliveredCell(row: PostgresRow): string {
  if (row.status === "skipped") return "skipped";
  const percent = `${(row.deliveredRatio * 100).toFixed(row.deliveredRatio >= 1 ? 0 : 1)}%`;
  return row.status === "ok" ? percent : `**FAIL** ${percent}`;
}

/**
 * The section's markdown: one table per client count, or why it did not run.
 * @param result - What {@link runPostgresSection} returned.
 * @example renderPostgresSection(await runPostgresSection(QUICK.postgres, context))
 */
export function renderPostgresSection(result: PostgresSectionResult): string {
  if (!result.available) {
    return [
      `**Not run**: PostgreSQL at ${result.url} did not answer (${result.reason}).`,
      `Start it (\`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\`) or set DATABASE_URL, then rerun with \`--sections=postgres\`.`,
    ].join("\n");
  }
  const parts = [
    `Cello.ts (\`channel.publish\` once per event) on two instances, separate processes both on the server core, sharing PostgreSQL ${result.postgresVersion} at ${result.url}${result.postgresLocal ? " (same machine, not pinned)" : ""} through \`postgresBroker()\` from @cellojs/postgres, against one instance with the in-memory broker on the same load.`,
    `The clients, in a separate process, are split half/half across the two instances; events are published on instance A only, so every event crosses PostgreSQL (A's own clients too: each instance delivers what its listening connection fetches after a NOTIFY).`,
    `Ticks of ${result.tickEvents} events for ${result.publishMs / 1000} s per load; 1 in ${result.latencyEvery} clients measures publish-to-receive latency (wall clock, from before \`channel.publish\` to arrival).`,
    `"delivered" is events received over events published x clients (anything under 100% is a FAIL). "PostgreSQL CPU" is the user + system time of every \`postgres\` process on the machine over the load (other clients of that server included);`,
    `"per CPU-s" is delivered/s over the CPU of every server-side process (the instances plus PostgreSQL), and "x in-memory" compares it with the single in-memory instance: what scaling out through PostgreSQL costs per delivered event.`,
    `Every table was under the run's own prefix (${result.prefix}); ${result.tablesDropped} dropped after the run${result.cleanedUp ? "" : ", **dropping failed**"}.`,
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
          dash(row.postgresCpuPct === null ? "-" : `${row.postgresCpuPct}%`),
          dash(`${row.loadCpuPct}%`),
          row.status === "ok" ? thousands(row.deliveriesPerCpuSec) : "-",
          row.status !== "ok" ? "-" : row.setup === "memory" ? "1.00x" : row.efficiencyToMemory === null ? "-" : `${row.efficiencyToMemory.toFixed(2)}x`,
        ];
      });
    parts.push(
      "",
      `### ${thousands(clients)} clients`,
      "",
      table(["Load", "Setup", "delivered/s", "delivered", "p50 ms", "p99 ms", "max ms", "CPU A", "CPU B", "PostgreSQL CPU", "clients CPU", "per CPU-s", "x in-memory"], rows),
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
 * The PostgreSQL section as the runner's {@link ExtraSection} (id `postgres`).
 * @example await runBench({ config: QUICK, extraSections: [POSTGRES_SECTION] });
 */
export const POSTGRES_SECTION: ExtraSection = {
  id: "postgres",
  title: "PostgreSQL broker: two instances sharing PostgreSQL",
  connections: (config) => Math.max(0, ...config.postgres.clients),
  run: (context, config) => runPostgresSection(config.postgres, context),
  render: (result) => renderPostgresSection(result as PostgresSectionResult),
};
