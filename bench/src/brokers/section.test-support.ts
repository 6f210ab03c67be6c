/**
 * Shared by the broker sections' tests (redis/section.test.ts,
 * postgres/section.test.ts): a run context that records its log lines, a port
 * nothing listens on, and a measured row with the figures every load has.
 */
import { createServer } from "node:net";
import type { RunContext } from "../context.js";
import type { BrokerRowBase } from "./section.js";

/** A run context with no pinning that appends every log line to `lines`. */
export function context(lines: string[]): RunContext {
  return { serverCore: undefined, loadCore: undefined, fdLimit: undefined, profileSystems: new Set(), cpuProfFlags: () => [], log: (line) => lines.push(line) };
}

/** A loopback port nothing listens on: bound, then closed. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What differs between the sections' sample rows. */
export type RowFigures = Pick<BrokerRowBase<string>, "rate" | "deliveredPerSec" | "latency" | "instanceCpuPct" | "deliveriesPerCpuSec" | "efficiencyToMemory">;

/** An ok row at 1000 clients, 128 B, every event delivered, with `figures`. */
export function measuredRow<Id extends string>(setup: "memory" | Id, label: string, figures: RowFigures): BrokerRowBase<Id> {
  return {
    setup,
    label,
    clients: 1000,
    size: 128,
    status: "ok",
    publishedEvents: 1000,
    skippedTicks: 0,
    publishErrors: 0,
    expectedDeliveries: 1_000_000,
    delivered: 1_000_000,
    deliveredRatio: 1,
    loadCpuPct: 25,
    otherLoad: 0.01,
    closedEarly: 0,
    clientsShort: 0,
    ...figures,
  };
}
