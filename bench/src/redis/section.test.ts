/**
 * The Redis section without Redis: what the report says when Redis does not
 * answer, how a failed delivery is shown, and that a password never reaches
 * the report. (The run itself is covered by the smoke test in harness.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { closedPort, context, measuredRow } from "../brokers/section.test-support.js";
import { SMOKE } from "../config.js";
import { REDIS_SETUP_LABELS, renderRedisSection, runRedisSection, type RedisRow, type RedisSectionResult } from "./section.js";

function row(setup: RedisRow["setup"], overrides: Partial<RedisRow> = {}): RedisRow {
  const figures = {
    rate: 100,
    deliveredPerSec: 100_000,
    latency: { count: 100, p50: 2, p99: 5, max: 9 },
    instanceCpuPct: setup === "redis" ? [20, 18] : [30],
    deliveriesPerCpuSec: setup === "redis" ? 253_165 : 333_333,
    efficiencyToMemory: setup === "redis" ? 0.76 : null,
  };
  return { ...measuredRow(setup, REDIS_SETUP_LABELS[setup], figures), redisCpuPct: setup === "redis" ? 1.5 : null, ...overrides };
}

function available(rows: RedisRow[]): RedisSectionResult {
  return { available: true, url: "redis://127.0.0.1:6379", redisVersion: "7.0.15", redisLocal: true, prefix: "cello-bench:1-ab:", keysDeleted: 2, keysLeft: 0, tickEvents: 10, publishMs: 1000, latencyEvery: 50, rows };
}

describe("runRedisSection", () => {
  it("reports that Redis did not answer, with the URL and the reason, and starts nothing", async () => {
    const port = await closedPort();
    const lines: string[] = [];
    const result = await runRedisSection(SMOKE.redis, context(lines), `redis://:secret@127.0.0.1:${port}`);
    expect(result).toMatchObject({ available: false, url: `redis://:***@127.0.0.1:${port}` });
    expect(result.available ? "" : result.reason).toContain("ECONNREFUSED");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("section not run");

    const markdown = renderRedisSection(result);
    expect(markdown).toContain(`**Not run**: Redis at redis://:***@127.0.0.1:${port} did not answer`);
    expect(markdown).toContain("REDIS_URL");
    expect(markdown).not.toContain("secret");
    expect(markdown).not.toContain("| Load |");
  });
});

describe("renderRedisSection", () => {
  it("shows both setups per load, each instance's CPU and Redis's, and the ratio to in-memory", () => {
    const markdown = renderRedisSection(available([row("redis"), row("memory")]));
    expect(markdown).toContain("### 1,000 clients");
    expect(markdown).toContain("| Load | Setup | delivered/s | delivered | p50 ms | p99 ms | max ms | CPU A | CPU B | Redis CPU | clients CPU | per CPU-s | x in-memory |");
    // In-memory first within a load, whatever the row order.
    expect(markdown).toContain(
      [
        `| 100/s x 128 B | ${REDIS_SETUP_LABELS.memory} | 100,000 | 100% | 2.0 | 5.0 | 9.0 | 30% | - | - | 25% | 333,333 | 1.00x |`,
        `| 100/s x 128 B | ${REDIS_SETUP_LABELS.redis} | 100,000 | 100% | 2.0 | 5.0 | 9.0 | 20% | 18% | 1.5% | 25% | 253,165 | 0.76x |`,
      ].join("\n"),
    );
    expect(markdown).toContain("2 deleted after the run.");
    expect(markdown).not.toContain("**FAIL**");
  });

  it("shows a delivery under 100% as FAIL with its reason, and heavier loads as skipped", () => {
    const failed = row("redis", { status: "FAIL", deliveredRatio: 0.995, delivered: 995_000, note: "3 publishes rejected (Broker unavailable)", efficiencyToMemory: null });
    const skipped = row("redis", { rate: 1000, status: "skipped", note: "skipped: a lighter load failed" });
    const markdown = renderRedisSection(available([row("memory"), failed, skipped]));
    expect(markdown).toMatch(new RegExp(`\\| 100/s x 128 B \\| ${REDIS_SETUP_LABELS.redis.replace(/[()+]/g, "\\$&")} \\| [\\d,]+ \\| \\*\\*FAIL\\*\\* 99\\.5% \\|.* \\| - \\| - \\|$`, "m"));
    expect(markdown).toContain(`- ${REDIS_SETUP_LABELS.redis}, 100/s x 128 B: 3 publishes rejected (Broker unavailable)`);
    expect(markdown).toContain(`| 1000/s x 128 B | ${REDIS_SETUP_LABELS.redis} | - | skipped | - | - | - | - | - | - | - | - | - |`);
  });

  it("says so when keys were left behind", () => {
    expect(renderRedisSection({ ...available([row("memory")]), keysLeft: 3 } as RedisSectionResult)).toContain("**3 left**");
  });
});
