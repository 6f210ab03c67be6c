/**
 * `tsx src/profile-summary.ts <file.cpuprofile> [top]`: the hottest functions
 * of a V8 CPU profile (as written by `--cpu-prof`, e.g. `pnpm bench --cpu-prof=cello`)
 * by self time and by inclusive time, and the self time per source file.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One function's share of a profile. */
export interface HotSpot {
  name: string;
  where: string;
  selfPct: number;
  totalPct: number;
}

function shortUrl(url: string): string {
  if (!url) return "(native)";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const core = path.indexOf("packages/core/");
  if (core !== -1) return path.slice(core);
  const modules = path.lastIndexOf("node_modules/");
  if (modules !== -1) return path.slice(modules + "node_modules/".length);
  return path.replace(/^.*\/bench\//, "bench/");
}

/**
 * Summarize a CPU profile.
 * @param profile - A parsed `.cpuprofile`.
 * @returns Functions sorted by self time, and self time per file (percent of all samples).
 * @example summarizeProfile(JSON.parse(readFileSync("cello.cpuprofile", "utf8"))).functions.slice(0, 10)
 */
export function summarizeProfile(profile: Profile): { functions: HotSpot[]; files: Array<{ file: string; selfPct: number }> } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfTime = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    selfTime.set(id, (selfTime.get(id) ?? 0) + delta);
    total += delta;
  });
  const key = (node: ProfileNode) => `${node.callFrame.functionName || "(anonymous)"}\u0000${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, time] of selfTime) {
    const node = byId.get(id)!;
    self.set(key(node), (self.get(key(node)) ?? 0) + time);
    // Inclusive: count each function once per sample, however deep its recursion.
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const k = key(byId.get(current)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + time);
    }
  }
  const pct = (time: number) => Math.round((time / Math.max(1, total)) * 1000) / 10;
  const functions = [...self.entries()]
    .map(([k, time]) => {
      const [name, where] = k.split("\u0000") as [string, string];
      return { name, where, selfPct: pct(time), totalPct: pct(inclusive.get(k) ?? time) };
    })
    .sort((a, b) => b.selfPct - a.selfPct);
  const files = new Map<string, number>();
  for (const [k, time] of self) {
    const file = k.split("\u0000")[1]!.replace(/:\d+$/, "");
    files.set(file, (files.get(file) ?? 0) + time);
  }
  return { functions, files: [...files.entries()].map(([file, time]) => ({ file, selfPct: pct(time) })).sort((a, b) => b.selfPct - a.selfPct) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, topText = "25"] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: tsx src/profile-summary.ts <file.cpuprofile> [top]\n");
    process.exit(2);
  }
  const top = Number(topText);
  const { functions, files } = summarizeProfile(JSON.parse(readFileSync(file, "utf8")) as Profile);
  process.stdout.write(`self%  total%  function  (file:line)\n`);
  for (const spot of functions.slice(0, top)) process.stdout.write(`${spot.selfPct.toFixed(1).padStart(5)}  ${spot.totalPct.toFixed(1).padStart(6)}  ${spot.name}  (${spot.where})\n`);
  process.stdout.write(`\nself% by file\n`);
  for (const entry of files.slice(0, top)) process.stdout.write(`${entry.selfPct.toFixed(1).padStart(5)}  ${entry.file}\n`);
}
