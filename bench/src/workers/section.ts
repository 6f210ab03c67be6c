/**
 * The workers section: the same Cello.ts app under `--workers 2` against
 * `--workers 1` (one process), for hello-world JSON (autocannon) and SSE
 * fan-out through a channel (the default broker: with two workers, the
 * primary's memory broker over IPC). Nothing is pinned: two workers need both
 * cores, so the load generator shares them, and the ratio says what a 2-core
 * machine gains, not what two cores would give with the load elsewhere.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchConfig } from "../config.js";
import type { RunContext } from "../context.js";
import type { ExtraSection } from "../harness.js";
import type { LoadResult } from "../http/load.js";
import type { CollectResult, ConnectResult, StatusResult } from "../sse/clients.js";
import { drain } from "../sse/section.js";
import { BENCH_DIR, Worker } from "../worker.js";

interface WorkersRow {
  workers: number;
  /** Hello world: best round, req/s. */
  helloReqPerSec: number;
  helloErrors: number;
  /** SSE fan-out at 1000 events/s of 128 B. */
  clients: number;
  publishedEvents: number;
  delivered: number;
  deliveredRatio: number;
  deliveredPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export interface WorkersSectionResult {
  rows: WorkersRow[];
}

const SSE_RATE = 1000;
const SSE_SIZE = 128;

/** Start the app with `--workers n` and resolve with it and its port once it prints its URL. */
async function startApp(workers: number): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL("./server.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, "--workers", String(workers)], { cwd: BENCH_DIR, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr!.on("data", (d) => (output += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`--workers ${workers}: no URL in 30 s: ${output}`)), 30_000);
    child.stdout!.on("data", (d) => {
      output += d;
      const match = /running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.on("exit", (code) => reject(new Error(`--workers ${workers} exited with ${code}: ${output}`)));
  });
}

async function stopApp(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function publish(port: number, rate: number, ms: number, size: number): Promise<{ events: number; failures: number; startedAt: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/publish?rate=${rate}&ms=${ms}&size=${size}`);
  return (await res.json()) as { events: number; failures: number; startedAt: number };
}

async function runOne(workers: number, config: BenchConfig, context: RunContext): Promise<WorkersRow> {
  const { child, port } = await startApp(workers);
  try {
    const http = await Worker.start(fileURLToPath(new URL("../http/load.ts", import.meta.url)), { label: "http load" });
    let best: LoadResult | undefined;
    try {
      const round = { url: `http://127.0.0.1:${port}/`, connections: config.http.connections, pipelining: config.http.pipelining, expectBody: '{"hello":"world"}' };
      await http.request<LoadResult>("run", { ...round, durationSec: Math.max(1, config.http.warmupSec) }, 60_000);
      for (let i = 0; i < config.http.rounds; i++) {
        const result = await http.request<LoadResult>("run", { ...round, durationSec: config.http.durationSec }, 60_000);
        if (!best || result.reqPerSec > best.reqPerSec) best = result;
      }
    } finally {
      await http.stop();
    }
    context.log(`workers ${workers}: hello world ${Math.round(best!.reqPerSec)} req/s`);

    const clients = config.sse.clients[0] ?? 1000;
    const load = await Worker.start(fileURLToPath(new URL("../sse/clients.ts", import.meta.url)), { label: "sse load", fdLimit: context.fdLimit });
    try {
      const connected = await load.request<ConnectResult>("connect", { port, path: "/sse", clients, latencyEvery: config.sse.latencyEvery, concurrency: 256, sourceAddresses: 1 }, 120_000);
      if (connected.failures > 0) throw new Error(`${connected.failures} of ${clients} connections failed: ${connected.firstError}`);
      // Warm-up: one tick must reach every client (each worker's subscription is live at the primary).
      const deadline = Date.now() + 30_000;
      for (;;) {
        await load.request("reset");
        const warm = await publish(port, 10, 1, SSE_SIZE);
        await drain(load, warm.events * clients, 500, 5_000);
        if ((await load.request<StatusResult>("status")).frames >= warm.events * clients) break;
        if (Date.now() > deadline) throw new Error("the warm-up tick never reached every client");
      }
      await load.request("reset");
      const report = await publish(port, SSE_RATE, config.sse.publishMs, SSE_SIZE);
      const expected = report.events * clients;
      await drain(load, expected, config.sse.drainIdleMs, config.sse.drainMaxMs);
      const collected = await load.request<CollectResult>("collect", { expectedPerClient: report.events });
      const windowMs = Math.max(1, collected.lastFrameAt - report.startedAt);
      const row: WorkersRow = {
        workers,
        helloReqPerSec: Math.round(best!.reqPerSec),
        helloErrors: best!.errors + best!.non2xx + best!.mismatches + best!.timeouts,
        clients,
        publishedEvents: report.events,
        delivered: collected.frames,
        deliveredRatio: Math.round((collected.frames / expected) * 10_000) / 10_000,
        deliveredPerSec: Math.round((collected.frames * 1000) / windowMs),
        latencyP50Ms: collected.latency.p50,
        latencyP99Ms: collected.latency.p99,
      };
      context.log(`workers ${workers}: SSE ${clients} clients, ${row.deliveredPerSec} deliveries/s, ${(row.deliveredRatio * 100).toFixed(2)}% delivered`);
      await load.request("close").catch(() => {});
      return row;
    } finally {
      await load.stop();
    }
  } finally {
    await stopApp(child);
  }
}

export async function runWorkersSection(config: BenchConfig, context: RunContext): Promise<WorkersSectionResult> {
  const rows: WorkersRow[] = [];
  for (const workers of [1, 2]) rows.push(await runOne(workers, config, context));
  return { rows };
}

export function renderWorkersSection(result: WorkersSectionResult): string {
  const [one, two] = result.rows;
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "n/a");
  const lines = [
    "Same app, `--workers 1` (one process) and `--workers 2` (node:cluster, channels through the primary over IPC). Nothing pinned: the load generators share both cores with the workers.",
    "",
    "| workers | hello world req/s | errors | SSE clients | delivered/s (1000 ev/s, 128 B) | delivered | p50 / p99 ms |",
    "|---|---|---|---|---|---|---|",
    ...result.rows.map((row) => `| ${row.workers} | ${row.helloReqPerSec} | ${row.helloErrors} | ${row.clients} | ${row.deliveredPerSec} | ${(row.deliveredRatio * 100).toFixed(2)}% | ${row.latencyP50Ms} / ${row.latencyP99Ms} |`),
  ];
  if (one && two) lines.push("", `2 workers vs 1: hello world ${ratio(two.helloReqPerSec, one.helloReqPerSec)}, SSE fan-out ${ratio(two.deliveredPerSec, one.deliveredPerSec)}.`);
  return `${lines.join("\n")}\n`;
}

/**
 * The workers section for the runner (`--sections=workers`).
 * @example await runBench({ config: QUICK, sections: ["workers"], extraSections: [WORKERS_SECTION] });
 */
export const WORKERS_SECTION: ExtraSection = {
  id: "workers",
  title: "Workers: 2 vs 1 on one port",
  connections: (config) => config.sse.clients[0] ?? 1000,
  run: (context, config) => runWorkersSection(config, context),
  render: (result) => renderWorkersSection(result as WorkersSectionResult),
};
