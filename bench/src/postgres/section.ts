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
import { compareToMemory, renderBrokerTables, runBrokerRounds, type BrokerBench, type BrokerRowBase } from "../brokers/section.js";
import type { BenchConfig } from "../config.js";
import type { RunContext } from "../context.js";
import type { ExtraSection } from "../harness.js";
import { PostgresAdmin, postgresUrl, redactUrl } from "./admin.js";

/** The two setups compared on each load. */
export type PostgresSetup = "memory" | "postgres";

/** How each setup is named in the report. */
export const POSTGRES_SETUP_LABELS: Record<PostgresSetup, string> = {
  memory: "Cello.ts, in-memory broker (1 instance)",
  postgres: "Cello.ts + PostgreSQL (2 instances, publish on A)",
};

/** One load on one setup at one client count. */
export interface PostgresRow extends BrokerRowBase<"postgres"> {
  /** PostgreSQL's CPU over the load (every `postgres` process), % of one core; null for the in-memory setup. deliveriesPerCpuSec counts every instance plus PostgreSQL. */
  postgresCpuPct: number | null;
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
    const bench: BrokerBench<"postgres", PostgresRow> = {
      id: "postgres",
      name: "PostgreSQL",
      labels: POSTGRES_SETUP_LABELS,
      serverScript: SERVER_SCRIPT,
      env: { DATABASE_URL: url },
      // Measured from /proc: only when the server runs on this machine.
      ...(admin.local ? { cpuSeconds: () => admin.cpuSeconds() } : {}),
      pids: [],
      row: (base, postgresCpuPct) => ({ ...base, postgresCpuPct }),
    };
    // Fresh tables per round: no history from an earlier round.
    const roundPrefix = (clients: number) => {
      const round = `${prefix}${clients}_`;
      prefixes.push(round);
      return round;
    };
    rows.push(...(await runBrokerRounds(bench, config, context, roundPrefix)));
  } finally {
    try {
      for (const roundPrefix of new Set(prefixes)) tablesDropped += await admin.dropTables(roundPrefix);
    } catch (err) {
      context.log(`postgres: could not drop the tables under ${prefix}: ${err instanceof Error ? err.message : String(err)}`);
      cleanedUp = false;
    }
    await admin.close();
  }
  compareToMemory(rows);
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
    ...renderBrokerTables(result.rows, "PostgreSQL CPU", (row) => row.postgresCpuPct),
  ];
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
