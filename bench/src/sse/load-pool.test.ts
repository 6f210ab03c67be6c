import { describe, expect, it } from "vitest";
import { LOAD_CPU_LIMIT_PCT, loadProcessCount, markLoadCpu, MAX_CLIENTS_PER_LOAD_PROCESS, READS_PER_LOAD_PROCESS } from "./load-pool.js";

describe("markLoadCpu", () => {
  it("marks a load process over 70% of a core", () => {
    expect(LOAD_CPU_LIMIT_PCT).toBe(70);
    expect(markLoadCpu([70], 1)).toMatchObject({ sumPct: 70, maxPct: 70, processes: 1, over: false });
    expect(markLoadCpu([70.1], 1)).toMatchObject({ over: true });
    expect(markLoadCpu([20, 75], 2)).toMatchObject({ sumPct: 95, maxPct: 75, processes: 2, cores: 2, over: true });
  });

  it("marks processes that each stay under 70% but together load their shared core above it", () => {
    expect(markLoadCpu([45, 40], 1)).toEqual({ sumPct: 85, maxPct: 45, processes: 2, cores: 1, over: true });
    // The same on two cores is fine: each core is under 70%.
    expect(markLoadCpu([45, 40], 2)).toMatchObject({ over: false });
    expect(markLoadCpu([50, 50, 50], 2)).toMatchObject({ sumPct: 150, over: true });
  });

  it("reads no processes as nothing to mark", () => {
    expect(markLoadCpu([], 1)).toEqual({ sumPct: 0, maxPct: 0, processes: 0, cores: 1, over: false });
  });
});

describe("loadProcessCount", () => {
  it("splits clients so that no process holds more than the descriptor limit allows", () => {
    expect(loadProcessCount(MAX_CLIENTS_PER_LOAD_PROCESS, 1, 1)).toBe(1);
    expect(loadProcessCount(MAX_CLIENTS_PER_LOAD_PROCESS + 1, 1, 1)).toBe(2);
    expect(loadProcessCount(39_000, 1, 1)).toBe(3);
  });

  it("adds a process per spare core when one would read more than it can at 70%, and never more processes than cores for CPU", () => {
    const heavy = Math.ceil((READS_PER_LOAD_PROCESS * 2.5) / 100);
    expect(loadProcessCount(heavy, 100, 8)).toBe(3);
    expect(loadProcessCount(heavy, 100, 2)).toBe(2);
    expect(loadProcessCount(heavy, 100, 1)).toBe(1);
    expect(loadProcessCount(100, 10, 8)).toBe(1);
  });
});
