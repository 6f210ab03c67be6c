/**
 * The HTTP section: hello-world JSON and a two-parameter route, autocannon
 * `-c 100` against each server at each pipelining depth (`-p 10` and `-p 1`),
 * a warm-up round then paired measured rounds.
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
  "cello-ratelimit": { label: "Cello.ts (function routes, rate limit on)", script: script("cello-ratelimit") },
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
  /** Which paired round this was (0-based): rounds with the same index ran back to back, one per server. */
  round: number;
  reqPerSec: number;
  /** The server's CPU during the round, % of one core: well under 100 means the load generator set the pace. */
  serverCpuPct: number;
  /** The load generator's CPU during the round, % of one core: above {@link LOAD_CPU_LIMIT} it was close to being the bottleneck. */
  loadCpuPct: number;
  /** Requests per second of server CPU: reqPerSec / (serverCpuPct / 100), i.e. 1 / CPU cost of a request. */
  reqPerCpuSec: number;
  /** Share of the machine's CPU other processes used during the round (null without /proc). */
  otherLoad: number | null;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

/** A ratio over paired rounds: the median and the interquartile range of the per-round ratios. */
export interface RatioStats {
  median: number;
  q1: number;
  q3: number;
  /** How many rounds were paired (both servers measured, without failures). */
  pairs: number;
}

/** The servers every row is compared with, round by round, when the run measured them. */
export const HTTP_REFERENCES = ["node-http", "fastify", "hono", "cello-functions"] as const;

/** A load generator above this share of its core is marked: it may have set the pace. */
export const LOAD_CPU_LIMIT = 70;

/** One server on one route at one pipelining depth, summarized over its measured rounds. */
export interface HttpRow {
  system: string;
  label: string;
  route: (typeof HTTP_ROUTES)[number]["id"];
  /** autocannon `-p` of these rounds. */
  pipelining: number;
  /** The best round's req/s (interference from other processes only ever lowers a round). */
  reqPerSec: number;
  /** The median round's requests per CPU-second of the server. */
  reqPerCpuSec: number;
  /** reqPerSec over node:http's best on the same route and depth (null when node:http was not run). */
  ratioToNodeHttp: number | null;
  /** Median over paired rounds of reqPerCpuSec / node:http's: the framework's CPU overhead, even when the load generator caps req/s. */
  efficiencyToNodeHttp: number | null;
  /** Per-CPU-second ratios to each reference server the run measured, over paired rounds (median and IQR), by server id. */
  paired: Partial<Record<(typeof HTTP_REFERENCES)[number], RatioStats>>;
  /** Server CPU and latency of the round with the best req/s. */
  serverCpuPct: number;
  /** The load generator's CPU: the median over the rounds, % of one core. */
  loadCpuPct: number;
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
  /** The depths measured, each a set of rows of its own. */
  pipelining: number[];
  warmupSec: number;
  durationSec: number;
  rounds: number;
  rows: HttpRow[];
}

/**
 * Median and interquartile range (linear interpolation between order statistics) of `values`.
 * @example quartiles([1, 2, 3, 4]) // { median: 2.5, q1: 1.75, q3: 3.25 }
 */
export function quartiles(values: number[]): { median: number; q1: number; q3: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => {
    const position = (sorted.length - 1) * q;
    const low = Math.floor(position);
    const high = Math.ceil(position);
    return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
  };
  return { median: at(0.5), q1: at(0.25), q3: at(0.75) };
}

/**
 * Per-round ratios of `rounds` to `reference` (requests per CPU-second), paired by round index.
 * @returns null when no round of the two pairs up.
 * @example pairedRatio(cello.rounds, nodeHttp.rounds)?.median
 */
export function pairedRatio(rounds: HttpRound[], reference: HttpRound[]): RatioStats | null {
  const byRound = new Map(reference.map((r) => [r.round, r]));
  const ratios: number[] = [];
  for (const one of rounds) {
    const other = byRound.get(one.round);
    if (other && other.reqPerCpuSec > 0 && one.reqPerCpuSec > 0) ratios.push(one.reqPerCpuSec / other.reqPerCpuSec);
  }
  if (ratios.length === 0) return null;
  const { median, q1, q3 } = quartiles(ratios);
  return { median: round(median, 3), q1: round(q1, 3), q3: round(q3, 3), pairs: ratios.length };
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
 * server core, idle until loaded). Then, for each pipelining depth and route,
 * each server gets a warm-up round, and the measured rounds are paired: each
 * round measures every server once, back to back, in an order that alternates
 * from round to round (forwards, then backwards), so a burst of outside load on
 * a shared machine lands on one round of several servers, and no server always
 * follows the same one. Ratios are taken round by round, then summarized by
 * their median and interquartile range.
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
    const measure = async (id: string, route: (typeof HTTP_ROUTES)[number], pipelining: number, durationSec: number): Promise<LoadResult> => {
      const round: LoadRound = {
        url: `http://127.0.0.1:${servers.get(id)!.info.port as number}${route.path}`,
        connections: config.connections,
        pipelining,
        expectBody: route.body,
        durationSec,
      };
      return load.request<LoadResult>("run", { ...round }, (durationSec + 30) * 1000);
    };
    const results = new Map<string, Array<HttpRound & { failures: number }>>();
    for (const pipelining of config.pipeliningModes) {
      for (const route of HTTP_ROUTES) {
        if (config.warmupSec > 0) {
          for (const id of config.systems) {
            if (failed.has(id)) continue;
            await measure(id, route, pipelining, config.warmupSec).catch((err: unknown) => fail(id, err));
          }
        }
        for (let r = 0; r < config.pairedRounds; r++) {
          const order = r % 2 === 0 ? config.systems : [...config.systems].reverse();
          for (const id of order) {
            if (failed.has(id)) continue;
            try {
              const server = servers.get(id)!;
              const monitor = InterferenceMonitor.start([server.pid, load.pid]);
              const cpuBefore = await server.request<number>("cpu");
              const loadBefore = await load.request<number>("cpu");
              const startedAt = performance.now();
              const measured = await measure(id, route, pipelining, config.pairedRoundSec);
              const loadUs = (await load.request<number>("cpu")) - loadBefore;
              const cpuUs = (await server.request<number>("cpu")) - cpuBefore;
              const elapsedMs = performance.now() - startedAt;
              const serverCpuPct = Math.round((cpuUs / 1000 / elapsedMs) * 1000) / 10;
              const result = {
                round: r,
                reqPerSec: Math.round(measured.reqPerSec),
                serverCpuPct,
                loadCpuPct: Math.round((loadUs / 1000 / elapsedMs) * 1000) / 10,
                reqPerCpuSec: serverCpuPct > 0 ? Math.round(measured.reqPerSec / (serverCpuPct / 100)) : 0,
                otherLoad: monitor.stop(),
                latencyP50Ms: measured.latencyP50Ms,
                latencyP99Ms: measured.latencyP99Ms,
                failures: measured.errors + measured.timeouts + measured.non2xx + measured.mismatches,
              };
              const key = `${id} ${route.id} ${pipelining}`;
              results.set(key, [...(results.get(key) ?? []), result]);
              const other = result.otherLoad === null ? "" : `, other processes ${Math.round(result.otherLoad * 100)}% of the machine`;
              context.log(
                `http -p ${pipelining} ${id} ${route.id} round ${r + 1}: ${result.reqPerSec} req/s, server CPU ${serverCpuPct}%, load CPU ${result.loadCpuPct}%${other}${result.failures ? `, ${result.failures} failures` : ""}`,
              );
            } catch (err) {
              fail(id, err);
            }
          }
        }
      }
    }
    for (const pipelining of config.pipeliningModes) {
      for (const id of config.systems) {
        const label = HTTP_SYSTEMS[id]!.label;
        for (const route of HTTP_ROUTES) {
          const measured = results.get(`${id} ${route.id} ${pipelining}`) ?? [];
          const error = failed.get(id);
          if (error || measured.length === 0) {
            rows.push({
              system: id,
              label,
              route: route.id,
              pipelining,
              reqPerSec: 0,
              reqPerCpuSec: 0,
              ratioToNodeHttp: null,
              efficiencyToNodeHttp: null,
              paired: {},
              serverCpuPct: 0,
              loadCpuPct: 0,
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
            pipelining,
            reqPerSec: best.reqPerSec,
            reqPerCpuSec: Math.round(quartiles(measured.map((m) => m.reqPerCpuSec)).median),
            ratioToNodeHttp: null,
            efficiencyToNodeHttp: null,
            paired: {},
            serverCpuPct: best.serverCpuPct,
            loadCpuPct: Math.round(quartiles(measured.map((m) => m.loadCpuPct)).median * 10) / 10,
            latencyP50Ms: best.latencyP50Ms,
            latencyP99Ms: best.latencyP99Ms,
            rounds: measured.map(({ failures: _failures, ...round }) => round),
            failures: measured.reduce((sum, m) => sum + m.failures, 0),
          });
        }
      }
    }
  } finally {
    await load.stop();
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
  compareRows(rows);
  return {
    connections: config.connections,
    pipelining: config.pipeliningModes,
    warmupSec: config.warmupSec,
    durationSec: config.pairedRoundSec,
    rounds: config.pairedRounds,
    rows,
  };
}

/**
 * Fill in each row's comparisons with the reference servers on the same route and depth:
 * req/s against node:http's best, and per-CPU-second ratios paired round by round.
 * A reference that failed (an error, or any failed response) is no reference.
 * @example compareRows(rows); rows[1].paired["node-http"]?.median
 */
export function compareRows(rows: HttpRow[]): void {
  for (const row of rows) {
    if (row.error) continue;
    for (const reference of HTTP_REFERENCES) {
      if (reference === row.system) continue;
      const other = rows.find((r) => r.system === reference && r.route === row.route && r.pipelining === row.pipelining && !r.error && r.failures === 0);
      if (!other) continue;
      const stats = pairedRatio(row.rounds, other.rounds);
      if (stats) row.paired[reference] = stats;
    }
    const ceiling = rows.find((r) => r.system === "node-http" && r.route === row.route && r.pipelining === row.pipelining && !r.error);
    if (!ceiling) continue;
    if (ceiling.reqPerSec > 0) row.ratioToNodeHttp = round(row.reqPerSec / ceiling.reqPerSec, 3);
    row.efficiencyToNodeHttp = row.system === "node-http" ? 1 : (row.paired["node-http"]?.median ?? null);
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
