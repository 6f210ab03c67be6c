/**
 * Smoke test: the whole harness on a tiny profile (1 s HTTP rounds for
 * node:http and Cello.ts, 50 SSE clients held by two load processes for the
 * raw net floor, both node:http servers and Cello.ts; 20 clients on two Cello.ts instances sharing Redis and on one
 * in-memory instance), with real child processes and sockets. It checks that
 * the result is well-formed and that every system answered correctly and
 * delivered every event; it asserts nothing about speed.
 *
 * The Redis part needs Redis (REDIS_URL, else 127.0.0.1:6379): without it,
 * it is skipped with one line, except under CI=true, where it fails.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SMOKE } from "./config.js";
import { runBench } from "./harness.js";
import { HTTP_ROUTES, HTTP_SYSTEMS } from "./http/section.js";
import { RedisAdmin, redisUrl } from "./redis/admin.js";
import { REDIS_SECTION, REDIS_SETUP_LABELS, type RedisRow } from "./redis/section.js";
import { SSE_SYSTEMS, type LoadRow } from "./sse/section.js";
import { BENCH_DIR } from "./worker.js";

const ci = process.env.CI === "true" || process.env.CI === "1";
let redisProblem: string | undefined;
try {
  (await RedisAdmin.connect(redisUrl())).close();
} catch (err) {
  redisProblem = err instanceof Error ? err.message : String(err);
}
if (redisProblem !== undefined && !ci) console.log(`bench Redis smoke test skipped: Redis at ${redisUrl()} does not answer (${redisProblem}); start redis-server or set REDIS_URL`);

/** What every load row of either section must show: every event reached every client, with latency samples. */
function expectEveryEventDelivered(row: LoadRow, where: string): void {
  expect(row.status, `${where}: ${row.note}`).toBe("ok");
  expect(row.publishedEvents, where).toBeGreaterThan(0);
  expect(row.expectedDeliveries, where).toBe(row.publishedEvents * row.clients);
  expect(row.delivered, where).toBe(row.expectedDeliveries);
  expect(row.deliveredRatio, where).toBe(1);
  expect(row.clientsShort, where).toBe(0);
  expect(row.closedEarly, where).toBe(0);
  expect(row.latency.count, where).toBeGreaterThan(0);
}

describe("bench harness (smoke profile)", () => {
  it("writes well-formed results in which every system delivered everything", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "cello-bench-"));
    const { result, markdown } = await runBench({ config: SMOKE, outDir, log: () => {} });

    const json = JSON.parse(readFileSync(join(outDir, "latest.json"), "utf8"));
    expect(json).toEqual(JSON.parse(JSON.stringify(result)));
    expect(readFileSync(join(outDir, "latest.md"), "utf8")).toBe(markdown);
    expect(json).toMatchObject({ schema: 1, profile: "smoke", machine: { node: process.version } });
    expect(json.machine.cores).toBeGreaterThanOrEqual(1);
    expect(typeof json.machine.cpuModel).toBe("string");

    // HTTP: every server x route x pipelining depth measured, every response had the expected body.
    expect(json.http.rows).toHaveLength(SMOKE.http.systems.length * HTTP_ROUTES.length * SMOKE.http.pipeliningModes.length);
    for (const row of json.http.rows) {
      const where = `${row.system} ${row.route} -p ${row.pipelining}`;
      expect(row.error, where).toBeUndefined();
      expect(row.failures, where).toBe(0);
      expect(row.rounds.map((r: { round: number }) => r.round), where).toEqual([...Array(SMOKE.http.pairedRounds).keys()]);
      expect(row.reqPerSec).toBeGreaterThan(0);
      expect(row.loadCpuPct, where).toBeGreaterThan(0);
      // Every Cello.ts row is compared with node:http round by round.
      if (row.system !== "node-http") expect(row.paired["node-http"], where).toMatchObject({ pairs: SMOKE.http.pairedRounds });
    }
    expect(json.http.rows.filter((r: { system: string }) => r.system === "node-http").map((r: { pipelining: number; ratioToNodeHttp: number }) => [r.pipelining, r.ratioToNodeHttp])).toEqual(
      SMOKE.http.pipeliningModes.flatMap((p) => HTTP_ROUTES.map(() => [p, 1])),
    );

    // SSE: every system x load delivered 100% to every client, with latency samples.
    expect(json.sse.rows).toHaveLength(SMOKE.sse.systems.length * SMOKE.sse.clients.length * SMOKE.sse.loads.length);
    for (const row of json.sse.rows) {
      const where = `${row.system} ${row.rate}/s ${row.size} B`;
      expectEveryEventDelivered(row, where);
    }
    expect(json.sse.memory.map((m: { system: string }) => m.system)).toEqual(SMOKE.sse.systems);
    // The smoke profile's load generator is two processes: every row reports both, and the floor is the reference.
    expect(json.sse.loadProcesses).toEqual({ [SMOKE.sse.clients[0]!]: 2 });
    for (const row of json.sse.rows) expect(row.loadCpu.processes, `${row.system} ${row.rate}/s`).toBe(2);
    for (const row of json.sse.rows.filter((r: { system: string }) => r.system === "raw-net")) expect(row.efficiencyToFloor).toBe(1);

    // The markdown names every system and flags no failure.
    for (const id of SMOKE.http.systems) expect(markdown).toContain(HTTP_SYSTEMS[id]!.label);
    for (const id of SMOKE.sse.systems) expect(markdown).toContain(SSE_SYSTEMS[id]!.label);
    expect(markdown).toContain("| Machine |");
    expect(markdown).not.toContain("**FAIL**");
  });

  it("accepts --quick on the command line", () => {
    const help = spawnSync(process.execPath, ["--conditions=@cellojs/source", "--import", "tsx", "src/run.ts", "--quick", "--help"], { cwd: BENCH_DIR, encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--quick");
    const wrong = spawnSync(process.execPath, ["--conditions=@cellojs/source", "--import", "tsx", "src/run.ts", "--quikc"], { cwd: BENCH_DIR, encoding: "utf8" });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("unknown option --quikc");
  });
});

describe.skipIf(redisProblem !== undefined && !ci)("bench harness, Redis section (smoke profile)", () => {
  it("delivers everything on two instances sharing Redis and on one in-memory instance, and deletes its keys", async () => {
    expect(redisProblem, `Redis is required under CI but ${redisUrl()} does not answer; start it or set REDIS_URL`).toBeUndefined();
    const outDir = mkdtempSync(join(tmpdir(), "cello-bench-redis-"));
    const { result, markdown } = await runBench({ config: SMOKE, sections: ["redis"], extraSections: [REDIS_SECTION], outDir, log: () => {} });

    const json = JSON.parse(readFileSync(join(outDir, "latest.json"), "utf8"));
    expect(json).toEqual(JSON.parse(JSON.stringify(result)));
    expect(readFileSync(join(outDir, "latest.md"), "utf8")).toBe(markdown);
    expect(json.http).toBeNull();
    expect(json.sse).toBeNull();
    const section = json.extra.redis;
    expect(section.title).toBe(REDIS_SECTION.title);
    expect(section.result).toMatchObject({ available: true, keysLeft: 0, tickEvents: SMOKE.redis.tickEvents });
    expect(section.result.keysDeleted).toBeGreaterThan(0);

    // Every setup x load delivered 100% to every client (half of them on instance B, which only Redis feeds).
    const rows: RedisRow[] = section.result.rows;
    expect(rows.map((r) => r.setup).sort()).toEqual(SMOKE.redis.clients.flatMap(() => SMOKE.redis.loads.flatMap(() => ["memory", "redis"])));
    for (const row of rows) {
      const where = `${row.setup} ${row.rate}/s ${row.size} B`;
      expectEveryEventDelivered(row, where);
      expect(row.publishErrors, where).toBe(0);
      expect(row.instanceCpuPct, where).toHaveLength(row.setup === "redis" ? 2 : 1);
      expect(row.redisCpuPct === null, where).toBe(row.setup === "memory");
    }

    // Nothing left under the run's prefix, checked on a connection of our own.
    const admin = await RedisAdmin.connect(redisUrl());
    try {
      expect(await admin.countKeys(section.result.prefix)).toBe(0);
    } finally {
      admin.close();
    }

    expect(markdown).toContain(`## ${REDIS_SECTION.title}`);
    for (const label of Object.values(REDIS_SETUP_LABELS)) expect(markdown).toContain(`| ${label} |`);
    expect(markdown).toContain("| Load | Setup | delivered/s | delivered |");
    expect(markdown).not.toContain("**FAIL**");
  });
});
