/**
 * The validation section: what Standard Schema validation costs a hello-world
 * route. The same Cello.ts server (validation/server.ts) runs once per variant
 * (schemas off; schemas on; schemas on with an Authenticated guard and a
 * RoleGuard), on two routes: GET with
 * a query, POST with a JSON body. Rounds go round-robin over the variants with
 * the HTTP section's settings (autocannon, best round counts), and each variant
 * is compared with "off" in requests per second and per CPU-second.
 *
 * The SSE side (every event checked against `schema.events`) is the SSE
 * section's `cello-checked` row, next to `cello`.
 */
import { fileURLToPath } from "node:url";
import type { BenchConfig } from "../config.js";
import type { RunContext } from "../context.js";
import type { ExtraSection } from "../harness.js";
import type { LoadResult, LoadRound } from "../http/load.js";
import { InterferenceMonitor } from "../interference.js";
import { interferenceLine, table, thousands } from "../report.js";
import { Worker } from "../worker.js";
import { BENCH_TOKEN } from "./token.js";

/** One server configuration. Add a variant here to measure it (e.g. guards: `{ id: "on+guards", validation: true, guards: true }`). */
export interface ValidationVariant {
  id: string;
  label: string;
  /** Schemas on the routes (`BENCH_VALIDATION`). */
  validation: boolean;
  /** App-wide guards (`BENCH_GUARDS`): for the guards pass of issue 12. */
  guards: boolean;
}

/** The variants measured, the first being the baseline the others are compared with. */
export const VALIDATION_VARIANTS: ValidationVariant[] = [
  { id: "off", label: "no schemas (parsed by hand)", validation: false, guards: false },
  { id: "on", label: "zod 4 schemas (query, body)", validation: true, guards: false },
  { id: "on+guards", label: "zod 4 schemas + Authenticated and RoleGuard", validation: true, guards: true },
];

/** The two routes and the exact bodies they must answer. */
export const VALIDATION_ROUTES = [
  { id: "get-query", label: "GET /items?page=2&tag=pens", method: "GET", path: "/items?page=2&tag=pens", body: undefined, expect: '{"page":2,"tag":"pens"}' },
  { id: "post-json", label: "POST /items (JSON body)", method: "POST", path: "/items", body: '{"name":"pen","qty":2}', expect: '{"name":"pen","qty":2}' },
] as const;

/** One variant on one route, best of its rounds. */
export interface ValidationRow {
  variant: string;
  label: string;
  route: (typeof VALIDATION_ROUTES)[number]["id"];
  reqPerSec: number;
  reqPerCpuSec: number;
  serverCpuPct: number;
  latencyP99Ms: number;
  /** reqPerSec and reqPerCpuSec over the baseline's on the same route. */
  ratio: number | null;
  efficiency: number | null;
  otherLoad: Array<number | null>;
  failures: number;
  error?: string;
}

/** The section's result. */
export interface ValidationSectionResult {
  connections: number;
  pipelining: number;
  durationSec: number;
  rounds: number;
  rows: ValidationRow[];
}

/** Sent by every variant, so the guarded one differs only by checking it. */
const AUTHORIZATION = { authorization: `Bearer ${BENCH_TOKEN}` };

const SERVER_SCRIPT = fileURLToPath(new URL("./server.ts", import.meta.url));
const LOAD_SCRIPT = fileURLToPath(new URL("../http/load.ts", import.meta.url));

async function checkRoutes(port: number): Promise<void> {
  for (const route of VALIDATION_ROUTES) {
    const response = await fetch(`http://127.0.0.1:${port}${route.path}`, {
      method: route.method,
      body: route.body,
      headers: { ...AUTHORIZATION, ...(route.body === undefined ? {} : { "content-type": "application/json" }) },
    });
    const text = await response.text();
    if (response.status !== 200 || text !== route.expect) throw new Error(`${route.label} answered ${response.status} ${JSON.stringify(text)}; expected 200 ${route.expect}`);
  }
}

/**
 * Run the section.
 * @param config - The run's `http` settings (rounds, duration, connections).
 * @example const result = await runValidationSection(QUICK.http, context);
 */
export async function runValidationSection(config: BenchConfig["http"], context: RunContext): Promise<ValidationSectionResult> {
  const servers = new Map<string, Worker>();
  const failed = new Map<string, string>();
  const fail = (id: string, err: unknown) => {
    const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
    if (!failed.has(id)) context.log(`validation ${id}: FAILED ${message}`);
    failed.set(id, message);
  };
  const measured = new Map<string, Array<{ reqPerSec: number; reqPerCpuSec: number; serverCpuPct: number; latencyP99Ms: number; otherLoad: number | null; failures: number }>>();
  const load = await Worker.start(LOAD_SCRIPT, { label: "validation load", core: context.loadCore });
  try {
    for (const variant of VALIDATION_VARIANTS) {
      try {
        const server = await Worker.start(SERVER_SCRIPT, {
          label: `validation server ${variant.id}`,
          core: context.serverCore,
          env: { BENCH_VALIDATION: variant.validation ? "on" : "off", BENCH_GUARDS: variant.guards ? "on" : "off" },
        });
        servers.set(variant.id, server);
        await checkRoutes(server.info.port as number);
      } catch (err) {
        fail(variant.id, err);
      }
    }
    const run = (id: string, route: (typeof VALIDATION_ROUTES)[number], durationSec: number): Promise<LoadResult> => {
      const request: LoadRound = {
        url: `http://127.0.0.1:${servers.get(id)!.info.port as number}${route.path}`,
        connections: config.connections,
        pipelining: config.pipelining,
        expectBody: route.expect,
        durationSec,
        method: route.method,
        headers: { ...AUTHORIZATION, ...(route.body === undefined ? {} : { "content-type": "application/json" }) },
        ...(route.body === undefined ? {} : { body: route.body }),
      };
      return load.request<LoadResult>("run", { ...request }, (durationSec + 30) * 1000);
    };
    for (const route of VALIDATION_ROUTES) {
      if (config.warmupSec > 0) {
        for (const variant of VALIDATION_VARIANTS) {
          if (!failed.has(variant.id)) await run(variant.id, route, config.warmupSec).catch((err: unknown) => fail(variant.id, err));
        }
      }
      for (let r = 0; r < config.rounds; r++) {
        for (const variant of VALIDATION_VARIANTS) {
          if (failed.has(variant.id)) continue;
          try {
            const server = servers.get(variant.id)!;
            const monitor = InterferenceMonitor.start([server.pid, load.pid]);
            const cpuBefore = await server.request<number>("cpu");
            const startedAt = performance.now();
            const result = await run(variant.id, route, config.durationSec);
            const cpuUs = (await server.request<number>("cpu")) - cpuBefore;
            const serverCpuPct = Math.round((cpuUs / 1000 / (performance.now() - startedAt)) * 1000) / 10;
            const row = {
              reqPerSec: Math.round(result.reqPerSec),
              serverCpuPct,
              reqPerCpuSec: serverCpuPct > 0 ? Math.round(result.reqPerSec / (serverCpuPct / 100)) : 0,
              latencyP99Ms: result.latencyP99Ms,
              otherLoad: monitor.stop(),
              failures: result.errors + result.timeouts + result.non2xx + result.mismatches,
            };
            const key = `${variant.id} ${route.id}`;
            measured.set(key, [...(measured.get(key) ?? []), row]);
            context.log(`validation ${variant.id} ${route.id} round ${r + 1}: ${row.reqPerSec} req/s, server CPU ${serverCpuPct}%${row.failures ? `, ${row.failures} failures` : ""}`);
          } catch (err) {
            fail(variant.id, err);
          }
        }
      }
    }
  } finally {
    await load.stop();
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
  const rows: ValidationRow[] = [];
  for (const route of VALIDATION_ROUTES) {
    for (const variant of VALIDATION_VARIANTS) {
      const rounds = measured.get(`${variant.id} ${route.id}`) ?? [];
      const error = failed.get(variant.id) ?? (rounds.length === 0 ? "not measured" : undefined);
      const best = rounds.reduce<(typeof rounds)[number] | undefined>((a, b) => (a === undefined || b.reqPerSec > a.reqPerSec ? b : a), undefined);
      rows.push({
        variant: variant.id,
        label: variant.label,
        route: route.id,
        reqPerSec: best?.reqPerSec ?? 0,
        reqPerCpuSec: Math.max(0, ...rounds.map((m) => m.reqPerCpuSec)),
        serverCpuPct: best?.serverCpuPct ?? 0,
        latencyP99Ms: best?.latencyP99Ms ?? 0,
        ratio: null,
        efficiency: null,
        otherLoad: rounds.map((m) => m.otherLoad),
        failures: rounds.reduce((sum, m) => sum + m.failures, 0) + (error ? 1 : 0),
        ...(error ? { error } : {}),
      });
    }
  }
  const baseline = VALIDATION_VARIANTS[0]!.id;
  for (const row of rows) {
    const base = rows.find((other) => other.variant === baseline && other.route === row.route && !other.error);
    if (!base || row.error) continue;
    if (base.reqPerSec > 0) row.ratio = Math.round((row.reqPerSec / base.reqPerSec) * 1000) / 1000;
    if (base.reqPerCpuSec > 0) row.efficiency = Math.round((row.reqPerCpuSec / base.reqPerCpuSec) * 1000) / 1000;
  }
  return { connections: config.connections, pipelining: config.pipelining, durationSec: config.durationSec, rounds: config.rounds, rows };
}

/**
 * The section's markdown.
 * @example renderValidationSection(await runValidationSection(QUICK.http, context))
 */
export function renderValidationSection(result: ValidationSectionResult): string {
  const x = (value: number | null) => (value === null ? "-" : `${value.toFixed(2)}x`);
  const rows = result.rows.map((row) => {
    const route = VALIDATION_ROUTES.find((r) => r.id === row.route)!.label;
    if (row.error) return [route, row.label, `**FAIL** ${row.error}`, "-", "-", "-", "-", "-"];
    return [
      route,
      row.label,
      thousands(row.reqPerSec),
      `${row.serverCpuPct}%`,
      thousands(row.reqPerCpuSec),
      row.latencyP99Ms.toFixed(1),
      x(row.ratio),
      `${x(row.efficiency)}${row.failures ? ` (**${row.failures} failures**)` : ""}`,
    ];
  });
  return [
    `The same Cello.ts server with and without Standard Schema validation (zod 4): \`GET\` with a query (\`page\` coerced to a number) and \`POST\` with a JSON body. Without schemas the handler parses the same by hand (\`Number(req.query.page)\`, \`req.json()\`), so the difference is what the schemas cost. autocannon \`-c ${result.connections} -p ${result.pipelining}\`, best of ${result.rounds} rounds of ${result.durationSec} s, round-robin over the variants. "x off" compares with the first row of each route; the SSE side is the SSE section's "events checked" row next to Cello.ts (channel.publish).`,
    "",
    interferenceLine(result.rows.flatMap((row) => row.otherLoad), "round"),
    "",
    table(["Route", "Variant", "req/s", "server CPU", "req per CPU-s", "p99 ms", "req/s x off", "per CPU-s x off"], rows),
  ].join("\n");
}

/**
 * The validation section as the runner's {@link ExtraSection} (id `validation`).
 * @example await runBench({ config: QUICK, extraSections: [VALIDATION_SECTION] });
 */
export const VALIDATION_SECTION: ExtraSection = {
  id: "validation",
  title: "Validation: hello-world with and without schemas",
  run: (context, config) => runValidationSection(config.http, context),
  render: (result) => renderValidationSection(result as ValidationSectionResult),
};
