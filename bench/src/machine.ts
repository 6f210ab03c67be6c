/**
 * What the machine offers the benchmark: cores, CPU pinning, file descriptors.
 * Recorded with every result, since figures only compare within one machine.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

/** The machine a run was measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  node: string;
  platform: string;
  kernel: string;
  /** ISO date of the run. */
  date: string;
  /** Cores the server and the load generator were pinned to, or why they were not pinned. */
  pinning: { server: number; load: number } | { skipped: string };
  /** Soft and hard open-file limits the children start with. */
  fdLimit: { soft: number; hard: number };
}

/**
 * Whether `taskset` (util-linux) is on the PATH.
 * @example if (!hasTaskset()) console.log("processes will not be pinned");
 */
export function hasTaskset(): boolean {
  return spawnSync("sh", ["-c", "command -v taskset"], { stdio: "ignore" }).status === 0;
}

/**
 * The shell's soft and hard `ulimit -n` (what children inherit).
 * @example readFdLimit() // { soft: 20000, hard: 20000 }
 */
export function readFdLimit(): { soft: number; hard: number } {
  try {
    const [soft, hard] = execFileSync("sh", ["-c", "ulimit -n; ulimit -Hn"], { encoding: "utf8" }).trim().split("\n");
    const parse = (text: string | undefined) => (text === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(text));
    return { soft: parse(soft), hard: parse(hard) };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/**
 * Describe this machine, and decide the CPU pinning: with two or more cores
 * and taskset, the server gets core 0 and the load generator core 1, so they
 * never compete for one core.
 *
 * @example const machine = describeMachine(); // { cpuModel: "AMD EPYC", cores: 2, ... }
 */
export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length;
  let pinning: MachineInfo["pinning"];
  if (cores < 2) pinning = { skipped: `only ${cores} core: server and load generator share it` };
  else if (!hasTaskset()) pinning = { skipped: "taskset not found (install util-linux): processes are not pinned" };
  else pinning = { server: 0, load: 1 };
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    date: new Date().toISOString(),
    pinning,
    fdLimit: readFdLimit(),
  };
}

/**
 * How many ephemeral ports one source address has (Linux: ip_local_port_range); 28 232 if unknown.
 * @example ephemeralPortCount() // 28232 for the default 32768-60999
 */
export function ephemeralPortCount(): number {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && high! > low!) return high! - low! + 1;
  } catch {
    // not Linux: fall through
  }
  return 28_232;
}
