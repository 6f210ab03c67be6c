/**
 * How much of the machine other processes used while a round ran. On a shared
 * machine (CI runners, a workstation building something) a round can lose a
 * large share of its cores to strangers; recording that share per round says
 * which figures to trust. Linux only (/proc); elsewhere readings are null.
 */
import { readFileSync } from "node:fs";

interface Sample {
  busy: number;
  total: number;
  ours: number;
}

function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    // cpu  user nice system idle iowait irq softirq steal ...
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    // irq and softirq are left out of "busy": loopback networking is charged there, not to the processes that caused it.
    const busy = user! + nice! + system! + steal!;
    return { busy, total: busy + idle! + iowait! + irq! + softirq! };
  } catch {
    return null;
  }
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at index 2 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime, stime
  } catch {
    return 0; // exited: its ticks are lost, which overstates strangers slightly
  }
}

/**
 * Measures the share of the machine's CPU used by processes other than ours
 * between `start()` and `stop()`.
 *
 * @example
 * const monitor = InterferenceMonitor.start([server.pid, load.pid]);
 * await runRound();
 * const share = monitor.stop(); // e.g. 0.07: strangers used 7% of all cores
 */
export class InterferenceMonitor {
  readonly #pids: number[];
  readonly #start: Sample | null;

  private constructor(pids: number[]) {
    this.#pids = [process.pid, ...pids];
    this.#start = this.#sample();
  }

  /** Start measuring; `pids` are our processes (the runner is added). */
  static start(pids: number[]): InterferenceMonitor {
    return new InterferenceMonitor(pids);
  }

  #sample(): Sample | null {
    const machine = machineTicks();
    if (!machine) return null;
    let ours = 0;
    for (const pid of this.#pids) ours += processTicks(pid);
    return { ...machine, ours };
  }

  /** The share (0..1) of all cores other processes used since `start()`; null where /proc is missing. */
  stop(): number | null {
    const end = this.#sample();
    if (!this.#start || !end) return null;
    const total = end.total - this.#start.total;
    if (total <= 0) return null;
    const foreign = end.busy - this.#start.busy - (end.ours - this.#start.ours);
    return Math.round(Math.max(0, foreign / total) * 1000) / 1000;
  }
}
