/**
 * The PostgreSQL section without running it: what the report says when
 * PostgreSQL does not answer (and that a password never reaches it), how rows
 * render, and the 0.7x target read from a run's result. (Run at tiny size by hand:
 * `pnpm bench --quick --sections=postgres --postgres-clients=20`.)
 */
import { describe, expect, it } from "vitest";
import { closedPort, context, measuredRow } from "../brokers/section.test-support.js";
import { SMOKE } from "../config.js";
import type { BenchResult } from "../harness.js";
import { checkTargets } from "../targets.js";
import { POSTGRES_SETUP_LABELS, renderPostgresSection, runPostgresSection, type PostgresRow, type PostgresSectionResult } from "./section.js";

function row(setup: PostgresRow["setup"], overrides: Partial<PostgresRow> = {}): PostgresRow {
  const figures = {
    rate: 1000,
    deliveredPerSec: 500_000,
    latency: { count: 100, p50: 3, p99: 12, max: 20 },
    instanceCpuPct: setup === "postgres" ? [40, 35] : [60],
    deliveriesPerCpuSec: setup === "postgres" ? 571_428 : 833_333,
    efficiencyToMemory: setup === "postgres" ? 0.686 : null,
  };
  return { ...measuredRow(setup, POSTGRES_SETUP_LABELS[setup], figures), postgresCpuPct: setup === "postgres" ? 12.5 : null, ...overrides };
}

function available(rows: PostgresRow[]): PostgresSectionResult {
  return { available: true, url: "postgres://postgres@127.0.0.1:5432/test", postgresVersion: "15.20", postgresLocal: true, prefix: "bench_1_ab_", tablesDropped: 6, cleanedUp: true, tickEvents: 10, publishMs: 1000, latencyEvery: 50, rows };
}

describe("runPostgresSection", () => {
  it("reports that PostgreSQL did not answer, with the URL (password masked) and the reason, and starts nothing", async () => {
    const port = await closedPort();
    const lines: string[] = [];
    const result = await runPostgresSection(SMOKE.postgres, context(lines), `postgres://bench:secret@127.0.0.1:${port}/test`);
    expect(result).toMatchObject({ available: false, url: `postgres://bench:***@127.0.0.1:${port}/test` });
    expect(result.available ? "" : result.reason).toContain("ECONNREFUSED");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("section not run");
    const markdown = renderPostgresSection(result);
    expect(markdown).toContain(`**Not run**: PostgreSQL at postgres://bench:***@127.0.0.1:${port}/test did not answer`);
    expect(markdown).toContain("DATABASE_URL");
    expect(markdown).not.toContain("secret");
    expect(markdown).not.toContain("| Load |");
  });
});

describe("renderPostgresSection", () => {
  it("shows both setups per load, each instance's CPU and PostgreSQL's, and the ratio to in-memory", () => {
    const markdown = renderPostgresSection(available([row("postgres"), row("memory")]));
    expect(markdown).toContain("| Load | Setup | delivered/s | delivered | p50 ms | p99 ms | max ms | CPU A | CPU B | PostgreSQL CPU | clients CPU | per CPU-s | x in-memory |");
    expect(markdown).toContain(
      [
        `| 1000/s x 128 B | ${POSTGRES_SETUP_LABELS.memory} | 500,000 | 100% | 3.0 | 12.0 | 20.0 | 60% | - | - | 25% | 833,333 | 1.00x |`,
        `| 1000/s x 128 B | ${POSTGRES_SETUP_LABELS.postgres} | 500,000 | 100% | 3.0 | 12.0 | 20.0 | 40% | 35% | 12.5% | 25% | 571,428 | 0.69x |`,
      ].join("\n"),
    );
    expect(markdown).toContain("6 dropped after the run.");
  });
});

describe("the second-broker target", () => {
  const result = (rows: PostgresRow[]) => ({ extra: { postgres: { title: "", markdown: "", result: available(rows) } } }) as unknown as BenchResult;
  const target = (rows: PostgresRow[]) => checkTargets({ ...result(rows), config: SMOKE } as BenchResult).filter((check) => check.target.startsWith("PostgreSQL broker"));

  it("passes at 0.7x the in-memory instance or more at N=1000, 1000/s, and fails below or when delivery failed", () => {
    expect(target([row("memory"), row("postgres", { efficiencyToMemory: 0.71 })])).toEqual([{ target: "PostgreSQL broker, 2 instances, N=1000, 1000/s 128 B: >= 0.7x the in-memory instance (deliveries per CPU-second)", measured: "0.71x", pass: true }]);
    expect(target([row("memory"), row("postgres")])[0]).toMatchObject({ measured: "0.69x", pass: false });
    expect(target([row("memory"), row("postgres", { status: "FAIL", note: "99% delivered" })])[0]).toMatchObject({ measured: "FAIL: 99% delivered", pass: false });
  });
});
