/**
 * The HTTP section: hello-world JSON and a two-parameter route, autocannon
 * `-c 100 -p 10` against each server, a warm-up round then a measured one.
 */
import { fileURLToPath } from "node:url";
import type { BenchConfig } from "../config.js";
import type { RunContext } from "../context.js";
import { InterferenceMonitor } from "../interference.js";
import { Worker } from "../worker.js";
import type { LoadResult, LoadRound } from "./load.js";

/** A server under test: a display name and the script that starts it. */
export interface HttpSystem {
  label: string;
  script: string;
}

const script = (name: string) => fileURLToPath(new URL(`./servers/${name}.ts`, import.meta.url));

/** Every HTTP server the bench knows, by id. `node-http` is the ceiling the others are compared to. */
export const HTTP_SYSTEMS: Record<string, HttpSystem> = {
  "node-http": { label: "node:http (hand-written)", script: script("node-http") },
  "cello-functions": { label: "Cello.ts (function routes)", script: script("cello-functions") },
  "cello-decorators": { label: "Cello.ts (decorator routes)", script: script("cello-decorators") },
  "cello-guarded": { label: "Cello.ts (function routes, 2 guards)", script: script("cello-guarded") },
  "cello-metrics": { label: "Cello.ts (function routes, enableMetrics)", script: script("cello-metrics") },
  fastify: { label: "Fastify 5", script: script("fastify") },
  hono: { label: "Hono 4 + @hono/node-server", script: script("hono") },
  express: { label: "Express 5", script: script("express") },
};

/** The two routes and the exact bodies they must answer. */
export const HTTP_ROUTES = [
  { id: "json", label: "GET / (hello-world JSON)", path: "/", body: '{"hello":"world"}' },
  { id: "params", label: "GET /users/:id/posts/:postId", path: "/users/42/posts/7", body: '{"id":"42","postId":"7"}' },
] as const;

/** One measured round. */
export interface HttpRound {
  reqPerSec: number;
  /** The server's CPU during the round, % of one core: well under 100 means the load generator set the pace. */
  serverCpuPct: number;
  /** Requests per second of server CPU: reqPerSec / (serverCpuPct / 100), i.e. 1 / CPU cost of a request. */
  reqPerCpuSec: number;
  /** Share of the machine's CPU other processes used during the round (null without /proc). */
  otherLoad: number | null;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

/** One server on one route, summarized over its measured rounds. */
export interface HttpRow {
  system: string;
  label: string;
  route: (typeof HTTP_ROUTES)[number]["id"];
  /** The best round's req/s (interference from other processes only ever lowers a round). */
  reqPerSec: number;
  /** The best round's requests per CPU-second of the server. */
  reqPerCpuSec: number;
  /** reqPerSec over node:http's on the same route in this run (null when node:http was not run). */
  ratioToNodeHttp: number | null;
  /** reqPerCpuSec over node:http's: the framework's CPU overhead, even when the load generator caps req/s. */
  efficiencyToNodeHttp: number | null;
  /** Server CPU and latency of the round with the best req/s. */
  serverCpuPct: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  rounds: HttpRound[];
  /** Connection errors, timeouts, non-2xx and body mismatches over all rounds: any makes the row a failure. */
  failures: number;
  /** Set when the server could not be measured. */
  error?: string;
}

/** The section's result. */
export interface HttpSectionResult {
  connections: number;
  pipelining: number;
  warmupSec: number;
  durationSec: number;
  rounds: number;
  rows: HttpRow[];
}

async function checkRoutes(port: number): Promise<void> {
  for (const route of HTTP_ROUTES) {
    const response = await fetch(`http://127.0.0.1:${port}${route.path}`);
    const text = await response.text();
    if (response.status !== 200 || text !== route.body || !/application\/json/.test(response.headers.get("content-type") ?? "")) {
      throw new Error(`GET ${route.path} answered ${response.status} ${response.headers.get("content-type")} ${JSON.stringify(text)}; expected 200 application/json ${route.body}`);
    }
  }
}

/**
 * Run the HTTP section. Every server is started first (all pinned to the
 * server core, idle until loaded); then each gets a warm-up round per route,
 * and the measured rounds go round-robin over the servers, so a burst of
 * outside load on a shared machine lands on one round of several systems
 * rather than on every round of one.
 *
 * @param config - The run's `http` settings.
 * @param context - Pinning and progress output.
 * @example const http = await runHttpSection(QUICK.http, context); // http.rows
 */
export async function runHttpSection(config: BenchConfig["http"], context: RunContext): Promise<HttpSectionResult> {
  const rows: HttpRow[] = [];
  const servers = new Map<string, Worker>();
  const failed = new Map<string, string>();
  const fail = (id: string, err: unknown) => {
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
    if (!failed.has(id)) context.log(`http ${id}: FAILED ${message}`);
    failed.set(id, message);
  };
  const load = await Worker.start(fileURLToPath(new URL("./load.ts", import.meta.url)), { label: "http load", core: context.loadCore });
  try {
    for (const id of config.systems) {
      const system = HTTP_SYSTEMS[id];
      if (!system) throw new Error(`unknown HTTP system ${id}`);
      try {
        const server = await Worker.start(system.script, {
          label: `server ${id}`,
          core: context.serverCore,
          nodeFlags: context.profileSystems.has(id) ? context.cpuProfFlags(`http-${id}`) : [],
        });
        servers.set(id, server);
        await checkRoutes(server.info.port as number);
      } catch (err) {
        fail(id, err);
      }
    }
    const measure = async (id: string, route: (typeof HTTP_ROUTES)[number], durationSec: number): Promise<LoadResult> => {
      const round: LoadRound = {
        url: `http://127.0.0.1:${servers.get(id)!.info.port as number}${route.path}`,
        connections: config.connections,
        pipelining: config.pipelining,
        expectBody: route.body,
        durationSec,
      };
      return load.request<LoadResult>("run", { ...round }, (durationSec + 30) * 1000);
    };
    const results = new Map<string, Array<HttpRound & { failures: number }>>();
    for (const route of HTTP_ROUTES) {
      if (config.warmupSec > 0) {
        for (const id of config.systems) {
          if (failed.has(id)) continue;
          await measure(id, route, config.warmupSec).catch((err: unknown) => fail(id, err));
        }
      }
      for (let r = 0; r < config.rounds; r++) {
        for (const id of config.systems) {
          if (failed.has(id)) continue;
          try {
            const server = servers.get(id)!;
            const monitor = InterferenceMonitor.start([server.pid, load.pid]);
            const cpuBefore = await server.request<number>("cpu");
            const startedAt = performance.now();
            const measured = await measure(id, route, config.durationSec);
            const cpuUs = (await server.request<number>("cpu")) - cpuBefore;
            const serverCpuPct = Math.round((cpuUs / 1000 / (performance.now() - startedAt)) * 1000) / 10;
            const result = {
              reqPerSec: Math.round(measured.reqPerSec),
              serverCpuPct,
              reqPerCpuSec: serverCpuPct > 0 ? Math.round(measured.reqPerSec / (serverCpuPct / 100)) : 0,
              otherLoad: monitor.stop(),
              latencyP50Ms: measured.latencyP50Ms,
              latencyP99Ms: measured.latencyP99Ms,
              failures: measured.errors + measured.timeouts + measured.non2xx + measured.mismatches,
            };
            const key = `${id} ${route.id}`;
            results.set(key, [...(results.get(key) ?? []), result]);
            const other = result.otherLoad === null ? "" : `, other processes ${Math.round(result.otherLoad * 100)}% of the machine`;
            context.log(`http ${id} ${route.id} round ${r + 1}: ${result.reqPerSec} req/s, server CPU ${serverCpuPct}%${other}${result.failures ? `, ${result.failures} failures` : ""}`);
          } catch (err) {
            fail(id, err);
          }
        }
      }
    }
    for (const id of config.systems) {
      const label = HTTP_SYSTEMS[id]!.label;
      for (const route of HTTP_ROUTES) {
        const measured = results.get(`${id} ${route.id}`) ?? [];
        const error = failed.get(id);
        if (error || measured.length === 0) {
          rows.push({
            system: id,
            label,
            route: route.id,
            reqPerSec: 0,
            reqPerCpuSec: 0,
            ratioToNodeHttp: null,
            efficiencyToNodeHttp: null,
            serverCpuPct: 0,
            latencyP50Ms: 0,
            latencyP99Ms: 0,
            rounds: [],
            failures: 1,
            error: error ?? "not measured",
          });
          continue;
        }
        const best = measured.reduce((a, b) => (b.reqPerSec > a.reqPerSec ? b : a));
        rows.push({
          system: id,
          label,
          route: route.id,
          reqPerSec: best.reqPerSec,
          reqPerCpuSec: Math.max(...measured.map((m) => m.reqPerCpuSec)),
          ratioToNodeHttp: null,
          efficiencyToNodeHttp: null,
          serverCpuPct: best.serverCpuPct,
          latencyP50Ms: best.latencyP50Ms,
          latencyP99Ms: best.latencyP99Ms,
          rounds: measured.map(({ failures: _failures, ...round }) => round),
          failures: measured.reduce((sum, m) => sum + m.failures, 0),
        });
      }
    }
  } finally {
    await load.stop();
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
  for (const row of rows) {
    const ceiling = rows.find((other) => other.system === "node-http" && other.route === row.route && !other.error);
    if (!ceiling || row.error) continue;
    if (ceiling.reqPerSec > 0) row.ratioToNodeHttp = round(row.reqPerSec / ceiling.reqPerSec, 3);
    if (ceiling.reqPerCpuSec > 0) row.efficiencyToNodeHttp = round(row.reqPerCpuSec / ceiling.reqPerCpuSec, 3);
  }
  return { connections: config.connections, pipelining: config.pipelining, warmupSec: config.warmupSec, durationSec: config.durationSec, rounds: config.rounds, rows };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
