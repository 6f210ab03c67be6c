/**
 * The performance targets Cello.ts is held to, checked against one run's
 * figures (always as ratios within the run, never as absolute numbers).
 */
import type { BenchResult } from "./harness.js";
import { HTTP_ROUTES } from "./http/section.js";
import { SSE_CEILING } from "./sse/section.js";

/** One target, as measured. `pass` is null when the run did not measure what the target needs. */
export interface TargetCheck {
  target: string;
  measured: string;
  pass: boolean | null;
}

/** The Cello.ts SSE system the SSE targets are checked on: channels, the API the brief names for fan-out. */
export const CELLO_SSE = "cello";
/** Cello.ts channels with `app.enableMetrics()`, held to within 3% of {@link CELLO_SSE}. */
const METRICS_SSE = "cello-metrics";
/** SSE peers Cello.ts must be ahead of. */
export const SSE_PEERS = ["better-sse", "fastify-sse", "hono"];
const CELLO_HTTP = ["cello-functions", "cello-decorators"];

const fmt = (value: number, digits = 2) => value.toFixed(digits);

/**
 * Check every target the run has figures for.
 * @param result - A finished run.
 * @example checkTargets(result).filter((check) => check.pass === false)
 */
export function checkTargets(result: BenchResult): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const http = result.http?.rows ?? [];
  // HTTP targets are judged on requests per server CPU-second: one autocannon process on
  // one core often cannot saturate the server, which squeezes req/s ratios towards 1,
  // while the CPU each request costs shows the framework's overhead either way.
  for (const system of CELLO_HTTP) {
    for (const route of HTTP_ROUTES) {
      const row = http.find((r) => r.system === system && r.route === route.id);
      if (!row) continue;
      const broken = Boolean(row.error) || row.failures > 0;
      checks.push({
        target: `${row.label}, ${route.label}: >= 0.95x node:http`,
        measured: broken
          ? "failed"
          : row.efficiencyToNodeHttp === null
            ? "no node:http figure"
            : `${fmt(row.efficiencyToNodeHttp)}x per CPU-s (${fmt(row.ratioToNodeHttp ?? 0)}x req/s)`,
        pass: broken ? false : row.efficiencyToNodeHttp === null ? null : row.efficiencyToNodeHttp >= 0.95,
      });
      const fastify = http.find((r) => r.system === "fastify" && r.route === route.id && !r.error && !r.failures);
      if (fastify && fastify.reqPerCpuSec > 0 && fastify.reqPerSec > 0) {
        const efficiency = row.reqPerCpuSec / fastify.reqPerCpuSec;
        checks.push({
          target: `${row.label}, ${route.label}: >= Fastify`,
          measured: `${fmt(efficiency)}x per CPU-s (${fmt(row.reqPerSec / fastify.reqPerSec)}x req/s)`,
          pass: !broken && efficiency >= 1,
        });
      }
    }
  }

  // Metrics on vs off, same routes: the instrumentation's cost per request.
  for (const route of HTTP_ROUTES) {
    const off = http.find((r) => r.system === "cello-functions" && r.route === route.id && !r.error && !r.failures);
    const on = http.find((r) => r.system === "cello-metrics" && r.route === route.id);
    if (!off || !on || off.reqPerCpuSec <= 0) continue;
    const broken = Boolean(on.error) || on.failures > 0;
    const efficiency = on.reqPerCpuSec / off.reqPerCpuSec;
    checks.push({
      target: `Metrics on, ${route.label}: >= 0.97x metrics off`,
      measured: broken ? "failed" : `${fmt(efficiency)}x per CPU-s (${fmt(on.reqPerSec / off.reqPerSec)}x req/s)`,
      pass: broken ? false : efficiency >= 0.97,
    });
  }

  const sse = result.sse;
  if (sse) {
    // Metrics on vs off on fan-out, load by load.
    for (const on of sse.rows.filter((r) => r.system === METRICS_SSE)) {
      const off = sse.rows.find((r) => r.system === CELLO_SSE && r.clients === on.clients && r.rate === on.rate && r.size === on.size && r.status === "ok");
      if (!off || off.deliveriesPerCpuSec <= 0) continue;
      const efficiency = on.deliveriesPerCpuSec / off.deliveriesPerCpuSec;
      checks.push({
        target: `Metrics on, SSE fan-out N=${on.clients}, ${on.rate}/s ${on.size} B: >= 0.97x metrics off (deliveries per CPU-second)`,
        measured: on.status === "ok" ? `${fmt(efficiency)}x` : `${on.status}${on.note ? `: ${on.note}` : ""}`,
        pass: on.status === "ok" ? efficiency >= 0.97 : false,
      });
    }
    const cello = sse.rows.filter((r) => r.system === CELLO_SSE);
    for (const clients of result.config.sse.clients) {
      const rows = cello.filter((r) => r.clients === clients);
      if (rows.length === 0) continue;
      const failed = rows.filter((r) => r.status !== "ok");
      const ratios = rows.map((r) => r.ratioToCeiling).filter((r): r is number => r !== null);
      const efficiency = rows.map((r) => r.efficiencyToCeiling).filter((r): r is number => r !== null);
      const ceilingRan = sse.rows.some((r) => r.system === SSE_CEILING && r.clients === clients && r.status === "ok");
      checks.push({
        target: `SSE fan-out, N=${clients}: >= 0.9x the coalesced node:http ceiling (delivered/s, every load)`,
        measured:
          failed.length > 0
            ? `${failed.length} of ${rows.length} loads not fully delivered`
            : ratios.length === 0
              ? "no ceiling figure"
              : `min ${fmt(Math.min(...ratios))}x (deliveries per CPU-second: min ${fmt(Math.min(...efficiency))}x)`,
        pass: failed.length > 0 ? false : !ceilingRan || ratios.length === 0 ? null : Math.min(...ratios) >= 0.9,
      });
      // Ahead of every peer: on loads everyone keeps up with, delivered/s ties, so compare
      // deliveries per CPU-second; a peer that did not deliver everything is behind.
      const behind: string[] = [];
      let compared = 0;
      for (const row of rows) {
        for (const peer of SSE_PEERS) {
          const other = sse.rows.find((r) => r.system === peer && r.clients === clients && r.rate === row.rate && r.size === row.size);
          if (!other) continue;
          compared++;
          if (row.status !== "ok" && other.status === "ok") behind.push(`${peer} at ${row.rate}/s ${row.size} B (Cello.ts failed)`);
          else if (row.status === "ok" && other.status === "ok" && row.deliveriesPerCpuSec < other.deliveriesPerCpuSec) {
            behind.push(`${peer} at ${row.rate}/s ${row.size} B (${fmt(row.deliveriesPerCpuSec / other.deliveriesPerCpuSec)}x)`);
          }
        }
      }
      if (compared > 0) {
        checks.push({
          target: `SSE fan-out, N=${clients}: ahead of every peer (deliveries per CPU-second, every load)`,
          measured: behind.length === 0 ? "ahead on every load" : `behind ${behind.join("; ")}`,
          pass: behind.length === 0,
        });
      }
    }
    for (const row of cello.filter((r) => r.clients === 1000 && r.rate === 1000)) {
      // The ceiling's p99 on the same load says whether the machine can meet the target at all.
      const ceiling = sse.rows.find((r) => r.system === SSE_CEILING && r.clients === 1000 && r.rate === 1000 && r.size === row.size && r.status === "ok");
      const reference = ceiling
        ? ` (node:http ceiling: ${fmt(ceiling.latency.p99)} ms; send p99 ${fmt(row.sendP99Ms)} ms vs the ceiling's ${fmt(ceiling.sendP99Ms)} ms; clients CPU ${row.loadCpuPct}%)`
        : "";
      checks.push({
        target: `SSE p99 publish-to-receive <= 10 ms, N=1000, 1000 events/s, ${row.size} B`,
        measured: row.status === "ok" ? `${fmt(row.latency.p99)} ms${reference}` : `${row.status}${row.note ? `: ${row.note}` : ""}`,
        pass: row.status === "ok" ? row.latency.p99 <= 10 : false,
      });
    }
    const largest = Math.max(...result.config.sse.clients);
    const memory = sse.memory.find((m) => m.system === CELLO_SSE && m.clients === largest);
    if (memory) {
      checks.push({
        target: `Idle SSE connection, N=${largest}: <= 1.2x node:http JS heap`,
        measured: memory.heapRatioToRaw === null ? "no node:http figure" : `${fmt(memory.heapRatioToRaw)}x (${memory.heapPerConnection} B vs node:http)`,
        pass: memory.heapRatioToRaw === null ? null : memory.heapRatioToRaw <= 1.2,
      });
    }
  }
  checks.push(...secondBrokerTargets(result));
  return checks;
}

/**
 * The second distributed engine (issue 15): the PostgreSQL pair at 1000 events/s x
 * 1000 clients delivers at least 0.7x the in-memory instance's deliveries per
 * CPU-second (every server-side process counted, PostgreSQL included).
 */
function secondBrokerTargets(result: BenchResult): TargetCheck[] {
  const section = result.extra?.postgres?.result as { available: boolean; rows?: Array<{ setup: string; clients: number; rate: number; size: number; status: string; note?: string; efficiencyToMemory: number | null }> } | undefined;
  if (!section?.available || !section.rows) return [];
  const checks: TargetCheck[] = [];
  for (const row of section.rows.filter((r) => r.setup === "postgres" && r.clients === 1000 && r.rate === 1000)) {
    checks.push({
      target: `PostgreSQL broker, 2 instances, N=1000, 1000/s ${row.size} B: >= 0.7x the in-memory instance (deliveries per CPU-second)`,
      measured: row.status !== "ok" ? `${row.status}${row.note ? `: ${row.note}` : ""}` : row.efficiencyToMemory === null ? "no in-memory figure" : `${fmt(row.efficiencyToMemory)}x`,
      pass: row.status !== "ok" ? false : row.efficiencyToMemory === null ? null : row.efficiencyToMemory >= 0.7,
    });
  }
  return checks;
}
