/**
 * The markdown report: machine, targets, then one table per section. It is
 * printed at the end of a run and written to results/latest.md.
 */
import type { BenchResult } from "./harness.js";
import { HTTP_ROUTES, HTTP_SYSTEMS, LOAD_CPU_LIMIT, type RatioStats } from "./http/section.js";
import { LOAD_CPU_LIMIT_PCT, type LoadCpu } from "./sse/load-pool.js";
import { SSE_FLOOR, SSE_NODE_HTTP, type SseRow } from "./sse/section.js";

/**
 * A count with thousands separators.
 * @example thousands(12345.6) // "12,346"
 */
export const thousands = (value: number) => Math.round(value).toLocaleString("en-US");
const ratio = (value: number | null) => (value === null ? "-" : `${value.toFixed(2)}x`);
/**
 * Milliseconds with one decimal.
 * @example ms(3.14159) // "3.1"
 */
export const ms = (value: number) => value.toFixed(1);

/**
 * A markdown table.
 * @param header - Column headings.
 * @param rows - Cells, one array per row.
 * @example table(["System", "req/s"], [["node:http", "66,000"]])
 */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * A byte count, in KB from 1 KB.
 * @example bytes(1024) // "1.0 KB"
 */
export function bytes(value: number): string {
  return Math.abs(value) >= 1024 ? `${(value / 1024).toFixed(1)} KB` : `${value} B`;
}

function deliveredCell(row: SseRow): string {
  if (row.status === "skipped") return "skipped";
  const percent = `${(row.deliveredRatio * 100).toFixed(row.deliveredRatio >= 1 ? 0 : 1)}%`;
  return row.status === "ok" ? percent : `**FAIL** ${percent}`;
}

function machineSection(result: BenchResult): string {
  const m = result.machine;
  const pinning = "server" in m.pinning ? `server on core ${m.pinning.server}, load generators on core ${m.pinning.load} (taskset)` : m.pinning.skipped;
  return table(
    ["Machine", ""],
    [
      ["CPU", `${m.cpuModel}, ${m.cores} cores`],
      ["Node", m.node],
      ["OS", `${m.platform}, kernel ${m.kernel}`],
      ["Date", m.date],
      ["Profile", `${result.profile} (${result.durationSec} s)`],
      ["Pinning", pinning],
    ],
  );
}

const NOISY = 0.1;
const percent = (share: number) => `${Math.round(share * 100)}%`;
/** One note line per system with loads matching `when`: `- <label>: <what> at <load>; <load>`. */
function linePerSystem(rows: SseRow[], when: (row: SseRow) => boolean, load: (row: SseRow) => string, what: string): string[] {
  const bySystem = new Map<string, string[]>();
  for (const row of rows) if (when(row)) (bySystem.get(row.label) ?? bySystem.set(row.label, []).get(row.label)!).push(load(row));
  return [...bySystem].map(([label, loads]) => `- ${label}: ${what} at ${loads.join("; ")}`);
}

/**
 * The load generator's CPU in one cell: all processes together, the busiest
 * one and how many, in bold with a mark when over the limit.
 * @example loadCpuCell({ sumPct: 85, maxPct: 45, processes: 2, cores: 1, over: true }) // "**85% / 45% (2) >70%**"
 */
export function loadCpuCell(cpu: LoadCpu): string {
  const text = `${Math.round(cpu.sumPct)}% / ${Math.round(cpu.maxPct)}% (${cpu.processes})`;
  return cpu.over ? `**${text} >${LOAD_CPU_LIMIT_PCT}%**` : text;
}

/**
 * One line on how much of the machine other processes used during the measured windows (empty without /proc).
 * @param shares - Per window, the share (0..1) other processes used, or null when unknown.
 * @param unit - What a window is called, e.g. `"load"`.
 * @example interferenceLine([0.02, 0.3], "load") // "**Shared machine**: ..."
 */
export function interferenceLine(shares: Array<number | null>, unit: string): string {
  const known = shares.filter((share): share is number => share !== null);
  if (known.length === 0) return "";
  const worst = Math.max(...known);
  const noisy = known.filter((share) => share > NOISY).length;
  if (noisy === 0) return `Other processes used at most ${percent(worst)} of the machine during any ${unit}.`;
  return `**Shared machine**: other processes used more than ${percent(NOISY)} of the machine during ${noisy} of ${known.length} ${unit}s (worst ${percent(worst)}); those figures are low and noisy, rerun on a quiet machine before drawing conclusions.`;
}

/** A paired ratio as `median (q1-q3)`, or "-" when the run has no such pair. */
function pairedCell(stats: RatioStats | undefined): string {
  return stats === undefined ? "-" : `${stats.median.toFixed(2)}x (${stats.q1.toFixed(2)}-${stats.q3.toFixed(2)})`;
}

function httpSection(result: BenchResult): string {
  const http = result.http!;
  const systems = [...new Set(http.rows.map((r) => r.system))];
  const parts = [
    `autocannon -c ${http.connections} at each pipelining depth (${http.pipelining.map((p) => `-p ${p}`).join(", ")}); per server, route and depth a ${http.warmupSec} s warm-up, then ${http.rounds} paired round(s) of ${http.durationSec} s: each round measures every server once, back to back, in an order that alternates from round to round. Ratios are taken round by round against the server measured in the same round, and given as the median with the interquartile range in brackets. Every response is checked against the expected body.`,
    "",
  ];
  const saturated: string[] = [];
  for (const pipelining of http.pipelining) {
    const rows = systems.map((system) => {
      const cells = [http.rows.find((r) => r.system === system)?.label ?? HTTP_SYSTEMS[system]?.label ?? system];
      for (const route of HTTP_ROUTES) {
        const row = http.rows.find((r) => r.system === system && r.route === route.id && r.pipelining === pipelining);
        if (!row || row.error) cells.push(`**FAIL**${row?.error ? ` ${row.error}` : ""}`, "-", "-", "-", "-", "-", "-");
        else {
          if (row.loadCpuPct > LOAD_CPU_LIMIT) saturated.push(`${row.label}, ${route.label}, -p ${pipelining}: load generator at ${row.loadCpuPct}% of its core`);
          cells.push(
            `${thousands(row.reqPerSec)}${row.failures ? ` (**${row.failures} failures**)` : ""}`,
            `${Math.round(row.serverCpuPct)}%`,
            `${row.loadCpuPct}%${row.loadCpuPct > LOAD_CPU_LIMIT ? " (!)" : ""}`,
            system === "node-http" ? "1.00x" : pairedCell(row.paired["node-http"]),
            pairedCell(row.paired.fastify),
            pairedCell(row.paired.hono),
            `${row.latencyP99Ms}`,
          );
        }
      }
      return cells;
    });
    const header = ["Server"];
    for (const route of HTTP_ROUTES) header.push(`${route.label} req/s`, "server CPU", "load CPU", "per CPU-s x node:http", "x Fastify", "x Hono", "p99 ms");
    parts.push(`### -p ${pipelining}`, "", table(header, rows), "", "");
  }
  parts.push(
    `"req/s" is the best round's; "server CPU" is the server's share of its core in that round: well under 100% means the load generator (one autocannon process on one core), not the server, set the pace, and req/s ratios understate the differences. "load CPU" is the load generator's median share of its core; above ${LOAD_CPU_LIMIT}% it is marked (!).`,
    `"per CPU-s" compares requests per second of server CPU (the inverse of what a request costs), round by round; it shows a framework's overhead even when req/s is capped by the load generator, and the HTTP targets are judged on its median.`,
  );
  if (saturated.length > 0) parts.push("", ...saturated.map((line) => `- ${line}`), "");
  parts.push(interferenceLine(http.rows.flatMap((r) => r.rounds.map((round) => round.otherLoad)), "measured round"));
  return parts.join("\n");
}

function sseSection(result: BenchResult): string {
  const sse = result.sse!;
  const processes = Object.entries(sse.loadProcesses ?? {}).map(([clients, count]) => `${thousands(Number(clients))} clients: ${count}`);
  const parts = [
    `A publisher inside the server sends ticks of ${sse.tickEvents} events (so 100 events/s is a tick every 100 ms, 1000 events/s every 10 ms) for ${sse.publishMs / 1000} s per load;`,
    `the clients are raw \`net\` sockets that write the GET and read only the status line, the chunk framing and frame terminators, held by one or more load processes (${processes.join(", ") || "-"}) on their own source addresses; 1 in ${sse.latencyEvery} also reads each event's publish time (wall clock, both processes).`,
    `"delivered" is events received over events published x clients (anything under 100% is a FAIL); delivered/s runs from the first publish to the last frame.`,
    `"per CPU-s" is delivered/s divided by the server's CPU share, and "x floor" compares it with the raw \`net\` floor (one pre-framed chunk written per socket per tick) on the same load: no Node server can do better than about 1.00x.`,
    `"send p99 ms" is the server's own share of the latency: per tick, the time from the publish until the server's event loop had come round twice (so a flush deferred with setImmediate is included), p99 over the ticks.`,
    `"load CPU" is the load generator's: all processes together / the busiest one (processes), % of one core. Marked **>${LOAD_CPU_LIMIT_PCT}%** when one process, or the processes together on their cores, exceeded ${LOAD_CPU_LIMIT_PCT}% of a core: that row's latency and delivered/s may measure the load generator, not the server.`,
    "",
    interferenceLine(sse.rows.map((r) => r.otherLoad), "load"),
  ];
  for (const clients of [...new Set(sse.rows.map((r) => r.clients))]) {
    const rows = sse.rows
      .filter((r) => r.clients === clients)
      .sort((a, b) => a.rate - b.rate || a.size - b.size)
      .map((r) => [
        `${r.rate}/s x ${bytes(r.size)}`,
        r.label,
        r.status === "skipped" ? "-" : thousands(r.deliveredPerSec),
        deliveredCell(r),
        r.status === "skipped" ? "-" : ms(r.latency.p50),
        r.status === "skipped" ? "-" : ms(r.latency.p99),
        r.status === "skipped" ? "-" : ms(r.latency.max),
        r.status === "skipped" ? "-" : ms(r.sendP99Ms),
        r.status === "skipped" ? "-" : `${r.serverCpuPct}%`,
        r.status === "skipped" ? "-" : loadCpuCell(r.loadCpu),
        r.status === "ok" ? thousands(r.deliveriesPerCpuSec) : "-",
        r.system === SSE_FLOOR && r.status === "ok" ? "1.00x" : ratio(r.efficiencyToFloor),
      ]);
    parts.push(
      "",
      `### ${thousands(clients)} clients`,
      "",
      table(["Load", "System", "delivered/s", "delivered", "p50 ms", "p99 ms", "max ms", "send p99 ms", "server CPU", "load CPU", "per CPU-s", "x floor"], rows),
    );
    const notes = sse.rows.filter((r) => r.clients === clients && r.note && r.status !== "skipped").map((r) => `- ${r.label}, ${r.rate}/s x ${bytes(r.size)}: ${r.note}`);
    // Skipped ticks: the server could not keep the offered rate, so it published less (one line per system).
    const atN = sse.rows.filter((r) => r.clients === clients);
    const skipped = linePerSystem(atN, (r) => r.skippedTicks > 0, (r) => `${r.rate}/s x ${bytes(r.size)}: ${r.skippedTicks}`, "ticks skipped (saturated, published below the offered rate)");
    const loadBound = linePerSystem(
      atN,
      (r) => r.status !== "skipped" && r.loadCpu.over,
      (r) => `${r.rate}/s x ${bytes(r.size)}`,
      `load generator over ${LOAD_CPU_LIMIT_PCT}% of a core (latency and delivered/s there are partly the load generator's)`,
    );
    if (notes.length + skipped.length + loadBound.length > 0) parts.push("", ...notes, ...skipped, ...loadBound);
  }
  const latency = latencySection(sse.rows);
  if (latency) parts.push("", latency);
  return parts.join("\n");
}

/** Publish-to-receive at N=1000 and 1000 events/s, every system next to the floor's p99 from the same run. */
function latencySection(rows: SseRow[]): string {
  const atLoad = rows.filter((r) => r.clients === 1000 && r.rate === 1000 && r.status === "ok" && r.latency.count > 0);
  if (atLoad.length === 0) return "";
  const lines = atLoad
    .sort((a, b) => a.size - b.size || (a.system === SSE_FLOOR ? -1 : b.system === SSE_FLOOR ? 1 : 0))
    .map((r) => {
      const floor = atLoad.find((f) => f.system === SSE_FLOOR && f.size === r.size);
      return [
        `${bytes(r.size)}`,
        r.label,
        ms(r.latency.p50),
        ms(r.latency.p99),
        floor ? `${(r.latency.p99 / floor.latency.p99).toFixed(2)}x` : "-",
        ms(r.sendP99Ms),
        `${thousands(r.latency.count)}`,
        loadCpuCell(r.loadCpu),
      ];
    });
  return [
    "### Latency: 1,000 clients, 1000 events/s",
    "",
    "p99 publish-to-receive of each system next to the raw `net` floor's on the same load in the same run; the floor is what this machine allows (about N socket writes per tick), so the target is a ratio to it.",
    "",
    table(["Event size", "System", "p50 ms", "p99 ms", "p99 x floor", "send p99 ms", "samples", "load CPU"], lines),
  ].join("\n");
}

function memorySection(result: BenchResult): string {
  const memory = result.sse!.memory;
  const largest = Math.max(...memory.map((m) => m.clients));
  const rows = memory
    .filter((m) => m.clients === largest)
    .map((m) => [m.label, bytes(m.heapPerConnection), m.system === SSE_NODE_HTTP ? "1.00x" : ratio(m.heapRatioToRaw), bytes(m.rssPerConnection), m.system === SSE_NODE_HTTP ? "1.00x" : ratio(m.rssRatioToRaw)]);
  return [
    `${thousands(largest)} idle connections; server run with --expose-gc, readings after global.gc(), before and after connecting, divided by the count. Both node:http servers hold the same per-connection state; "x node:http" uses the coalesced one.`,
    "",
    table(["System", "JS heap / connection", "x node:http", "RSS / connection", "x node:http"], rows),
  ].join("\n");
}

/**
 * Render a run as markdown.
 * @param result - A finished run.
 * @example writeFileSync("results/latest.md", renderMarkdown(result));
 */
export function renderMarkdown(result: BenchResult): string {
  const parts = ["# Cello.ts benchmarks", "", machineSection(result), ""];
  if (result.targets.length > 0) {
    parts.push(
      "## Targets",
      "",
      table(
        ["Target", "Measured", "Result"],
        result.targets.map((t) => [t.target, t.measured, t.pass === null ? "n/a" : t.pass ? "pass" : "**MISS**"]),
      ),
      "",
    );
  }
  if (result.http) parts.push("## HTTP", "", httpSection(result), "");
  if (result.sse) {
    parts.push("## SSE fan-out", "", sseSection(result), "");
    if (result.sse.memory.length > 0) parts.push("## Memory per idle SSE connection", "", memorySection(result), "");
  }
  for (const section of Object.values(result.extra)) parts.push(`## ${section.title}`, "", section.markdown, "");
  if (result.notes.length > 0) parts.push("## Notes", "", ...result.notes.map((note) => `- ${note}`), "");
  parts.push("Absolute figures drift between runs and machines; compare ratios within one run.", "");
  return parts.join("\n");
}
