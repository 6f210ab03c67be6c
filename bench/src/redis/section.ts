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
import { compareToMemory, renderBrokerTables, runBrokerRounds, type BrokerBench, type BrokerRowBase } from "../brokers/section.js";
import type { BenchConfig } from "../config.js";
import type { RunContext } from "../context.js";
import type { ExtraSection } from "../harness.js";
import { redactUrl, RedisAdmin, redisUrl } from "./admin.js";

/** The two setups compared on each load. */
export type RedisSetup = "memory" | "redis";

/** How each setup is named in the report. */
export const REDIS_SETUP_LABELS: Record<RedisSetup, string> = {
  memory: "Cello.ts, in-memory broker (1 instance)",
  redis: "Cello.ts + Redis (2 instances, publish on A)",
};

/** One load on one setup at one client count. */
export interface RedisRow extends BrokerRowBase<"redis"> {
  /** Redis's CPU over the load (INFO cpu), % of one core; null for the in-memory setup. deliveriesPerCpuSec counts every instance plus Redis. */
  redisCpuPct: number | null;
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
    const bench: BrokerBench<"redis", RedisRow> = {
      id: "redis",
      name: "Redis",
      labels: REDIS_SETUP_LABELS,
      serverScript: SERVER_SCRIPT,
      env: { REDIS_URL: url },
      cpuSeconds: () => admin.cpuSeconds(),
      pids: info.localPid ? [info.localPid] : [],
      row: (base, redisCpuPct) => ({ ...base, redisCpuPct }),
    };
    // A fresh stream per round: no history from an earlier round.
    rows.push(...(await runBrokerRounds(bench, config, context, (clients) => `${prefix}${clients}:`)));
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
  compareToMemory(rows);
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
    ...renderBrokerTables(result.rows, "Redis CPU", (row) => row.redisCpuPct),
  ];
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
