/**
 * The report and the target checks, on a hand-made result: what a reader of
 * latest.md sees for a failed delivery, a missed target and a passed one.
 */
import { describe, expect, it } from "vitest";
import { SMOKE } from "./config.js";
import type { BenchResult } from "./harness.js";
import { compareRows, pairedRatio, quartiles, type HttpRow } from "./http/section.js";
import { renderMarkdown } from "./report.js";
import { markLoadCpu } from "./sse/load-pool.js";
import { compareWithFloor, type MemoryRow, type SseRow } from "./sse/section.js";
import { checkTargets } from "./targets.js";

/** A row measured in one round per entry of `perCpuSec` (requests per CPU-second), compared later by compareRows. */
function httpRow(system: string, route: "json" | "params", reqPerSec: number, perCpuSec: number | number[], overrides: Partial<HttpRow> = {}): HttpRow {
  const perRound = typeof perCpuSec === "number" ? [perCpuSec] : perCpuSec;
  return {
    system,
    label: system,
    route,
    pipelining: 10,
    reqPerSec,
    reqPerCpuSec: perRound[0]!,
    ratioToNodeHttp: null,
    efficiencyToNodeHttp: null,
    paired: {},
    serverCpuPct: 100,
    loadCpuPct: 50,
    latencyP50Ms: 10,
    latencyP99Ms: 20,
    rounds: perRound.map((reqPerCpuSec, round) => ({ round, reqPerSec, serverCpuPct: 100, loadCpuPct: 50, reqPerCpuSec, otherLoad: 0.5, latencyP50Ms: 10, latencyP99Ms: 20 })),
    failures: 0,
    ...overrides,
  };
}

/** Rows as the HTTP section leaves them: compared with the reference servers. */
function compared(rows: HttpRow[]): HttpRow[] {
  compareRows(rows);
  return rows;
}

function sseRow(system: string, delivered: number, overrides: Partial<SseRow> = {}): SseRow {
  return {
    system,
    label: system,
    clients: 1000,
    rate: 1000,
    size: 128,
    status: delivered === 1 ? "ok" : "FAIL",
    publishedEvents: 1000,
    skippedTicks: 0,
    expectedDeliveries: 1_000_000,
    delivered: 1_000_000 * delivered,
    deliveredRatio: delivered,
    deliveredPerSec: 500_000,
    ratioToFloor: null,
    latency: { count: 100, p50: 2, p99: 8, max: 9 },
    sendP99Ms: 3,
    serverCpuPct: 50,
    deliveriesPerCpuSec: 1_000_000,
    efficiencyToFloor: null,
    loadCpuPct: 40,
    loadCpu: markLoadCpu([40], 1),
    otherLoad: 0,
    closedEarly: 0,
    clientsShort: 0,
    ...overrides,
  };
}

function memoryRow(system: string, heapPerConnection: number): MemoryRow {
  const reading = { heapUsed: 0, rss: 0, external: 0, arrayBuffers: 0 };
  return { system, label: system, clients: 1000, heapPerConnection, rssPerConnection: 10_000, heapRatioToRaw: heapPerConnection / 5000, rssRatioToRaw: 1, before: reading, after: reading };
}

function withRatios<T extends { rows: SseRow[]; memory: MemoryRow[] }>(section: T): T {
  compareWithFloor(section);
  return section;
}

function result(sse: SseRow[], memory: MemoryRow[], http: HttpRow[] = []): BenchResult {
  const config = structuredClone(SMOKE);
  config.sse.clients = [1000];
  return {
    schema: 1,
    profile: "test",
    machine: { cpuModel: "Test CPU", cores: 2, node: "v20.20.2", platform: "linux x64", kernel: "6", date: "2026-01-01T00:00:00.000Z", pinning: { server: 0, load: 1 }, fdLimit: { soft: 20_000, hard: 20_000 } },
    durationSec: 1,
    config,
    http: http.length ? { connections: 100, pipelining: [...new Set(http.map((r) => r.pipelining))], warmupSec: 1, durationSec: 1, rounds: 1, rows: http } : null,
    sse: withRatios({ tickEvents: 10, publishMs: 1000, latencyEvery: 50, sourceAddresses: { 1000: 1 }, loadProcesses: { 1000: 1 }, rows: sse, memory }),
    extra: {},
    targets: [],
    notes: [],
  };
}

describe("renderMarkdown", () => {
  it("shows a delivery under 100% as FAIL, the floor as 1.00x, and the machine", () => {
    const markdown = renderMarkdown(result([sseRow("raw-net", 1), sseRow("cello", 0.995, { note: "3 clients short" }), sseRow("hono", 1, { deliveriesPerCpuSec: 250_000 })], []));
    expect(markdown).toContain("| CPU | Test CPU, 2 cores |");
    expect(markdown).toContain("| Node | v20.20.2 |");
    expect(markdown).toMatch(/\| cello \| [\d,]+ \| \*\*FAIL\*\* 99\.5% \|[^\n]*\| - \| - \|\n/);
    expect(markdown).toMatch(/\| raw-net \| [\d,]+ \| 100% \|[^\n]*\| 1,000,000 \| 1\.00x \|\n/);
    expect(markdown).toMatch(/\| hono \| [\d,]+ \| 100% \|[^\n]*\| 250,000 \| 0\.25x \|\n/);
    expect(markdown).toContain("- cello, 1000/s x 128 B: 3 clients short");
  });

  it("marks the load generator's CPU over 70% in the row and lists those loads; under 70% is plain", () => {
    const over = sseRow("cello", 1, { loadCpu: markLoadCpu([45, 40], 1), sendP99Ms: 12.25 });
    const markdown = renderMarkdown(result([sseRow("raw-net", 1, { loadCpu: markLoadCpu([65], 1) }), over], []));
    expect(markdown).toMatch(/\| cello \|[^\n]*\| 9\.0 \| 12\.3 \| 50% \| \*\*85% \/ 45% \(2\) >70%\*\* \|/);
    expect(markdown).toMatch(/\| raw-net \|[^\n]*\| 50% \| 65% \/ 65% \(1\) \|/);
    expect(markdown).toContain("- cello: load generator over 70% of a core (latency and delivered/s there are partly the load generator's) at 1000/s x 128 B");
    expect(markdown).not.toContain("- raw-net: load generator over");
  });

  it("puts each system's p99 at 1,000 clients and 1000 events/s next to the floor's", () => {
    const markdown = renderMarkdown(result([sseRow("cello", 1, { latency: { count: 400, p50: 3, p99: 10.5, max: 15 } }), sseRow("raw-net", 1, { latency: { count: 400, p50: 3, p99: 10, max: 12 } })], []));
    expect(markdown).toContain("### Latency: 1,000 clients, 1000 events/s");
    // The floor first, then the others with their ratio to it.
    expect(markdown).toMatch(/\| 128 B \| raw-net \| 3\.0 \| 10\.0 \| 1\.00x \|[^\n]*\n\| 128 B \| cello \| 3\.0 \| 10\.5 \| 1\.05x \| 3\.0 \| 400 \| 40% \/ 40% \(1\) \|/);
  });

  it("warns when other processes took a large share of the machine", () => {
    const markdown = renderMarkdown(result([], [], [httpRow("node-http", "json", 60_000, 60_000)]));
    expect(markdown).toContain("**Shared machine**");
  });
});

describe("paired HTTP rounds", () => {
  it("summarizes ratios by median and interquartile range", () => {
    expect(quartiles([4, 1, 3, 2])).toEqual({ median: 2.5, q1: 1.75, q3: 3.25 });
    expect(quartiles([7])).toEqual({ median: 7, q1: 7, q3: 7 });
  });

  it("pairs rounds by index, skipping a round the reference did not measure", () => {
    const rows = (cpu: number[]) => cpu.map((reqPerCpuSec, round) => ({ round, reqPerSec: 1, serverCpuPct: 100, loadCpuPct: 50, reqPerCpuSec, otherLoad: null, latencyP50Ms: 1, latencyP99Ms: 1 }));
    const reference = rows([100, 200, 400]).filter((r) => r.round !== 1);
    // Round 0: 1.1x, round 2: 0.5x; round 1 has no partner. Best-of would say 220/400 = 0.55x.
    expect(pairedRatio(rows([110, 220, 200]), reference)).toEqual({ median: 0.8, q1: 0.65, q3: 0.95, pairs: 2 });
    expect(pairedRatio(rows([110]), rows([]))).toBeNull();
  });

  it("compares each depth with its own node:http rows, and shows each depth and a busy load generator", () => {
    const rows = compared([
      httpRow("node-http", "json", 60_000, [60_000, 50_000]),
      httpRow("cello-functions", "json", 58_000, [66_000, 50_000]),
      httpRow("node-http", "json", 20_000, [30_000, 30_000], { pipelining: 1 }),
      httpRow("cello-functions", "json", 20_000, [27_000, 27_000], { pipelining: 1, loadCpuPct: 85 }),
    ]);
    expect(rows.map((r) => [r.pipelining, r.system, r.efficiencyToNodeHttp])).toEqual([
      [10, "node-http", 1],
      [10, "cello-functions", 1.05],
      [1, "node-http", 1],
      [1, "cello-functions", 0.9],
    ]);
    const markdown = renderMarkdown(result([], [], rows));
    expect(markdown).toContain("### -p 10");
    expect(markdown).toContain("### -p 1");
    expect(markdown).toContain("| cello-functions | 20,000 | 100% | 85% (!) | 0.90x (0.90-0.90) |");
    expect(markdown).toContain("- cello-functions, GET / (hello-world JSON), -p 1: load generator at 85% of its core");
  });
});

describe("checkTargets", () => {
  it("passes and misses targets from the run's ratios", () => {
    const checks = checkTargets(
      result(
        [
          sseRow("raw-net", 1, { latency: { count: 10, p50: 3, p99: 10, max: 12 } }),
          sseRow("cello", 1, { deliveriesPerCpuSec: 960_000, latency: { count: 10, p50: 3, p99: 12, max: 15 }, sendP99Ms: 2.5 }),
          sseRow("hono", 1, { deliveriesPerCpuSec: 200_000 }),
          sseRow("better-sse", 1, { deliveriesPerCpuSec: 700_000 }),
        ],
        [memoryRow("raw-coalesced", 5000), memoryRow("cello", 5500)],
        compared([
          httpRow("node-http", "json", 60_000, [60_000, 60_000, 60_000]),
          httpRow("cello-functions", "json", 58_000, [54_000, 57_000, 63_000]),
          httpRow("fastify", "json", 59_000, [50_000, 50_000, 50_000]),
          httpRow("hono", "json", 59_000, [57_000, 57_000, 66_000]),
        ]),
      ),
    );
    const find = (text: string) => checks.find((check) => check.target.includes(text));
    expect(find("GET / (hello-world JSON), -p 10: >= 1.0x node:http")).toMatchObject({ pass: false, measured: "0.95x (IQR 0.93-1.00, 3 rounds) per CPU-s (0.97x req/s)" });
    expect(find("GET / (hello-world JSON), -p 10: ahead of Fastify")).toMatchObject({ pass: true, measured: "1.14x (IQR 1.11-1.20, 3 rounds) per CPU-s" });
    // Hono is ahead in two rounds of three: a miss.
    expect(find("GET / (hello-world JSON), -p 10: ahead of Hono")).toMatchObject({ pass: false });
    expect(find("0.95x the raw net floor")).toMatchObject({ pass: true, measured: "min 0.96x (at 1000/s 128 B; 1000/s 128 B 0.96x)" });
    // The best peer is better-sse (700k), not hono: 960k / 700k = 1.37x.
    expect(find("1.5x the best Node peer")).toMatchObject({ pass: false, measured: "below on 1000/s 128 B 1.37x better-sse" });
    expect(find("p99")).toMatchObject({ pass: false, measured: "1.20x (12.00 ms vs 10.00 ms; send p99 2.50 vs 3.00 ms)" });
    expect(find("Idle SSE connection")).toMatchObject({ pass: true, measured: "1.10x (5500 B vs node:http)" });
  });

  it("passes the floor, peer and p99 targets at their thresholds, and says when the load generator was over 70%", () => {
    const checks = checkTargets(
      result(
        [
          sseRow("raw-net", 1, { deliveriesPerCpuSec: 1_000_000, latency: { count: 10, p50: 3, p99: 10, max: 12 }, loadCpu: markLoadCpu([90], 1) }),
          sseRow("cello", 1, { deliveriesPerCpuSec: 950_000, latency: { count: 10, p50: 3, p99: 10.5, max: 15 } }),
          sseRow("better-sse", 1, { deliveriesPerCpuSec: 600_000 }),
          // A peer that failed delivery is not the best peer, however efficient it looked.
          sseRow("h3", 0.5, { deliveriesPerCpuSec: 5_000_000 }),
        ],
        [],
      ),
    );
    const find = (text: string) => checks.find((check) => check.target.includes(text));
    expect(find("0.95x the raw net floor")).toMatchObject({ pass: true });
    expect(find("1.5x the best Node peer")).toMatchObject({ pass: true, measured: "1000/s 128 B 1.58x better-sse" });
    expect(find("p99")).toMatchObject({ pass: true });
    expect(find("p99")!.measured).toContain("load generator over 70% of a core on the floor: indicative");
  });

  it("counts a Cello.ts delivery failure as a miss", () => {
    const checks = checkTargets(result([sseRow("raw-net", 1), sseRow("cello", 0.9)], []));
    expect(checks.find((check) => check.target.includes("floor"))).toMatchObject({ pass: false, measured: "1 of 1 loads not fully delivered" });
  });
});
