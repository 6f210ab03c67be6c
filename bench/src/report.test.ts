/**
 * The report and the target checks, on a hand-made result: what a reader of
 * latest.md sees for a failed delivery, a missed target and a passed one.
 */
import { describe, expect, it } from "vitest";
import { SMOKE } from "./config.js";
import type { BenchResult } from "./harness.js";
import type { HttpRow } from "./http/section.js";
import { renderMarkdown } from "./report.js";
import type { MemoryRow, SseRow } from "./sse/section.js";
import { checkTargets } from "./targets.js";

function httpRow(system: string, route: "json" | "params", reqPerSec: number, reqPerCpuSec: number): HttpRow {
  return {
    system,
    label: system,
    route,
    reqPerSec,
    reqPerCpuSec,
    ratioToNodeHttp: reqPerSec / 60_000,
    efficiencyToNodeHttp: reqPerCpuSec / 60_000,
    serverCpuPct: 100,
    latencyP50Ms: 10,
    latencyP99Ms: 20,
    rounds: [{ reqPerSec, serverCpuPct: 100, reqPerCpuSec, otherLoad: 0.5, latencyP50Ms: 10, latencyP99Ms: 20 }],
    failures: 0,
  };
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
    ratioToCeiling: 1,
    latency: { count: 100, p50: 2, p99: 8, max: 9 },
    sendP99Ms: 3,
    serverCpuPct: 50,
    deliveriesPerCpuSec: 1_000_000,
    efficiencyToCeiling: 1,
    loadCpuPct: 40,
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

function result(sse: SseRow[], memory: MemoryRow[], http: HttpRow[] = []): BenchResult {
  const config = structuredClone(SMOKE);
  config.sse.clients = [1000];
  return {
    schema: 1,
    profile: "test",
    machine: { cpuModel: "Test CPU", cores: 2, node: "v20.20.2", platform: "linux x64", kernel: "6", date: "2026-01-01T00:00:00.000Z", pinning: { server: 0, load: 1 }, fdLimit: { soft: 20_000, hard: 20_000 } },
    durationSec: 1,
    config,
    http: http.length ? { connections: 100, pipelining: 10, warmupSec: 1, durationSec: 1, rounds: 1, rows: http } : null,
    sse: { tickEvents: 10, publishMs: 1000, latencyEvery: 50, sourceAddresses: { 1000: 1 }, rows: sse, memory },
    extra: {},
    targets: [],
    notes: [],
  };
}

describe("renderMarkdown", () => {
  it("shows a delivery under 100% as FAIL, and the machine", () => {
    const markdown = renderMarkdown(result([sseRow("raw-coalesced", 1), sseRow("cello", 0.995, { note: "3 clients short" })], []));
    expect(markdown).toContain("| CPU | Test CPU, 2 cores |");
    expect(markdown).toContain("| Node | v20.20.2 |");
    expect(markdown).toMatch(/\| cello \| [\d,]+ \| [^|]+ \| \*\*FAIL\*\* 99\.5% \|/);
    expect(markdown).toMatch(/\| raw-coalesced \| [\d,]+ \| 1\.00x \| 100% \|/);
    expect(markdown).toContain("- cello, 1000/s x 128 B: 3 clients short");
  });

  it("lists the loads where the load generator was saturated, and shows the send time", () => {
    const markdown = renderMarkdown(result([sseRow("raw-coalesced", 1), sseRow("cello", 1, { loadCpuPct: 98.5, sendP99Ms: 12.25 })], []));
    expect(markdown).toContain("- cello: load generator saturated (clients CPU >= 95%) at 1000/s x 128 B");
    expect(markdown).not.toContain("- raw-coalesced: load generator saturated");
    expect(markdown).toMatch(/\| cello \|[^\n]*\| 9\.0 \| 12\.3 \| 50% \| 98\.5% \|/);
  });

  it("warns when other processes took a large share of the machine", () => {
    const markdown = renderMarkdown(result([], [], [httpRow("node-http", "json", 60_000, 60_000)]));
    expect(markdown).toContain("**Shared machine**");
  });
});

describe("checkTargets", () => {
  it("passes and misses targets from the run's ratios", () => {
    const checks = checkTargets(
      result(
        [sseRow("raw-coalesced", 1), sseRow("cello", 1, { latency: { count: 10, p50: 3, p99: 12, max: 15 }, sendP99Ms: 2.5 }), sseRow("hono", 1, { deliveriesPerCpuSec: 200_000 })],
        [memoryRow("raw-coalesced", 5000), memoryRow("cello", 5500)],
        [httpRow("node-http", "json", 60_000, 60_000), httpRow("cello-functions", "json", 58_000, 54_000), httpRow("fastify", "json", 59_000, 50_000)],
      ),
    );
    const find = (text: string) => checks.find((check) => check.target.includes(text));
    expect(find("GET / (hello-world JSON): >= 0.95x node:http")).toMatchObject({ pass: false, measured: "0.90x per CPU-s (0.97x req/s)" });
    expect(find("GET / (hello-world JSON): >= Fastify")).toMatchObject({ pass: true });
    expect(find("ahead of every peer")).toMatchObject({ pass: true });
    expect(find("p99")).toMatchObject({ pass: false, measured: "12.00 ms (node:http ceiling: 8.00 ms; send p99 2.50 ms vs the ceiling's 3.00 ms; clients CPU 40%)" });
    expect(find("Idle SSE connection")).toMatchObject({ pass: true, measured: "1.10x (5500 B vs node:http)" });
  });

  it("counts a Cello.ts delivery failure as a miss", () => {
    const checks = checkTargets(result([sseRow("raw-coalesced", 1), sseRow("cello", 0.9)], []));
    expect(checks.find((check) => check.target.includes("ceiling"))).toMatchObject({ pass: false, measured: "1 of 1 loads not fully delivered" });
  });
});
