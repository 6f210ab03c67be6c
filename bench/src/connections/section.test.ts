/**
 * The connections section: a tiny real run (raw floor, Cello.ts in one process and
 * with two workers, a few dozen streams), and the fit, the targets and the report
 * on figures given here. Nothing about speed is asserted.
 */
import { describe, expect, it } from "vitest";
import type { RunContext } from "../context.js";
import { checkConnectionTargets } from "../targets.js";
import { fitConnections, renderConnectionsSection, runConnectionsSection, type ConnectionsRow, type ConnectionsSectionResult } from "./section.js";

function context(lines: string[]): RunContext {
  return { serverCore: undefined, loadCore: undefined, fdLimit: undefined, profileSystems: new Set(), cpuProfFlags: () => [], log: (line) => lines.push(line) };
}

function row(system: "floor" | "cello", connections: number, overrides: Partial<ConnectionsRow> = {}): ConnectionsRow {
  const perConnection = system === "floor" ? 4000 : 7000;
  return {
    system,
    workers: 1,
    connections,
    acceptPerSec: 5000,
    acceptCpuUsPerConnection: 100,
    failures: 0,
    rss: 50e6 + perConnection * connections,
    heapUsed: 10e6 + 3000 * connections,
    baselineRss: 50e6,
    baselineHeap: 10e6,
    rssPerConnection: perConnection,
    heapPerConnection: 3000,
    timers: 0,
    heartbeatCpuMsPerRound: 10,
    heartbeatsSeen: connections * 3,
    fanoutEvents: 3,
    fanoutExpected: 3 * connections,
    fanoutDelivered: 3 * connections,
    fanoutCpuUsPerDelivery: 5,
    closedEarly: 0,
    ...overrides,
  };
}

describe("runConnectionsSection", () => {
  it("holds streams on the floor and on Cello.ts (one process and two workers), and fans out to every one", async () => {
    const lines: string[] = [];
    const result = await runConnectionsSection({ sizes: [20, 40], workersConnections: 40, perHolder: 25, heartbeatMs: 200, heartbeatRounds: 2, fanoutEvents: 2 }, context(lines));
    expect(result.errors).toEqual([]);
    expect(result.rows.map((r) => [r.system, r.workers, r.connections])).toEqual([
      ["floor", 1, 20],
      ["floor", 1, 40],
      ["cello", 1, 20],
      ["cello", 1, 40],
      ["cello", 2, 40],
    ]);
    for (const r of result.rows) {
      expect(r.failures, `${r.system} x${r.workers} ${r.connections}`).toBe(0);
      expect(r.fanoutDelivered, `${r.system} x${r.workers} ${r.connections}`).toBe(r.fanoutExpected);
      expect(r.fanoutExpected).toBe(2 * r.connections);
      expect(r.closedEarly).toBe(0);
      expect(r.heartbeatsSeen).toBeGreaterThan(0);
      expect(r.rss).toBeGreaterThan(0);
      expect(r.acceptPerSec).toBeGreaterThan(0);
    }
    // Timers do not grow with the streams.
    const cello = result.rows.filter((r) => r.system === "cello" && r.workers === 1);
    expect(cello[1]!.timers).toBe(cello[0]!.timers);
    expect(result.rows.find((r) => r.workers === 2)!.heapUsed).toBeNull();
    expect(result.fits.map((fit) => fit.system)).toEqual(["floor", "cello"]);
    expect(renderConnectionsSection(result)).toContain("| Cello.ts, 2 workers | 40 |");
  }, 180_000);
});

describe("fitConnections", () => {
  it("fits each system's one-process sizes and projects 100k and 1M from the line", () => {
    const rows = [row("floor", 5000), row("floor", 10_000), row("cello", 5000), row("cello", 10_000), row("cello", 19_500), row("cello", 39_000, { workers: 2, heapUsed: null })];
    const [floor, cello] = fitConnections(rows);
    expect(floor!.rss.slope).toBeCloseTo(4000, 6);
    expect(cello!.rss.slope).toBeCloseTo(7000, 6);
    expect(cello!.rss.r2).toBeCloseTo(1, 9);
    expect(cello!.heap!.slope).toBeCloseTo(3000, 6);
    expect(cello!.rssAt100k).toBe(50e6 + 7000 * 100_000);
    expect(cello!.rssAt1M).toBe(50e6 + 7000 * 1_000_000);
    expect(cello!.heapAt1M).toBe(10e6 + 3000 * 1_000_000);
  });

  it("fits nothing for a system measured at one size only", () => {
    expect(fitConnections([row("cello", 5000), row("floor", 5000), row("floor", 5000)])).toEqual([]);
  });
});

describe("connection targets", () => {
  const section = (rows: ConnectionsRow[], errors: string[] = []): ConnectionsSectionResult => ({
    options: { sizes: [5000, 19_500], workersConnections: 39_000, perHolder: 5000, heartbeatMs: 2000, heartbeatRounds: 3, fanoutEvents: 3 },
    rows,
    fits: fitConnections(rows),
    errors,
  });

  it("judge RSS and heap at the largest one-process size, and the fan-out everywhere", () => {
    const checks = checkConnectionTargets(section([row("cello", 5000, { rssPerConnection: 9000 }), row("cello", 19_500, { rssPerConnection: 8192, heapPerConnection: 4097 }), row("cello", 39_000, { workers: 2 })]));
    expect(checks.map((c) => [c.target, c.pass])).toEqual([
      ["Idle SSE connections, N=19500 in one process: RSS <= 8 KB per connection", true],
      ["Idle SSE connections, N=19500 in one process: JS heap <= 4 KB per connection", false],
      ["Idle SSE connections: every connection accepted and 1 event/s fanned out to all, at every size", true],
    ]);
  });

  it("fail the fan-out target on a short delivery, a refused connection or a run that failed", () => {
    const short = checkConnectionTargets(section([row("cello", 19_500, { fanoutDelivered: 58_499 })]));
    expect(short.at(-1)).toMatchObject({ pass: false, measured: "19500: 58499/58500 delivered, 0 not accepted" });
    const refused = checkConnectionTargets(section([row("cello", 19_500, { failures: 3 })]));
    expect(refused.at(-1)!.pass).toBe(false);
    const crashed = checkConnectionTargets(section([row("cello", 19_500)], ["cello --workers 2: exited"]));
    expect(crashed.at(-1)).toMatchObject({ pass: false, measured: "cello --workers 2: exited" });
    expect(checkConnectionTargets(undefined)).toEqual([]);
  });
});
