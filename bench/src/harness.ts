/**
 * The harness: runs the sections of a profile, writes `latest.json` and
 * `latest.md`, and returns both. `run.ts` is its command line; the smoke test
 * calls it directly with a tiny profile.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchConfig } from "./config.js";
import type { RunContext } from "./context.js";
import { runHttpSection, type HttpSectionResult } from "./http/section.js";
import { describeMachine, type MachineInfo } from "./machine.js";
import { renderMarkdown } from "./report.js";
import { runSseSection, type SseSectionResult } from "./sse/section.js";
import { checkTargets, type TargetCheck } from "./targets.js";

/**
 * A section added from outside the built-in ones (e.g. the Redis fan-out
 * section, redis/section.ts). It gets the same pinning and limits, and
 * renders its own markdown.
 */
export interface ExtraSection {
  /** Key in the result JSON, e.g. `"redis"`. */
  id: string;
  /** Heading in the markdown. */
  title: string;
  /** The most sockets one of its child processes holds in `config`: the open-file limit is raised to fit, as for the SSE section. */
  connections?(config: BenchConfig): number;
  /** Measure; the value is stored under `extra[id]` in the JSON. */
  run(context: RunContext, config: BenchConfig): Promise<unknown>;
  /** The section's markdown body (tables, notes) for its stored result. */
  render(result: unknown): string;
}

/** Everything one run produced (the shape of `latest.json`). */
export interface BenchResult {
  schema: 1;
  profile: string;
  machine: MachineInfo;
  /** Wall-clock duration of the whole run. */
  durationSec: number;
  config: BenchConfig;
  http: HttpSectionResult | null;
  sse: SseSectionResult | null;
  extra: Record<string, { title: string; result: unknown; markdown: string }>;
  targets: TargetCheck[];
  notes: string[];
}

/** Options of {@link runBench}. */
export interface RunOptions {
  config: BenchConfig;
  /** Where `latest.json` and `latest.md` go. Default: nothing is written. */
  outDir?: string;
  /** Sections to run: `http`, `sse`, and extra ids. Default: all. */
  sections?: string[];
  /** Sections beyond HTTP and SSE (see {@link ExtraSection}). */
  extraSections?: ExtraSection[];
  /** Systems to run with `--cpu-prof`, writing `.cpuprofile` files into `profileDir`. */
  profileSystems?: string[];
  profileDir?: string;
  /** Progress output. Default: stderr. */
  log?: (line: string) => void;
}

/**
 * Run a benchmark profile.
 *
 * @param options - See {@link RunOptions}.
 * @returns The result and its markdown.
 * @example
 * import { QUICK } from "./config.js";
 * const { markdown } = await runBench({ config: QUICK, outDir: "results" });
 */
export async function runBench(options: RunOptions): Promise<{ result: BenchResult; markdown: string }> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`[${String(Math.round((Date.now() - started) / 1000)).padStart(3)} s] ${line}\n`));
  const machine = describeMachine();
  const wanted = (id: string) => !options.sections || options.sections.includes(id);
  const notes: string[] = [];
  const pinned = "server" in machine.pinning;
  if (!pinned) notes.push(`CPU pinning skipped: ${(machine.pinning as { skipped: string }).skipped}.`);
  const extraSections = (options.extraSections ?? []).filter((section) => wanted(section.id));
  const largest = Math.max(
    0,
    ...(wanted("sse") ? options.config.sse.clients : []),
    ...extraSections.map((section) => section.connections?.(options.config) ?? 0),
  );
  // Each SSE child holds one descriptor per client, plus a few hundred for node itself.
  const fdNeeded = largest + 1024;
  let fdLimit: number | undefined;
  if (largest > 0 && machine.fdLimit.soft < fdNeeded) {
    fdLimit = Math.min(machine.fdLimit.hard, Math.max(fdNeeded, machine.fdLimit.soft));
    if (fdLimit < fdNeeded) notes.push(`Open-file limit: ${largest} clients need about ${fdNeeded} descriptors per process but the hard limit is ${machine.fdLimit.hard}; raise it (ulimit -Hn) or expect connection failures.`);
  }
  const profileDir = options.profileDir ?? "profiles";
  const context: RunContext = {
    serverCore: pinned ? (machine.pinning as { server: number }).server : undefined,
    loadCore: pinned ? (machine.pinning as { load: number }).load : undefined,
    fdLimit,
    profileSystems: new Set(options.profileSystems ?? []),
    cpuProfFlags: (name) => {
      // One folder per server and no fixed file name: tsx's loader thread writes a
      // profile of its own, which would otherwise overwrite the main thread's.
      // The main thread's is the largest file in the folder.
      const dir = join(profileDir, name);
      mkdirSync(dir, { recursive: true });
      return ["--cpu-prof", "--cpu-prof-dir", dir];
    },
    log,
  };
  log(`bench: profile ${options.config.profile}, ${machine.cores} cores (${machine.cpuModel}), node ${machine.node}${pinned ? ", server on core 0, load on core 1" : ""}`);

  const http = wanted("http") && options.config.http.systems.length > 0 ? await runHttpSection(options.config.http, context) : null;
  const sse = wanted("sse") && options.config.sse.systems.length > 0 ? await runSseSection(options.config.sse, context) : null;
  if (sse) {
    for (const [clients, count] of Object.entries(sse.sourceAddresses)) {
      const processes = sse.loadProcesses[Number(clients)] ?? 1;
      if (count > 1) notes.push(`${clients} SSE clients were held by ${processes} load process${processes > 1 ? "es" : ""} from ${count} source addresses (127.0.0.1-${count}), each process its own, to stay within one address's ephemeral ports.`);
    }
  }
  const extra: BenchResult["extra"] = {};
  for (const section of extraSections) {
    const result = await section.run(context, options.config);
    extra[section.id] = { title: section.title, result, markdown: section.render(result) };
  }

  const result: BenchResult = {
    schema: 1,
    profile: options.config.profile,
    machine,
    durationSec: Math.round((Date.now() - started) / 100) / 10,
    config: options.config,
    http,
    sse,
    extra,
    targets: [],
    notes,
  };
  result.targets = checkTargets(result);
  const markdown = renderMarkdown(result);
  if (options.outDir) {
    mkdirSync(options.outDir, { recursive: true });
    writeFileSync(join(options.outDir, "latest.json"), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(options.outDir, "latest.md"), markdown);
  }
  return { result, markdown };
}
